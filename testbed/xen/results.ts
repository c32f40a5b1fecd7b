// Reading a nested run's results (Dom0's tar, out/testbed/xen/run-<scenario>/results/): memcoop's
// log and journal, the xl samples, the guests' consoles; and the numbers the report and the
// tests use. All memory in KiB (xl prints MiB: multiplied, never divided).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BootResult } from './boot.ts';
import { KIB_PER_MIB, type Phase, type Scenario } from './scenario.ts';

/** xl list and xl info print whole MiB: a value read there is off by up to this much. */
export const XL_ROUNDING_KIB = 1024;

export interface XlSample {
  /** Dom0's clock, ms since the epoch (the same clock as memcoop's log and journal). */
  at: number;
  /** Name -> { domid, KiB } from xl list's Mem column. */
  domains: Map<string, { domid: number; memKiB: number }>;
  totalKiB: number | null;
  freeKiB: number | null;
}

export interface LogLine {
  level: number;
  time: number;
  msg: string;
  domid?: number;
  [k: string]: unknown;
}

export interface JournalSample {
  at: number;
  freeKiB: number;
  dom0KiB: number;
  allocations: Record<string, number>;
}

export interface PhaseResult {
  phase: Phase;
  dir: string;
  /** The hungry guest's workload time (its own clock), or null if it did not finish. */
  workloadMs: number | null;
  samples: XlSample[];
  log: LogLine[];
  journalPath: string | null;
  journalSamples: JournalSample[];
  /** Guest name -> domid in this phase. */
  domids: Map<string, number>;
  /** Guest name -> [min, max] KiB seen in xl list (after the guest's first sample). */
  range: Map<string, [number, number]>;
  consoles: Map<string, string>;
}

export interface NestedReport {
  complete: boolean;
  /** ms from QEMU's start to memcoop's first decision (Dom0 marker), and to Dom0's /init. */
  bootToInitMs: number | null;
  bootToFirstTickMs: number | null;
  totalMs: number;
  phases: PhaseResult[];
}

export function analyse(s: Scenario, b: BootResult): NestedReport {
  const root = join(b.dir, 'results');
  const phases = s.phases.filter((p) => existsSync(join(root, p))).map((p) => readPhase(s, p, join(root, p)));
  return {
    complete: b.marks.has('poweroff') && !b.marks.has('deadline') && phases.length === s.phases.length && phases.every((p) => p.workloadMs !== null),
    bootToInitMs: b.marks.get('dom0 init') ?? null,
    bootToFirstTickMs: b.marks.get('memcoop first tick') ?? null,
    totalMs: b.totalMs,
    phases,
  };
}

function readIf(p: string): string {
  return existsSync(p) ? readFileSync(p, 'utf8') : '';
}

export function parseXlSamples(text: string): XlSample[] {
  const out: XlSample[] = [];
  let cur: XlSample | null = null;
  for (const line of text.split('\n')) {
    // Busybox's date has no %N: the stamp is whole seconds, printed with a literal "%N".
    const t = /^T (\d+)(%N)?$/.exec(line);
    if (t) {
      const at = t[2] !== undefined ? Number(t[1]) * 1000 : Number(t[1]);
      cur = { at, domains: new Map(), totalKiB: null, freeKiB: null };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    const info = /^(total_memory|free_memory)\s*:\s*(\d+)$/.exec(line);
    if (info) {
      const kib = Number(info[2]) * KIB_PER_MIB;
      if (info[1] === 'total_memory') cur.totalKiB = kib;
      else cur.freeKiB = kib;
      continue;
    }
    // Name ID Mem VCPUs State Time(s)
    const row = /^(\S+)\s+(\d+)\s+(\d+)\s+\d+\s+\S+\s+[\d.]+$/.exec(line);
    if (row) cur.domains.set(row[1]!, { domid: Number(row[2]), memKiB: Number(row[3]) * KIB_PER_MIB });
  }
  return out.filter((x) => x.freeKiB !== null);
}

export function parseLog(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch {
      // a line cut off by the kill at the end of a phase
    }
  }
  return out;
}

function parseJournalSamples(text: string): JournalSample[] {
  const out: JournalSample[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes('"host.sample"')) continue;
    try {
      const e = JSON.parse(line) as { at: number; freeKiB: number; dom0: { currentKiB: number }; allocations: Record<string, number> };
      out.push({ at: e.at, freeKiB: e.freeKiB, dom0KiB: e.dom0.currentKiB, allocations: e.allocations });
    } catch {
      // cut off
    }
  }
  return out;
}

function readPhase(s: Scenario, phase: Phase, dir: string): PhaseResult {
  const samples = parseXlSamples(readIf(join(dir, 'xl-samples.txt')));
  const consoles = new Map<string, string>();
  for (const g of s.guests) consoles.set(g.name, readIf(join(dir, `console-${g.name}.log`)));
  const hungry = s.guests.find((g) => g.role === 'hungry');
  const m = /result program=\S+ ms=(\d+)/.exec(hungry ? consoles.get(hungry.name) ?? '' : '');
  const domids = new Map<string, number>();
  const range = new Map<string, [number, number]>();
  for (const x of samples) {
    for (const [name, d] of x.domains) {
      domids.set(name, d.domid);
      if (d.memKiB === 0) continue; // being built or torn down
      const r = range.get(name);
      range.set(name, r ? [Math.min(r[0], d.memKiB), Math.max(r[1], d.memKiB)] : [d.memKiB, d.memKiB]);
    }
  }
  const journalPath = existsSync(join(dir, 'journal.jsonl')) ? join(dir, 'journal.jsonl') : null;
  return {
    phase,
    dir,
    workloadMs: m ? Number(m[1]) : null,
    samples,
    log: parseLog(readIf(join(dir, 'memcoop.log'))),
    journalPath,
    journalSamples: journalPath ? parseJournalSamples(readFileSync(journalPath, 'utf8')) : [],
    domids,
    range,
    consoles,
  };
}

/** The memcoop log's lines with this message (and domid, if given), in order. */
export function logged(p: PhaseResult, msg: string, domid?: number): LogLine[] {
  return p.log.filter((l) => l.msg === msg && (domid === undefined || l.domid === domid));
}

/**
 * Pairs each journal host.sample with the xl sample nearest in time when the domains were quiet
 * (xl list unchanged in the samples before and after): memcoop's free memory next to xl info's.
 */
export function freeMemoryPairs(p: PhaseResult, maxGapMs = 1500): Array<{ at: number; memcoopKiB: number; xlKiB: number }> {
  const out: Array<{ at: number; memcoopKiB: number; xlKiB: number }> = [];
  const quiet = (i: number): boolean => {
    const a = p.samples[i - 1], b = p.samples[i], c = p.samples[i + 1];
    if (!a || !b || !c) return false;
    const same = (x: XlSample, y: XlSample) =>
      x.freeKiB === y.freeKiB && x.domains.size === y.domains.size && [...x.domains].every(([n, d]) => y.domains.get(n)?.memKiB === d.memKiB);
    return same(a, b) && same(b, c);
  };
  for (const j of p.journalSamples) {
    let best = -1;
    for (let i = 0; i < p.samples.length; i++) {
      if (best < 0 || Math.abs(p.samples[i]!.at - j.at) < Math.abs(p.samples[best]!.at - j.at)) best = i;
    }
    if (best < 0 || Math.abs(p.samples[best]!.at - j.at) > maxGapMs || !quiet(best)) continue;
    out.push({ at: j.at, memcoopKiB: j.freeKiB, xlKiB: p.samples[best]!.freeKiB! });
  }
  return out;
}

const mib = (kib: number) => (kib / KIB_PER_MIB).toFixed(0);
const sec = (ms: number | null) => (ms === null ? '-' : (ms / 1000).toFixed(1));

export function formatReport(s: Scenario, b: BootResult, r: NestedReport): string {
  const lines: string[] = [];
  lines.push(`nested Xen 4.17 under QEMU TCG, scenario ${s.name}: ${s.description}`);
  lines.push('');
  lines.push('boot (s since QEMU started)');
  for (const [k, v] of b.marks) lines.push(`  ${sec(v).padStart(7)}  ${k}`);
  lines.push(`  power-on to memcoop's first tick: ${sec(r.bootToFirstTickMs)} s; whole run ${sec(r.totalMs)} s`);
  lines.push('');
  lines.push(`guest memory in xl list, MiB (min-max per phase; created at ${s.guests.map((g) => `${g.name} ${g.memoryMiB}`).join(', ')})`);
  lines.push(`  ${'phase'.padEnd(8)} ${'workload s'.padStart(10)}  ${['Domain-0', ...s.guests.map((g) => g.name)].map((n) => n.padStart(12)).join('')}`);
  for (const p of r.phases) {
    const cols = ['Domain-0', ...s.guests.map((g) => g.name)].map((n) => {
      const rg = p.range.get(n);
      return (rg ? `${mib(rg[0])}-${mib(rg[1])}` : '-').padStart(12);
    });
    lines.push(`  ${p.phase.padEnd(8)} ${sec(p.workloadMs).padStart(10)}  ${cols.join('')}`);
  }
  const mc = r.phases.find((p) => p.phase === 'memcoop');
  const st = r.phases.find((p) => p.phase === 'static');
  if (mc?.workloadMs && st?.workloadMs) {
    lines.push(`  workload under memcoop: ${(((mc.workloadMs - st.workloadMs) / st.workloadMs) * 100).toFixed(1)} % vs static`);
  }
  if (mc) {
    const stuck = logged(mc, 'balloon not moving toward its target; left out of the balance').map((l) => l.domid);
    const retried = logged(mc, 'stuck balloon: trying again').map((l) => l.domid);
    const raised = logged(mc, 'max pages raised').length;
    const writes = logged(mc, 'memory/target written').length;
    const pairs = freeMemoryPairs(mc);
    const diffs = pairs.map((x) => Math.abs(x.memcoopKiB - x.xlKiB)).sort((a, b) => a - b);
    lines.push('');
    lines.push(`memcoop: ${writes} targets written, max pages raised ${raised} times; stuck: domids ${[...new Set(stuck)].join(',') || '-'}; retried: ${[...new Set(retried)].join(',') || '-'}`);
    if (diffs.length > 0) {
      lines.push(`  host free memory, memcoop vs xl info at ${diffs.length} quiet samples: |diff| median ${diffs[Math.floor(diffs.length / 2)]} KiB, max ${diffs[diffs.length - 1]} KiB`);
    }
  }
  lines.push(`complete: ${r.complete}`);
  return lines.join('\n');
}
