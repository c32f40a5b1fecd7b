// Runtimes side by side: every workload's runtime under each policy, and each policy's total
// next to the static allocation's (the baseline: no balancing). Pure formatting over RunResults;
// the runs themselves are the runner's.
import { BASELINE_POLICY_NAME } from '../policy/registry.ts';
import { totalRuntimeS, type RunResult } from './runner.ts';

export interface PolicyRow {
  policy: string;
  /** Sum of the guests' runtimes (virtual s); null if a workload did not finish. */
  totalRuntimeS: number | null;
  /** totalRuntimeS / static's; null when either is null. */
  ratioToStatic: number | null;
  guests: { id: string; runtimeS: number | null }[];
}

export interface Comparison {
  scenario: string;
  policies: PolicyRow[];
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export function compareRuns(scenario: string, runs: readonly RunResult[]): Comparison {
  const base = runs.find((r) => r.policy === BASELINE_POLICY_NAME);
  const baseTotal = base ? totalRuntimeS(base.outcomes) : null;
  return {
    scenario,
    policies: runs.map((r) => {
      const total = totalRuntimeS(r.outcomes);
      return {
        policy: r.policy,
        totalRuntimeS: total === null ? null : round3(total),
        ratioToStatic: total === null || baseTotal === null || baseTotal === 0 ? null : round3(total / baseTotal),
        guests: r.outcomes.map((o) => ({ id: o.id, runtimeS: o.runtimeS === null ? null : round3(o.runtimeS) })),
      };
    }),
  };
}

const num = (x: number | null, digits = 1): string => (x === null ? 'unfinished' : x.toFixed(digits));

/** The policy table: one row per policy, a column per guest, the total and the ratio to static. */
export function comparisonTable(c: Comparison): string[] {
  const ids = c.policies[0]?.guests.map((g) => g.id) ?? [];
  const w = 11;
  const head = ['policy'.padEnd(12), ...ids.map((id) => id.padStart(w)), 'total'.padStart(w), 'vs static'.padStart(w)].join(' ');
  const rows = c.policies.map((p) =>
    [
      p.policy.padEnd(12),
      ...ids.map((id) => num(p.guests.find((g) => g.id === id)?.runtimeS ?? null).padStart(w)),
      num(p.totalRuntimeS).padStart(w),
      (p.ratioToStatic === null ? '-' : p.ratioToStatic.toFixed(3)).padStart(w),
    ].join(' '),
  );
  return [`${c.scenario}: workload runtimes in virtual seconds (lower is better)`, head, ...rows];
}

/** One run next to static: per workload, both runtimes and the change. */
export function runtimeTable(run: RunResult, baseline: RunResult, workloads: ReadonlyMap<string, string>): string[] {
  const lines = [`workload runtimes (virtual s): ${run.policy} next to the static allocation`];
  lines.push(['guest'.padEnd(6), 'workload'.padEnd(22), run.policy.padStart(10), 'static'.padStart(10), 'change'.padStart(9)].join(' '));
  const change = (a: number | null, b: number | null): string => (a === null || b === null || b === 0 ? '-' : `${(((a - b) / b) * 100).toFixed(1)} %`);
  for (const o of run.outcomes) {
    const b = baseline.outcomes.find((x) => x.id === o.id)?.runtimeS ?? null;
    const wl = (workloads.get(o.id) ?? o.workload).slice(0, 22);
    lines.push([o.id.padEnd(6), wl.padEnd(22), num(o.runtimeS).padStart(10), num(b).padStart(10), change(o.runtimeS, b).padStart(9)].join(' '));
  }
  const t = totalRuntimeS(run.outcomes);
  const tb = totalRuntimeS(baseline.outcomes);
  lines.push(['total'.padEnd(6), ''.padEnd(22), num(t).padStart(10), num(tb).padStart(10), change(t, tb).padStart(9)].join(' '));
  return lines;
}
