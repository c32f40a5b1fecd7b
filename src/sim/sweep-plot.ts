// The sweep's plot: one panel per scenario, host free memory across (the levels evenly spaced,
// labelled in MiB), the score up (static = 1, dashed; lower is better), one line per policy.
// Plain SVG text, no dependencies.
import { BASELINE, type SweepRow } from './sweep.ts';

const MIB = 1024;
const COLORS = ['#d62728', '#7f7f7f', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];
const PANEL_W = 420;
const PANEL_H = 260;
const PAD = { left: 48, right: 12, top: 28, bottom: 36 };
/** Scores above this are drawn at the top edge (a policy far worse than static still shows). */
const Y_CAP = 2;

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderSweepPlot(rows: readonly SweepRow[], scenarios: readonly string[], labels: readonly string[], title: string): string {
  const policies = labels.filter((l) => l !== BASELINE);
  const cols = 2;
  const panels = scenarios.length;
  const width = cols * PANEL_W;
  // Legend entries left to right, wrapping at the width (about 6.5 px a character at 11 px).
  const legend: { p: string; x: number; row: number }[] = [];
  let lx = 10;
  let row = 0;
  for (const p of policies) {
    const w = 34 + Math.ceil(6.5 * p.length);
    if (lx + w > width && lx > 10) {
      lx = 10;
      row += 1;
    }
    legend.push({ p, x: lx, row });
    lx += w;
  }
  const legendH = 24 + 16 * row;
  const height = 40 + legendH + Math.ceil(panels / cols) * PANEL_H;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="10" y="18" font-size="14">${esc(title)}</text>`);
  out.push(`<text x="10" y="34" fill="#555">score = (guests' runtimes + Dom0's unmet need) / static's; lower is better; static = 1 (dashed); scores above ${Y_CAP} drawn at the top</text>`);
  legend.forEach(({ p, x, row: r }, i) => {
    const y = 48 + 16 * r;
    out.push(`<line x1="${x}" y1="${y}" x2="${x + 18}" y2="${y}" stroke="${COLORS[i % COLORS.length]}" stroke-width="2.5"/>`);
    out.push(`<text x="${x + 22}" y="${y + 4}">${esc(p)}</text>`);
  });
  scenarios.forEach((s, k) => {
    const ox = (k % cols) * PANEL_W;
    const oy = 40 + legendH + Math.floor(k / cols) * PANEL_H;
    const mine = rows.filter((r) => r.scenario === s);
    const levels = [...new Set(mine.map((r) => r.freeKiB))].sort((a, b) => a - b);
    const top = Math.min(Y_CAP, Math.max(1.2, ...mine.map((r) => r.score)) * 1.05);
    const iw = PANEL_W - PAD.left - PAD.right;
    const ih = PANEL_H - PAD.top - PAD.bottom;
    const x = (i: number): number => ox + PAD.left + (levels.length <= 1 ? iw / 2 : (i * iw) / (levels.length - 1));
    const y = (v: number): number => oy + PAD.top + ih - (Math.min(v, top) / top) * ih;
    out.push(`<text x="${ox + PAD.left}" y="${oy + 16}" font-size="12">${esc(s)}</text>`);
    out.push(`<rect x="${ox + PAD.left}" y="${oy + PAD.top}" width="${iw}" height="${ih}" fill="none" stroke="#ccc"/>`);
    for (let t = 0; t <= top + 1e-9; t += 0.25) {
      out.push(`<line x1="${ox + PAD.left}" x2="${ox + PAD.left + iw}" y1="${y(t)}" y2="${y(t)}" stroke="#eee"/>`);
      out.push(`<text x="${ox + PAD.left - 4}" y="${y(t) + 4}" text-anchor="end">${t.toFixed(2)}</text>`);
    }
    out.push(`<line x1="${ox + PAD.left}" x2="${ox + PAD.left + iw}" y1="${y(1)}" y2="${y(1)}" stroke="#000" stroke-dasharray="4 3"/>`);
    levels.forEach((f, i) => out.push(`<text x="${x(i)}" y="${oy + PAD.top + ih + 14}" text-anchor="middle">${f / MIB}</text>`));
    out.push(`<text x="${ox + PAD.left + iw / 2}" y="${oy + PAD.top + ih + 28}" text-anchor="middle" fill="#555">host free memory at start, MiB</text>`);
    policies.forEach((p, pi) => {
      const pts = levels
        .map((f, i) => {
          const r = mine.find((m) => m.freeKiB === f && m.policy === p);
          return r === undefined ? null : `${x(i).toFixed(1)},${y(r.score).toFixed(1)}`;
        })
        .filter((v): v is string => v !== null);
      if (pts.length === 0) return;
      const c = COLORS[pi % COLORS.length];
      out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${c}" stroke-width="${p === 'memcoop' ? 2.5 : 1.5}"/>`);
      for (const pt of pts) {
        const [px, py] = pt.split(',');
        out.push(`<circle cx="${px}" cy="${py}" r="2.5" fill="${c}"/>`);
      }
    });
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
