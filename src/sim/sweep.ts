// The sweep behind `memcoop sim --sweep` (docs/sweep.md): every policy on every scenario at a
// range of host free memory, from none to plenty, over several seeds, each run scored against
// the static allocation's run at the same level and seed. Runs go through the same runner as
// `memcoop sim` (the real supervisor against the simulated host), so a sweep row is a
// reproducible function of (scenario, free memory, policy, rules, seed).
//
// The score: lower is better, static is 1.
//   cost = sum over guests of the workload's runtime (virtual s; a workload that was killed or
//          did not finish within the scenario's duration is charged the whole duration)
//        + Dom0's unmet need, as stall time: every tick, Dom0's shortfall below its need
//          (clamp(Committed_AS, min, max), the need every policy is told) as a fraction of that
//          need, times the tick, times the number of guests (Dom0 runs every guest's backends
//          and the toolstack: a Dom0 short of memory slows them all).
//   score = cost(policy) / cost(static), at the same free memory and seed; the table and the
//   JSON give its mean over the seeds.
// The Dom0 term is ours, not the paper's (the paper measured guest runtimes only): without it a
// policy that never serves Dom0 scores as if Dom0's need did not exist.
import type { Scenario } from './scenario.ts';
import { NO_RULES, RULE_NAMES, type RuleName } from '../policy/rules.ts';
import type { PolicyRules } from '../policy/types.ts';
import { runScenario } from './runner.ts';

const MIB = 1024;

/** Host free memory at the start, MiB: none, a little, the paper scenarios' own range, plenty. */
export const DEFAULT_LEVELS_MIB: readonly number[] = [0, 64, 128, 256, 512, 1024];
export const DEFAULT_SEEDS: readonly number[] = [1, 2, 3];
/** The policies swept, in the table's order. */
export const SWEEP_POLICIES: readonly string[] = ['memcoop', 'paper', 'selfballoon', 'qmemman', 'squeezed', 'mom'];
export const BASELINE = 'static';

/** The scenarios swept by default: the paper's and the realistic ones. */
export function defaultSweepScenarios(names: readonly string[]): string[] {
  return names.filter((n) => n.startsWith('paper-') || n.startsWith('realistic-'));
}

/** `--quick`: one scenario, two levels, one seed; for tests of the output's shape. */
export const QUICK = { scenarios: ['paper-memory-memory'], levelsMiB: [0, 256], seeds: [1] } as const;

/**
 * A variant of a policy: its name in the table, the registered policy it runs and the rules it
 * runs with (the ablation's variants are memcoop with rules off).
 */
export interface Variant {
  label: string;
  policy: string;
  rules?: PolicyRules;
}

/** The ablation's variants: memcoop with each rule beyond the paper off, and with all off. */
export function ablationVariants(): Variant[] {
  const one = (r: RuleName): Variant => ({ label: `memcoop-no-${r}`, policy: 'memcoop', rules: { [r]: false } });
  return [{ label: 'memcoop', policy: 'memcoop' }, ...RULE_NAMES.map(one), { label: 'memcoop-no-rules', policy: 'memcoop', rules: { ...NO_RULES } }, { label: 'paper', policy: 'paper' }];
}

/** The scenario with the host sized so that `freeKiB` is free once Dom0 and the first guests are in. */
export function atFreeLevel(s: Scenario, freeKiB: number): Scenario {
  const atStart = s.sim.dom0.initialKiB + s.sim.guests.filter((g) => g.startMs === 0).reduce((a, g) => a + g.initialKiB, 0);
  return { ...s, sim: { ...s.sim, hostTotalKiB: atStart + freeKiB } };
}

export interface Job {
  scenario: string;
  freeKiB: number;
  seed: number;
  variant: Variant;
}

export interface JobResult {
  scenario: string;
  freeKiB: number;
  seed: number;
  label: string;
  /** Sum of the guests' runtimes, unfinished ones charged the duration (virtual s). */
  guestsS: number;
  /** Dom0's unmet need as stall seconds (see the header). */
  dom0S: number;
  /** Workloads killed or unfinished. */
  unfinished: number;
  /** Invariant violations, by rule. */
  violations: Record<string, number>;
}

/** Every job of a sweep, in a fixed order (so shards split it the same way every time). */
export function sweepJobs(scenarios: readonly string[], levelsMiB: readonly number[], seeds: readonly number[], variants: readonly Variant[]): Job[] {
  const jobs: Job[] = [];
  for (const scenario of scenarios)
    for (const mib of levelsMiB)
      for (const seed of seeds)
        for (const variant of [{ label: BASELINE, policy: BASELINE }, ...variants]) jobs.push({ scenario, freeKiB: mib * MIB, seed, variant });
  return jobs;
}

/** Runs one job and scores its parts. */
export async function runJob(scenario: Scenario, job: Job): Promise<JobResult> {
  const s = atFreeLevel(scenario, job.freeKiB);
  const d0 = s.sim.dom0;
  const guests = s.sim.guests.length;
  const tickS = s.tickMs / 1000;
  let dom0S = 0;
  const r = await runScenario(s, {
    policy: job.variant.policy,
    seed: job.seed,
    trace: false,
    ...(job.variant.rules !== undefined ? { params: { rules: job.variant.rules } } : {}),
    onTick: (rec) => {
      const need = Math.min(Math.max(rec.dom0.committedKiB, d0.minKiB), d0.maxKiB);
      if (need > 0 && rec.dom0.actualKiB < need) dom0S += ((need - rec.dom0.actualKiB) / need) * tickS * guests;
    },
  });
  let guestsS = 0;
  let unfinished = 0;
  for (const o of r.outcomes) {
    const cfg = s.sim.guests.find((g) => g.id === o.id);
    if (o.runtimeS === null) {
      unfinished += 1;
      guestsS += (s.durationMs - (cfg?.startMs ?? 0)) / 1000;
    } else guestsS += o.runtimeS;
  }
  const violations: Record<string, number> = {};
  for (const v of r.violations) violations[v.rule] = (violations[v.rule] ?? 0) + 1;
  return { scenario: job.scenario, freeKiB: job.freeKiB, seed: job.seed, label: job.variant.label, guestsS, dom0S, unfinished, violations };
}

export interface SweepRow {
  scenario: string;
  freeKiB: number;
  policy: string;
  /** Mean over the seeds of cost / static's cost. */
  score: number;
  /** Mean over the seeds of the guests' runtimes and of Dom0's stall (virtual s). */
  guestsS: number;
  dom0S: number;
  unfinished: number;
  violations: Record<string, number>;
}

/** Averages the job results over seeds into one row per (scenario, level, policy); static included (score 1). */
export function aggregate(results: readonly JobResult[]): SweepRow[] {
  const key = (r: { scenario: string; freeKiB: number; seed: number }): string => `${r.scenario}\u0000${r.freeKiB}\u0000${r.seed}`;
  const base = new Map<string, JobResult>();
  for (const r of results) if (r.label === BASELINE) base.set(key(r), r);
  const groups = new Map<string, JobResult[]>();
  for (const r of results) {
    const k = `${r.scenario}\u0000${r.freeKiB}\u0000${r.label}`;
    const g = groups.get(k) ?? [];
    g.push(r);
    groups.set(k, g);
  }
  const rows: SweepRow[] = [];
  for (const g of groups.values()) {
    const first = g[0]!;
    let score = 0;
    let guestsS = 0;
    let dom0S = 0;
    let unfinished = 0;
    const violations: Record<string, number> = {};
    for (const r of g) {
      const b = base.get(key(r));
      if (b === undefined) throw new Error(`sweep: no static run for ${r.scenario} at ${r.freeKiB} KiB, seed ${r.seed}`);
      const bc = b.guestsS + b.dom0S;
      score += bc > 0 ? (r.guestsS + r.dom0S) / bc : 1;
      guestsS += r.guestsS;
      dom0S += r.dom0S;
      unfinished += r.unfinished;
      for (const [rule, n] of Object.entries(r.violations)) violations[rule] = (violations[rule] ?? 0) + n;
    }
    const n = g.length;
    rows.push({ scenario: first.scenario, freeKiB: first.freeKiB, policy: first.label, score: score / n, guestsS: guestsS / n, dom0S: dom0S / n, unfinished, violations });
  }
  return rows;
}

/** Rows in the table's order: scenario as given, level ascending, policy as given. */
export function orderRows(rows: readonly SweepRow[], scenarios: readonly string[], labels: readonly string[]): SweepRow[] {
  const si = (s: string): number => scenarios.indexOf(s);
  const li = (p: string): number => labels.indexOf(p);
  return [...rows].sort((a, b) => si(a.scenario) - si(b.scenario) || a.freeKiB - b.freeKiB || li(a.policy) - li(b.policy));
}

const r3 = (x: number): string => x.toFixed(3);

/**
 * The table: a line per scenario and level, a column per policy (its mean score; `*` marks a
 * run that broke an invariant, `!` one whose workload was killed or unfinished), the best
 * non-static score in brackets.
 */
export function sweepTable(rows: readonly SweepRow[], scenarios: readonly string[], labels: readonly string[]): string[] {
  const w = Math.max(9, ...labels.map((l) => l.length + 1));
  const sw = Math.max(8, ...scenarios.map((s) => s.length));
  const lines = [['scenario'.padEnd(sw), 'free MiB'.padStart(8), ...labels.map((l) => l.padStart(w))].join(' ')];
  for (const s of scenarios) {
    const levels = [...new Set(rows.filter((r) => r.scenario === s).map((r) => r.freeKiB))].sort((a, b) => a - b);
    for (const f of levels) {
      const here = rows.filter((r) => r.scenario === s && r.freeKiB === f);
      const best = Math.min(...here.filter((r) => r.policy !== BASELINE).map((r) => r.score));
      const cells = labels.map((l) => {
        const r = here.find((x) => x.policy === l);
        if (r === undefined) return '-'.padStart(w);
        const mark = (Object.keys(r.violations).length > 0 ? '*' : '') + (r.unfinished > 0 ? '!' : '');
        const v = r3(r.score) + mark;
        return (r.policy !== BASELINE && r.score === best ? `[${v}]` : v).padStart(w);
      });
      lines.push([s.padEnd(sw), String(f / MIB).padStart(8), ...cells].join(' '));
    }
  }
  return lines;
}

/** Which invariants each policy broke, and how often (summed over seeds and levels). */
export function breachLines(rows: readonly SweepRow[]): string[] {
  const by = new Map<string, Map<string, number>>();
  for (const r of rows) {
    for (const [rule, n] of Object.entries(r.violations)) {
      const m = by.get(r.policy) ?? new Map<string, number>();
      m.set(`${r.scenario}/${rule}`, (m.get(`${r.scenario}/${rule}`) ?? 0) + n);
      by.set(r.policy, m);
    }
  }
  if (by.size === 0) return ['invariants: held by every policy on every run'];
  const out = ['invariants broken (ticks, summed over levels and seeds):'];
  for (const [p, m] of by) out.push(`  ${p}: ${[...m].map(([k, n]) => `${k} ${n}`).join(', ')}`);
  return out;
}

export interface AblationLine {
  label: string;
  /** Mean score over every (scenario, level) cell. */
  meanScore: number;
  /** Mean of (score with the rule off - memcoop's score): > 0 means the rule helps. */
  meanDelta: number;
  /** Cells where switching the rule off is better / worse than memcoop by more than 1 %. */
  better: number;
  worse: number;
  /** The cell where switching the rule off costs the most, and where it gains the most. */
  worstCell: string;
  bestCell: string;
}

/** What each variant gains or costs against memcoop with every rule on, cell by cell. */
export function ablation(rows: readonly SweepRow[], labels: readonly string[]): AblationLine[] {
  const ref = new Map<string, number>();
  for (const r of rows) if (r.policy === 'memcoop') ref.set(`${r.scenario}\u0000${r.freeKiB}`, r.score);
  return labels
    .filter((l) => l !== BASELINE)
    .map((label) => {
      const mine = rows.filter((r) => r.policy === label);
      let sum = 0;
      let dsum = 0;
      let better = 0;
      let worse = 0;
      let worst = { d: -Infinity, cell: '-' };
      let best = { d: Infinity, cell: '-' };
      for (const r of mine) {
        const m = ref.get(`${r.scenario}\u0000${r.freeKiB}`) ?? r.score;
        const d = r.score - m;
        sum += r.score;
        dsum += d;
        if (d < -0.01 * m) better += 1;
        if (d > 0.01 * m) worse += 1;
        const cell = `${r.scenario} @ ${r.freeKiB / MIB} MiB (${r3(m)} -> ${r3(r.score)})`;
        if (d > worst.d) worst = { d, cell };
        if (d < best.d) best = { d, cell };
      }
      const n = Math.max(1, mine.length);
      return { label, meanScore: sum / n, meanDelta: dsum / n, better, worse, worstCell: worst.cell, bestCell: best.cell };
    });
}

export function ablationTable(lines: readonly AblationLine[]): string[] {
  const w = Math.max(...lines.map((l) => l.label.length));
  const out = [
    `${'variant'.padEnd(w)}  mean score  vs memcoop  better  worse  costs most where switched off / gains most`,
  ];
  for (const l of lines) {
    const sign = l.meanDelta >= 0 ? '+' : '';
    out.push(`${l.label.padEnd(w)}  ${r3(l.meanScore).padStart(10)}  ${(sign + r3(l.meanDelta)).padStart(10)}  ${String(l.better).padStart(6)}  ${String(l.worse).padStart(5)}  ${l.label === 'memcoop' ? '' : `${l.worstCell} / ${l.bestCell}`}`);
  }
  return out;
}
