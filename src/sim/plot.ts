// A run's plot as one self-contained SVG (no scripts, fonts or anything fetched): one panel per
// guest, in the manner of the paper's figures 7-15, with time on x and MiB on y: the allocation
// the guest actually holds, the target the supervisor last wrote, the working set its workload
// touches (shaded) and its Committed_AS; Dom0 in a last panel.
import type { TickRecord } from './runner.ts';
import { MIB } from '../vocabulary/units.ts';

const WIDTH = 960;
const PANEL_H = 190;
const MARGIN = { left: 64, right: 24, top: 28, bottom: 34 };
const HEADER_H = 64;
/** More points than this per series are thinned (every k-th tick, the last one kept). */
const MAX_POINTS = 1500;

const COLORS = { alloc: '#1f5fbf', target: '#e07b00', ws: '#b9b9b9', committed: '#2e8b57' };

export interface PlotSeries {
  id: string;
  /** Panel title (guest id and workload, runtime). */
  title: string;
  /** Per point: seconds, then MiB values (null: no value at this point). */
  t: number[];
  alloc: (number | null)[];
  target: (number | null)[];
  ws: (number | null)[];
  committed: (number | null)[];
}

export interface PlotInput {
  title: string;
  subtitle: string;
  panels: PlotSeries[];
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const f1 = (x: number): string => (Math.round(x * 10) / 10).toString();

/** A 1-2-5 step giving about `n` intervals over `range`. */
export function niceStep(range: number, n: number): number {
  if (!(range > 0)) return 1;
  const raw = range / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

/** Turns a run's trace into panels: one per guest that ever appeared, then Dom0. */
export function panelsFromTrace(trace: readonly TickRecord[], titles: ReadonlyMap<string, string> = new Map()): PlotSeries[] {
  const stride = Math.max(1, Math.ceil(trace.length / MAX_POINTS));
  const picked = trace.filter((_, i) => i % stride === 0 || i === trace.length - 1);
  const ids: string[] = [];
  for (const r of trace) for (const g of r.guests) if (!ids.includes(g.id)) ids.push(g.id);
  const mib = (k: number | null | undefined): number | null => (k === null || k === undefined ? null : k / MIB);
  const t = picked.map((r) => r.at / 1000);
  const panels: PlotSeries[] = ids.map((id) => {
    const gs = picked.map((r) => r.guests.find((g) => g.id === id));
    return {
      id,
      title: titles.get(id) ?? id,
      t,
      alloc: gs.map((g) => mib(g?.actualKiB)),
      target: gs.map((g) => mib(g?.targetKiB)),
      ws: gs.map((g) => (g === undefined || g.done ? null : mib(g.workingSetKiB))),
      committed: gs.map((g) => (g === undefined || g.done ? null : mib(g.committedKiB))),
    };
  });
  panels.push({
    id: 'dom0',
    title: titles.get('dom0') ?? 'Dom0',
    t,
    alloc: picked.map((r) => mib(r.dom0.actualKiB)),
    target: picked.map((r) => mib(r.dom0.targetKiB)),
    ws: picked.map(() => null),
    committed: picked.map((r) => mib(r.dom0.committedKiB)),
  });
  return panels;
}

/** Polyline segments (a null breaks the line); `step`: hold each value until the next point. */
function paths(xs: number[], ys: (number | null)[], step: boolean): string {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < xs.length; i++) {
    const y = ys[i];
    const x = xs[i]!;
    if (y === null || y === undefined) {
      if (cur) out.push(cur);
      cur = '';
      continue;
    }
    if (!cur) cur = `M${f1(x)},${f1(y)}`;
    else if (step) cur += ` H${f1(x)} V${f1(y)}`;
    else cur += ` L${f1(x)},${f1(y)}`;
  }
  if (cur) out.push(cur);
  return out.join(' ');
}

/** Shaded step areas under `ys` down to `base` (one polygon per run of values). */
function areas(xs: number[], ys: (number | null)[], base: number): string {
  const out: string[] = [];
  let pts: string[] = [];
  let firstX = 0;
  let lastX = 0;
  const close = (): void => {
    if (pts.length > 0) out.push(`M${f1(firstX)},${f1(base)} ${pts.join(' ')} L${f1(lastX)},${f1(base)} Z`);
    pts = [];
  };
  for (let i = 0; i < xs.length; i++) {
    const y = ys[i];
    const x = xs[i]!;
    if (y === null || y === undefined) {
      close();
      continue;
    }
    if (pts.length === 0) firstX = x;
    else pts.push(`L${f1(x)},${f1(ys[i - 1] ?? y)}`);
    pts.push(`L${f1(x)},${f1(y)}`);
    lastX = x;
  }
  close();
  return out.join(' ');
}

function panel(p: PlotSeries, top: number, tMax: number): string {
  const x0 = MARGIN.left;
  const x1 = WIDTH - MARGIN.right;
  const y0 = top + MARGIN.top;
  const y1 = top + PANEL_H - MARGIN.bottom;
  const vals = [...p.alloc, ...p.target, ...p.ws, ...p.committed].filter((v): v is number => v !== null);
  const yStep = niceStep(Math.max(1, ...vals), 4);
  const yMax = Math.max(yStep, Math.ceil((Math.max(1, ...vals) * 1.05) / yStep) * yStep);
  const sx = (t: number): number => x0 + ((x1 - x0) * t) / Math.max(1e-9, tMax);
  const sy = (v: number): number => y1 - ((y1 - y0) * v) / yMax;
  const xs = p.t.map(sx);
  const map = (ys: (number | null)[]): (number | null)[] => ys.map((v) => (v === null ? null : sy(v)));
  const parts: string[] = [];
  parts.push(`<text x="${x0}" y="${top + 18}" class="pt">${esc(p.title)}</text>`);
  parts.push(`<rect x="${x0}" y="${y0}" width="${x1 - x0}" height="${y1 - y0}" class="frame"/>`);
  for (let v = 0; v <= yMax + 1e-9; v += yStep) {
    const y = f1(sy(v));
    parts.push(`<line x1="${x0}" x2="${x1}" y1="${y}" y2="${y}" class="grid"/><text x="${x0 - 6}" y="${y}" class="yl">${f1(v)}</text>`);
  }
  const tStep = niceStep(tMax, 10);
  for (let t = 0; t <= tMax + 1e-9; t += tStep) {
    const x = f1(sx(t));
    parts.push(`<line x1="${x}" x2="${x}" y1="${y1}" y2="${y1 + 4}" class="axis"/><text x="${x}" y="${y1 + 16}" class="xl">${f1(t)}</text>`);
  }
  parts.push(`<text x="14" y="${f1((y0 + y1) / 2)}" class="ax" transform="rotate(-90 14 ${f1((y0 + y1) / 2)})">MiB</text>`);
  const ws = areas(xs, map(p.ws), y1);
  if (ws) parts.push(`<path d="${ws}" fill="${COLORS.ws}" fill-opacity="0.55" stroke="none"/>`);
  const committed = paths(xs, map(p.committed), true);
  if (committed) parts.push(`<path d="${committed}" class="l" stroke="${COLORS.committed}" stroke-dasharray="2 3"/>`);
  const target = paths(xs, map(p.target), true);
  if (target) parts.push(`<path d="${target}" class="l" stroke="${COLORS.target}" stroke-dasharray="6 4"/>`);
  const alloc = paths(xs, map(p.alloc), false);
  if (alloc) parts.push(`<path d="${alloc}" class="l" stroke="${COLORS.alloc}" stroke-width="1.8"/>`);
  return parts.join('\n');
}

export function renderPlot(input: PlotInput): string {
  const tMax = Math.max(1, ...input.panels.flatMap((p) => p.t));
  const height = HEADER_H + input.panels.length * PANEL_H + 20;
  const legend = [
    ['allocation', COLORS.alloc, ''],
    ['target written', COLORS.target, '6 4'],
    ['Committed_AS', COLORS.committed, '2 3'],
  ] as const;
  const lg = legend
    .map(([name, color, dash], i) => {
      const x = MARGIN.left + i * 170;
      return `<line x1="${x}" x2="${x + 28}" y1="50" y2="50" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/><text x="${x + 34}" y="54" class="lg">${name}</text>`;
    })
    .join('');
  const wsX = MARGIN.left + legend.length * 170;
  const body = input.panels.map((p, i) => panel(p, HEADER_H + i * PANEL_H, tMax)).join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">
<style>
.frame{fill:#fff;stroke:#444;stroke-width:1}.grid{stroke:#e4e4e4}.axis{stroke:#444}
.l{fill:none;stroke-width:1.5}.yl{font-size:11px;text-anchor:end;dominant-baseline:middle}
.xl{font-size:11px;text-anchor:middle}.pt{font-size:13px;font-weight:bold}.ax{font-size:11px;text-anchor:middle}
.lg{font-size:12px}.t{font-size:15px;font-weight:bold}.st{font-size:12px;fill:#333}
</style>
<rect width="100%" height="100%" fill="#fafafa"/>
<text x="${MARGIN.left}" y="20" class="t">${esc(input.title)}</text>
<text x="${MARGIN.left}" y="36" class="st">${esc(input.subtitle)}</text>
${lg}<rect x="${wsX}" y="44" width="28" height="12" fill="${COLORS.ws}" fill-opacity="0.55"/><text x="${wsX + 34}" y="54" class="lg">working set</text>
${body}
<text x="${WIDTH / 2}" y="${height - 6}" class="ax">virtual time (s)</text>
</svg>
`;
}
