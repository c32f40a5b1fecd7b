// `memcoop sim`: the real supervisor (startDaemon: streams, journal, machines, policy) against
// the embedded simulated host in accelerated virtual time (src/sim/runner.ts). One policy with a
// live table, then static for comparison, a journal and a plot; or --compare: every policy.
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadScenario, scenarioNames, type Scenario } from '../sim/scenario.ts';
import { buildWorkload } from '../hosts/sim/workload.ts';
import { compareRuns, comparisonTable, runtimeTable, type Comparison } from '../sim/compare.ts';
import { LiveTable } from '../sim/live-table.ts';
import { panelsFromTrace, renderPlot } from '../sim/plot.ts';
import { BASELINE_POLICY_NAME, DEFAULT_POLICY_NAME, isPolicyName, POLICY_NAMES } from '../policy/registry.ts';
import { runScenario, totalRuntimeS, type RunOptions, type RunResult } from '../sim/runner.ts';
import { churnLine } from '../sim/churn.ts';
import type { InspectionEvent, Observer } from 'xstate';
import { InputError } from '../util/validate.ts';
import { INSPECT_HELP, withInspection } from './inspect-flags.ts';

/** The paper's four-guest experiment (figure 15): what `npm start` shows. */
export const DEFAULT_SCENARIO = 'paper-4vm';
/**
 * Virtual seconds per wall second on a terminal: paper-4vm runs about 1,000 virtual seconds,
 * so its live table takes about half a minute; --speed or --fast change it.
 */
export const DEFAULT_SPEED = 30;
export const DEFAULT_OUT_DIR = join('out', 'sim');

export const HELP = `usage: memcoop sim [SCENARIO] [--policy NAME] [--compare] [--json] [--out DIR]
                   [--speed N | --fast] [--seed N]
       memcoop sim --sweep [--quick] [--ablation] [...]   (memcoop sim --sweep --help)

Runs memcoop's supervisor (the same streams, journal, guest machines and policy as the daemon)
against the embedded simulated host, in virtual time. SCENARIO is a name from config/scenarios
(default ${DEFAULT_SCENARIO}) or a path to a scenario YAML file.

  --policy NAME  the policy to run: ${POLICY_NAMES.join(', ')} (default ${DEFAULT_POLICY_NAME})
  --compare      run every policy on the scenario and print their runtimes side by side,
                 with each total's ratio to the static allocation's
  --json         end with one JSON line: {"scenario","policies":[{"policy","totalRuntimeS",
                 "ratioToStatic","guests":[{"id","runtimeS"}]}]} (plus "files" without --compare)
  --out DIR      where the journals, logs and plots go (default ${DEFAULT_OUT_DIR})
  --speed N      virtual seconds per wall second for the live table (default ${DEFAULT_SPEED} on a
                 terminal; without a terminal the run goes as fast as it can)
  --fast         as fast as the CPU allows
  --seed N       re-seed every random source of the scenario (workloads, intermittent balloons);
                 the same scenario and seed give the same run and the same journal

Without --compare: a live per-guest table (state, mode, allocation, committed, goal; redrawn in
place on a terminal, a line a minute of virtual time otherwise), then each workload's runtime
next to the static allocation's (static is run too). Every run writes its journal
(DIR/<scenario>-<policy>.journal.jsonl; its header names the policy, and 'memcoop replay'
reproduces the run's decisions from it) and a plot (DIR/<scenario>-<policy>.svg) of each
guest's allocation, target, Committed_AS and working set over time.

Policies: memcoop (ours), paper (the paper's algorithm as written, without memcoop's rules beyond
it), static (no balancing: the baseline), and the peers selfballoon, qmemman, squeezed, mom, each
run at its own pace with its own reserve (src/policy/peers).

--sweep: every policy over host free memory from none to plenty and several seeds, scored
against static with Dom0's unmet need counted (see memcoop sim --sweep --help).

Inspection of the run of the chosen policy (not of the static run beside it):
${INSPECT_HELP}

Scenarios: ${scenarioNames().join(', ')}.
Exit status: 0; 1 if an invariant was violated in a scenario that expects none (or an unsafe
scenario did not fail as it must); 2 on bad usage or a bad scenario.`;

interface Args {
  scenario: string;
  policy: string;
  compare: boolean;
  json: boolean;
  out: string;
  speed: number | null;
  seed: number | undefined;
  /** Inspection of the run of `policy` (not of the static run it is compared with). */
  inspect?: Observer<InspectionEvent>;
}

function parse(argv: string[]): Args | string {
  let v;
  try {
    v = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        policy: { type: 'string' },
        compare: { type: 'boolean' },
        json: { type: 'boolean' },
        out: { type: 'string' },
        speed: { type: 'string' },
        fast: { type: 'boolean' },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return (err as Error).message;
  }
  const o = v.values;
  if (v.positionals.length > 1) return 'at most one SCENARIO';
  const policy = o.policy ?? DEFAULT_POLICY_NAME;
  if (!isPolicyName(policy)) return `unknown policy "${policy}" (one of: ${POLICY_NAMES.join(', ')})`;
  if (o.compare && o.policy !== undefined) return '--compare runs every policy; leave out --policy';
  if (o.fast && o.speed !== undefined) return 'give --speed or --fast, not both';
  let speed: number | null = process.stdout.isTTY && !o.json ? DEFAULT_SPEED : null;
  if (o.fast || o.compare) speed = null;
  if (o.speed !== undefined) {
    speed = Number(o.speed);
    if (!Number.isFinite(speed) || speed <= 0) return `--speed must be a number > 0, got "${o.speed}"`;
  }
  let seed: number | undefined;
  if (o.seed !== undefined) {
    seed = Number(o.seed);
    if (!Number.isSafeInteger(seed) || seed < 0) return `--seed must be a whole number >= 0, got "${o.seed}"`;
  }
  return {
    scenario: v.positionals[0] ?? DEFAULT_SCENARIO,
    policy,
    compare: o.compare ?? false,
    json: o.json ?? false,
    out: o.out ?? DEFAULT_OUT_DIR,
    speed,
    seed,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const show = (p: string): string => {
  const rel = relative(process.cwd(), p);
  return rel.startsWith('..') ? p : rel;
};

interface Written {
  journal: string;
  log: string;
  plot: string;
}

/** A run of one policy writing its journal and log under `out`; the plot is written by the caller. */
async function runOne(scenario: Scenario, policy: string, a: Args, extra: Partial<RunOptions> = {}): Promise<{ run: RunResult; files: Written }> {
  const stem = join(a.out, `${scenario.name}-${policy}`);
  const files = { journal: `${stem}.journal.jsonl`, log: `${stem}.log`, plot: `${stem}.svg` };
  const dest = pino.destination({ dest: files.log, sync: true });
  const logger = pino({ level: 'info', base: { name: 'memcoop', policy } }, dest);
  try {
    const run = await runScenario(scenario, {
      policy,
      journalPath: files.journal,
      logger,
      ...(a.seed !== undefined ? { seed: a.seed } : {}),
      ...(a.inspect !== undefined && policy === a.policy ? { inspect: a.inspect } : {}),
      ...extra,
    });
    return { run, files };
  } finally {
    dest.flushSync();
    dest.end();
  }
}

function workloadNames(s: Scenario): Map<string, string> {
  return new Map(s.sim.guests.map((g) => [g.id, buildWorkload(g.workload).name]));
}

function writePlot(scenario: Scenario, run: RunResult, baseline: RunResult | null, path: string): void {
  const names = workloadNames(scenario);
  const titles = new Map<string, string>();
  for (const o of run.outcomes) {
    const rt = o.runtimeS === null ? (o.killed ? 'killed' : 'unfinished') : `${o.runtimeS.toFixed(1)} s`;
    const b = baseline?.outcomes.find((x) => x.id === o.id)?.runtimeS;
    titles.set(o.id, `${o.id}: ${names.get(o.id) ?? o.workload} (runtime ${rt}${b !== undefined && b !== null && baseline !== run ? `; static ${b.toFixed(1)} s` : ''})`);
  }
  titles.set('dom0', 'Dom0');
  const total = totalRuntimeS(run.outcomes);
  const svg = renderPlot({
    title: `memcoop sim ${scenario.name} · policy ${run.policy}${run.seed !== null ? ` · seed ${run.seed}` : ''}`,
    subtitle: `${scenario.description} · total runtime ${total === null ? 'unfinished' : total.toFixed(1) + ' s'} · ${run.ticks} ticks`,
    panels: panelsFromTrace(run.trace, titles),
  });
  writeFileSync(path, svg);
}

/** Did the run hold up as the scenario expects? Returns a problem to report, or null. */
function verdict(scenario: Scenario, run: RunResult): string | null {
  const rules = new Set(run.violations.map((v) => v.rule));
  if (scenario.expectViolations.length === 0) {
    return run.violations.length === 0 ? null : `${run.violations.length} invariant violation(s) (${[...rules].join(', ')}); first at t=${run.violations[0]!.at} ms: ${run.violations[0]!.detail}`;
  }
  const missing = scenario.expectViolations.filter((r) => !rules.has(r));
  return missing.length === 0 ? null : `this must-fail scenario did not violate ${missing.join(', ')}`;
}

function invariantsLine(scenario: Scenario, run: RunResult): string {
  const problem = verdict(scenario, run);
  if (problem !== null) return `invariants: ${problem}`;
  if (scenario.expectViolations.length > 0) {
    const rules = [...new Set(run.violations.map((v) => v.rule))];
    return `invariants: violated as this must-fail scenario expects (${rules.join(', ')}; ${run.violations.length} in all)`;
  }
  return `invariants: held on all ${run.ticks} ticks`;
}

async function single(scenario: Scenario, a: Args): Promise<number> {
  const tty = process.stdout.isTTY === true && !a.json;
  const note = a.speed === null ? ' (fast)' : ` (x${a.speed})`;
  const table = new LiveTable({ scenario: scenario.name, policy: a.policy, tty, write: (s) => process.stdout.write(s), note });
  const wallStart = Date.now();
  const speed = a.speed;
  const onTick = async (rec: Parameters<LiveTable['update']>[0]): Promise<void> => {
    table.update(rec);
    if (speed !== null) {
      const ahead = rec.at / speed - (Date.now() - wallStart);
      if (ahead > 0) await sleep(ahead);
    }
  };
  const { run, files } = await runOne(scenario, a.policy, a, { onTick });
  table.finish();
  let baseline = run;
  let baseFiles: Written | null = null;
  if (a.policy !== BASELINE_POLICY_NAME) {
    if (!a.json) process.stdout.write(`\nrunning the static allocation for comparison...\n`);
    const b = await runOne(scenario, BASELINE_POLICY_NAME, a);
    baseline = b.run;
    baseFiles = b.files;
    writePlot(scenario, baseline, baseline, baseFiles.plot);
  }
  writePlot(scenario, run, baseline, files.plot);
  const out: string[] = ['', ...runtimeTable(run, baseline, workloadNames(scenario)), ''];
  out.push(invariantsLine(scenario, run));
  out.push(churnLine(run.churn));
  out.push(`journal: ${show(files.journal)} (${run.journaledInputs} inputs; replay: npx memcoop replay ${show(files.journal)})`);
  out.push(`plot:    ${show(files.plot)}`);
  out.push(`log:     ${show(files.log)}`);
  if (baseFiles) out.push(`static:  ${show(baseFiles.journal)}, ${show(baseFiles.plot)}`);
  process.stdout.write(out.join('\n') + '\n');
  if (a.json) {
    const c = compareRuns(scenario.name, a.policy === BASELINE_POLICY_NAME ? [run] : [run, baseline]);
    const filesJson = { journal: resolve(files.journal), plot: resolve(files.plot), log: resolve(files.log) };
    process.stdout.write(JSON.stringify({ ...c, churn: run.churn, files: filesJson }) + '\n');
  }
  return verdict(scenario, run) === null ? 0 : 1;
}

async function compare(scenario: Scenario, a: Args): Promise<number> {
  const runs: RunResult[] = [];
  let failed = false;
  for (const policy of [DEFAULT_POLICY_NAME, ...POLICY_NAMES.filter((p) => p !== DEFAULT_POLICY_NAME)]) {
    process.stderr.write(`memcoop sim: running ${scenario.name} under ${policy}...\n`);
    const { run, files } = await runOne(scenario, policy, a);
    runs.push(run);
    writePlot(scenario, run, null, files.plot);
    const problem = verdict(scenario, run);
    if (problem !== null && policy === DEFAULT_POLICY_NAME) failed = true;
    if (problem !== null) process.stderr.write(`memcoop sim: ${policy}: ${problem}\n`);
  }
  const c: Comparison = compareRuns(scenario.name, runs);
  const lines = ['', ...comparisonTable(c), '', `journals and plots: ${show(a.out)}/${scenario.name}-<policy>.{journal.jsonl,svg}`];
  process.stdout.write(lines.join('\n') + '\n');
  if (a.json) process.stdout.write(JSON.stringify(c) + '\n');
  return failed ? 1 : 0;
}

export async function run(argv: string[]): Promise<number> {
  // The sweep has its own options (src/cli/sweep.ts).
  if (argv.includes('--sweep')) return (await import('./sweep.ts')).run(argv.filter((x) => x !== '--sweep'));
  return withInspection('sim', argv, (rest, inspect) => simCommand(rest, inspect));
}

async function simCommand(argv: string[], inspect: Observer<InspectionEvent> | undefined): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const a = parse(argv);
  if (typeof a === 'string') {
    console.error(`memcoop sim: ${a}\n\n${HELP}`);
    return 2;
  }
  let scenario: Scenario;
  try {
    scenario = loadScenario(a.scenario);
  } catch (err) {
    if (err instanceof InputError) {
      console.error(`memcoop sim: ${err.message}`);
      return 2;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
      console.error(`memcoop sim: no scenario "${a.scenario}" (${(err as Error).message}); shipped: ${scenarioNames().join(', ')}`);
      return 2;
    }
    throw err;
  }
  try {
    mkdirSync(a.out, { recursive: true });
  } catch (err) {
    // A file where the folder should be (ENOTDIR, EEXIST), or no permission: one line, exit 2.
    console.error(`memcoop sim: --out ${a.out} is not a folder memcoop can use (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return 2;
  }
  if (!statSync(a.out).isDirectory()) {
    console.error(`memcoop sim: --out ${a.out} is a file, not a folder`);
    return 2;
  }
  if (inspect !== undefined) a.inspect = inspect;
  return a.compare ? compare(scenario, a) : single(scenario, a);
}
