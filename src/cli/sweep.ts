// `memcoop sim --sweep`: every policy over host free memory from none to plenty, several seeds,
// on the paper's and the realistic scenarios (src/sim/sweep.ts); a table, an SVG, and with
// --json one JSON line. --ablation sweeps memcoop with each rule beyond the paper switched off.
// The runs are independent, so --jobs N splits them over N child processes of this same command
// (each runs its share and prints its results as one JSON line); the answer does not depend on N.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadScenario, scenarioNames, type Scenario } from '../sim/scenario.ts';
import { RULE_NAMES } from '../policy/rules.ts';
import { renderSweepPlot } from '../sim/sweep-plot.ts';
import {
  ablation,
  ablationTable,
  ablationVariants,
  aggregate,
  BASELINE,
  breachLines,
  DEFAULT_LEVELS_MIB,
  DEFAULT_SEEDS,
  defaultSweepScenarios,
  orderRows,
  QUICK,
  runJob,
  sweepJobs,
  sweepTable,
  SWEEP_POLICIES,
  type JobResult,
  type Variant,
} from '../sim/sweep.ts';
import { InputError } from '../util/validate.ts';

export const SWEEP_HELP = `usage: memcoop sim --sweep [--quick] [--ablation] [--scenarios A,B] [--levels MiB,MiB]
                           [--seeds 1,2,3] [--jobs N] [--json] [--out DIR]

Runs every policy (${SWEEP_POLICIES.join(', ')};
static is the baseline) on every paper-* and realistic-* scenario with the host's free memory at
start set to each level (default ${DEFAULT_LEVELS_MIB.join(', ')} MiB), once per seed (default
${DEFAULT_SEEDS.join(', ')}), and prints one line per scenario and level with each policy's score, and an
SVG (DIR/sweep.svg).

Score (lower is better, static is 1): cost / static's cost at the same level and seed, averaged
over the seeds, where cost = the guests' workload runtimes (virtual s; a killed or unfinished
workload is charged the scenario's whole duration) + Dom0's unmet need as stall time (each tick,
Dom0's shortfall below clamp(Committed_AS, min, max) as a fraction of it, x the tick, x the
number of guests). [x] marks the best policy of a line, * a policy that broke an invariant there
(listed below the table), ! a killed or unfinished workload.

  --quick        one scenario (${QUICK.scenarios.join(', ')}), levels ${QUICK.levelsMiB.join(' and ')} MiB, seed ${QUICK.seeds.join(', ')}
  --ablation     sweep memcoop with each of its rules beyond the paper switched off, with all of
                 them off, and the paper's policy; prints what each rule gains or costs
                 (params.rules: ${RULE_NAMES.join(', ')})
  --scenarios    names (or paths) to sweep instead of the default set
  --levels       host free memory levels, MiB
  --seeds        seeds to average over
  --jobs N       child processes to run in (default min(2, cores)); the results do not depend on it
  --json         end with one line {"rows":[{"scenario","freeKiB","policy","score"},...]}: one row
                 per scenario, level and policy (static included), the score averaged over seeds
  --out DIR      where sweep.svg (or ablation.svg) goes (default out/sim)
`;

interface Args {
  scenarios: string[];
  levelsMiB: number[];
  seeds: number[];
  jobs: number;
  json: boolean;
  out: string;
  ablation: boolean;
  /** Internal: run only share k of n and print the raw results. */
  shard: [number, number] | null;
}

function numbers(v: string, name: string, min: number): number[] {
  const xs = v.split(',').map((x) => Number(x.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isSafeInteger(x) || x < min)) throw new InputError(name, `needs whole numbers >= ${min}, comma separated; got "${v}"`);
  return xs;
}

function parse(argv: string[]): Args {
  const { values: o, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      quick: { type: 'boolean' },
      ablation: { type: 'boolean' },
      scenarios: { type: 'string' },
      levels: { type: 'string' },
      seeds: { type: 'string' },
      jobs: { type: 'string' },
      json: { type: 'boolean' },
      out: { type: 'string' },
      shard: { type: 'string' },
    },
  });
  if (positionals.length > 0) throw new InputError('--sweep', `takes no SCENARIO (use --scenarios); got "${positionals[0]}"`);
  const quick = o.quick ?? false;
  const scenarios = o.scenarios !== undefined ? o.scenarios.split(',').map((s) => s.trim()).filter((s) => s !== '') : quick ? [...QUICK.scenarios] : defaultSweepScenarios(scenarioNames());
  if (scenarios.length === 0) throw new InputError('--scenarios', 'names no scenario');
  let shard: [number, number] | null = null;
  if (o.shard !== undefined) {
    const [k, n] = numbers(o.shard.replace('/', ','), '--shard', 0);
    if (k === undefined || n === undefined || n < 1 || k >= n) throw new InputError('--shard', `must be k/n with k < n, got "${o.shard}"`);
    shard = [k, n];
  }
  const jobs = o.jobs !== undefined ? numbers(o.jobs, '--jobs', 1)[0]! : Math.min(2, availableParallelism());
  return {
    scenarios,
    levelsMiB: o.levels !== undefined ? numbers(o.levels, '--levels', 0) : quick ? [...QUICK.levelsMiB] : [...DEFAULT_LEVELS_MIB],
    seeds: o.seeds !== undefined ? numbers(o.seeds, '--seeds', 0) : quick ? [...QUICK.seeds] : [...DEFAULT_SEEDS],
    jobs,
    json: o.json ?? false,
    out: o.out ?? join('out', 'sim'),
    ablation: o.ablation ?? false,
    shard,
  };
}

function variantsOf(a: Args): Variant[] {
  return a.ablation ? ablationVariants() : SWEEP_POLICIES.map((p) => ({ label: p, policy: p }));
}

/** Runs this process's share of the jobs, in order. */
async function runShare(a: Args, scenarios: Map<string, Scenario>, k: number, n: number, progress: boolean): Promise<JobResult[]> {
  const jobs = sweepJobs(a.scenarios, a.levelsMiB, a.seeds, variantsOf(a)).filter((_, i) => i % n === k);
  const out: JobResult[] = [];
  for (const [i, job] of jobs.entries()) {
    out.push(await runJob(scenarios.get(job.scenario)!, job));
    if (i % 50 === 49 || i === jobs.length - 1) process.stderr.write(`memcoop sim --sweep${progress ? '' : ` (process ${k + 1} of ${n})`}: ${i + 1}/${jobs.length} runs\n`);
  }
  return out;
}

/** The same command, as a child, running share k of n; resolves with its results. */
function runChild(argv: string[], k: number, n: number): Promise<JobResult[]> {
  return new Promise((resolve, reject) => {
    const args = [...process.execArgv, process.argv[1]!, 'sim', '--sweep', ...argv.filter((x, i) => !x.startsWith('--jobs') && argv[i - 1] !== '--jobs' && x !== '--json'), '--shard', `${k}/${n}`];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c: string) => (text += c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`sweep shard ${k}/${n} exited with ${code}`));
      const last = text.trim().split('\n').pop() ?? '';
      try {
        resolve((JSON.parse(last) as { results: JobResult[] }).results);
      } catch {
        reject(new Error(`sweep shard ${k}/${n} printed no results`));
      }
    });
  });
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(SWEEP_HELP);
    return 0;
  }
  let a: Args;
  const scenarios = new Map<string, Scenario>();
  try {
    a = parse(argv);
    for (const name of a.scenarios) {
      const s = loadScenario(name);
      scenarios.set(name, s);
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (err instanceof InputError || e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' || e.code === 'ENOENT') {
      console.error(`memcoop sim --sweep: ${e.message.split('\n')[0]}`);
      return 2;
    }
    throw err;
  }

  if (a.shard !== null) {
    const results = await runShare(a, scenarios, a.shard[0], a.shard[1], false);
    process.stdout.write(JSON.stringify({ results }) + '\n');
    return 0;
  }

  const total = sweepJobs(a.scenarios, a.levelsMiB, a.seeds, variantsOf(a)).length;
  process.stderr.write(`memcoop sim --sweep: ${total} runs (${a.scenarios.length} scenarios x ${a.levelsMiB.length} levels x ${a.seeds.length} seeds x ${variantsOf(a).length + 1} policies) in ${a.jobs} process(es)\n`);
  const n = Math.max(1, Math.min(a.jobs, total));
  const results = n === 1 ? await runShare(a, scenarios, 0, 1, true) : (await Promise.all(Array.from({ length: n }, (_, k) => runChild(argv, k, n)))).flat();

  const labels = [BASELINE, ...variantsOf(a).map((v) => v.label)];
  const rows = orderRows(aggregate(results), a.scenarios, labels);
  const what = a.ablation ? 'ablation: memcoop with each rule beyond the paper switched off' : 'every policy';
  const lines = [
    `memcoop sim --sweep (${what}): score = (guests' runtimes + Dom0's unmet need) / static's, mean over seeds ${a.seeds.join(', ')}; lower is better`,
    ...sweepTable(rows, a.scenarios, labels),
    '',
    ...breachLines(rows),
  ];
  if (a.ablation) lines.push('', 'what each rule gains (vs memcoop > 0: switching it off costs that much score on average):', ...ablationTable(ablation(rows, labels)));
  try {
    mkdirSync(a.out, { recursive: true });
    const file = join(a.out, a.ablation ? 'ablation.svg' : 'sweep.svg');
    writeFileSync(file, renderSweepPlot(rows, a.scenarios, labels, `memcoop sim --sweep${a.ablation ? ' --ablation' : ''}: score against host free memory`));
    lines.push('', `plot: ${file}`);
  } catch (err) {
    console.error(`memcoop sim --sweep: cannot write the plot under ${a.out} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return 2;
  }
  process.stdout.write(lines.join('\n') + '\n');
  if (a.json) {
    const r = (x: number): number => Math.round(x * 10000) / 10000;
    process.stdout.write(JSON.stringify({ rows: rows.map((x) => ({ scenario: x.scenario, freeKiB: x.freeKiB, policy: x.policy, score: r(x.score) })) }) + '\n');
  }
  return 0;
}
