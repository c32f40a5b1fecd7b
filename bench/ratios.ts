// npm run bench:ratios [-- --json] [--down 1,2,4,8] [--up 1,2] [--reserve 50] [--scenarios a,b] [--seeds 1,2,3]
// The policy's step ratios measured on the paper's scenarios through the real runner (the same
// supervisor, streams and simulated host as `memcoop sim`): every (upRatio, downRatio) pair, each
// scenario's total workload runtime in virtual seconds, and the sum next to the static
// allocation's. With --seeds, each runtime is the mean over the scenario re-seeded with each seed
// (src/sim/seed.ts): the same comparison on other draws of the random workloads.
// What src/policy/defaults.ts cites for DEFAULT_UP_RATIO and DEFAULT_DOWN_RATIO.
import { loadScenario, scenarioNames } from '../src/sim/scenario.ts';
import { DEFAULT_PARAMS } from '../src/policy/defaults.ts';
import { runScenario, totalRuntimeS } from '../src/sim/runner.ts';
import { MIB } from '../src/vocabulary/units.ts';

const DEFAULT_DOWN = [1, 2, 4, 8];
const DEFAULT_UP = [1, 2];

function list(name: string, dflt: number[]): number[] {
  const i = process.argv.indexOf(name);
  if (i < 0) return dflt;
  const xs = (process.argv[i + 1] ?? '').split(',').map(Number);
  if (xs.length === 0 || xs.some((x) => !Number.isFinite(x) || x < 0)) throw new Error(`${name} needs numbers, e.g. 1,2,4`);
  return xs;
}

interface Row {
  upRatio: number;
  downRatio: number;
  reserveMiB: number;
  runtimesS: Record<string, number | null>;
  totalS: number | null;
  ratioToStatic: number | null;
  violations: number;
}

const r1 = (x: number | null): number | null => (x === null ? null : Math.round(x * 10) / 10);

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const scenarios = (() => {
    const i = process.argv.indexOf('--scenarios');
    return i >= 0 ? (process.argv[i + 1] ?? '').split(',') : scenarioNames().filter((n) => n.startsWith('paper-'));
  })().map((n) => loadScenario(n));
  const downs = list('--down', DEFAULT_DOWN);
  const ups = list('--up', DEFAULT_UP);
  const reserves = list('--reserve', [DEFAULT_PARAMS.reserveKiB / MIB]);
  const seedArg = process.argv.includes('--seeds') ? list('--seeds', []) : null;
  const seeds: (number | undefined)[] = seedArg ?? [undefined];
  /** Mean total runtime over the seeds; null if any run left a workload unfinished. */
  const meanRuntime = async (s: (typeof scenarios)[number], opts: Parameters<typeof runScenario>[1]): Promise<{ t: number | null; violations: number }> => {
    let acc: number | null = 0;
    let violations = 0;
    for (const seed of seeds) {
      const r = await runScenario(s, { ...opts, trace: false, ...(seed !== undefined ? { seed } : {}) });
      const t = totalRuntimeS(r.outcomes);
      acc = acc === null || t === null ? null : acc + t;
      violations += r.violations.length;
    }
    return { t: acc === null ? null : acc / seeds.length, violations };
  };

  const staticRuntimes: Record<string, number | null> = {};
  for (const s of scenarios) staticRuntimes[s.name] = r1((await meanRuntime(s, { policy: 'static' })).t);
  const sum = (xs: Record<string, number | null>): number | null =>
    Object.values(xs).reduce<number | null>((a, x) => (a === null || x === null ? null : a + x), 0);
  const staticTotal = sum(staticRuntimes);

  const rows: Row[] = [];
  for (const reserveMiB of reserves) {
    for (const upRatio of ups) {
      for (const downRatio of downs) {
        const runtimesS: Record<string, number | null> = {};
        let violations = 0;
        for (const s of scenarios) {
          const r = await meanRuntime(s, { params: { upRatio, downRatio, reserveKiB: Math.round(reserveMiB * MIB) } });
          runtimesS[s.name] = r1(r.t);
          violations += r.violations;
        }
        const totalS = r1(sum(runtimesS));
        rows.push({
          upRatio,
          downRatio,
          reserveMiB,
          runtimesS,
          totalS,
          ratioToStatic: totalS === null || staticTotal === null ? null : Math.round((totalS / staticTotal) * 1000) / 1000,
          violations,
        });
        process.stderr.write(`sweep: up ${upRatio} down ${downRatio} reserve ${reserveMiB} MiB: ${totalS} s\n`);
      }
    }
  }

  const names = scenarios.map((s) => s.name);
  const w = Math.max(10, ...names.map((n) => n.length));
  const cell = (x: number | null): string => (x === null ? 'unfinished' : x.toFixed(1)).padStart(w);
  const isDefault = (r: Row): boolean =>
    r.upRatio === DEFAULT_PARAMS.upRatio && r.downRatio === DEFAULT_PARAMS.downRatio && Math.round(r.reserveMiB * MIB) === DEFAULT_PARAMS.reserveKiB;
  console.log(`policy ratio sweep: total workload runtime per scenario, virtual seconds (lower is better)${seedArg ? `; mean over seeds ${seedArg.join(', ')}` : ''}`);
  console.log(['up', 'down', 'reserve'].map((h) => h.padStart(8)).join('') + ' ' + names.map((n) => n.padStart(w)).join(' ') + ' ' + 'sum'.padStart(9) + ' ' + 'vs static'.padStart(9) + '  invariants');
  console.log(['static', '', ''].map((h) => h.padStart(8)).join('') + ' ' + names.map((n) => cell(staticRuntimes[n] ?? null)).join(' ') + ' ' + (staticTotal?.toFixed(1) ?? '-').padStart(9) + ' ' + '1.000'.padStart(9));
  for (const r of rows) {
    console.log(
      [String(r.upRatio), String(r.downRatio), `${r.reserveMiB}M`].map((h) => h.padStart(8)).join('') +
        ' ' +
        names.map((n) => cell(r.runtimesS[n] ?? null)).join(' ') +
        ' ' +
        (r.totalS?.toFixed(1) ?? '-').padStart(9) +
        ' ' +
        (r.ratioToStatic?.toFixed(3) ?? '-').padStart(9) +
        '  ' +
        (r.violations === 0 ? 'held' : `${r.violations} violated`) +
        (isDefault(r) ? '  <- current default' : ''),
    );
  }
  const best = rows.filter((r) => r.totalS !== null && r.violations === 0).sort((a, b) => a.totalS! - b.totalS!)[0];
  if (best) console.log(`best: up ${best.upRatio}, down ${best.downRatio}, reserve ${best.reserveMiB} MiB (${best.totalS} s, ${best.ratioToStatic} of static)`);
  if (json) console.log(JSON.stringify({ scenarios: names, seeds: seedArg, static: { runtimesS: staticRuntimes, totalS: staticTotal }, rows }));
}

await main();
