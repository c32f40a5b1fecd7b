// npm run bench:sim [-- --json] [--guests N] [--ticks N] [--no-journal] [--inspect-file]
// Supervisor work per tick with 1,000 simulated guests, through the same runner as `memcoop sim`
// (startDaemon: streams, journal, supervisor, guest machines, the paper's policy) on a virtual
// clock. Per tick it separates the simulator's own stepping from the supervisor's work: the host
// events (every guest's report and the host sample) through the streams, the journal and the
// machines; the tick (Algorithm 1 and the writes); and the timers between steps. CPU share at a
// 1 s tick = supervisor ms per tick / 1000. Goal (issue 3): under 10 ms per tick.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readScenario, type Scenario } from '../src/sim/scenario.ts';
import { runScenario, type TickTiming } from '../src/sim/runner.ts';
import { quantile } from './stats.ts';
import { openInspection } from '../src/inspect/inspection.ts';

/** Issue 3: supervisor work per tick at 1,000 guests. */
const GOAL_MS = 10;
/** The paper's tick. */
const TICK_S = 1;
/** Untimed ticks first: guests register and settle, the JIT warms up. */
const WARMUP_TICKS = 30;
const DEFAULT_TICKS = 120;
const DEFAULT_GUESTS = 1000;
/** Each guest starts at 256 MiB; the host has this much over Dom0 + the guests (scarce: the global balance runs). */
const SPARE_MIB = 256;

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${name} needs a whole number > 0`);
  return v;
}

/** n guests running the paper's random workload (each its own seed), a tenth of them compute-bound. */
function bigScenario(n: number, ticks: number): Scenario {
  const guests = Array.from({ length: n }, (_, i) => ({
    id: `g${String(i).padStart(4, '0')}`,
    initialMiB: 256,
    minMiB: 128,
    maxMiB: 512,
    selfAdjust: i % 2 === 0,
    workload:
      i % 10 === 9
        ? { kind: 'compute', cpuS: 30, memMiB: 16, iterations: 20 }
        : { kind: 'random', lowMiB: 40, highMiB: 300, phases: 400, touchesPerPhase: 65536, cpuMsPerPhase: 1000, seed: i + 1 },
  }));
  return readScenario(
    {
      name: `bench-${n}`,
      durationS: WARMUP_TICKS + ticks,
      tickS: TICK_S,
      stepS: TICK_S,
      host: { totalMiB: 256 + n * 256 + SPARE_MIB, dom0: { initialMiB: 256, minMiB: 256, maxMiB: 512, committedMiB: 200 } },
      guests,
    },
    'bench',
  );
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const n = arg('--guests', DEFAULT_GUESTS);
  const ticks = arg('--ticks', DEFAULT_TICKS);
  const journal = !process.argv.includes('--no-journal');
  // --inspect-file: what inspection costs (every machine's events to a file, as --inspect-file does).
  const inspectFile = process.argv.includes('--inspect-file');
  const scenario = bigScenario(n, ticks);
  const dir = mkdtempSync(join(tmpdir(), 'memcoop-bench-sim-'));
  let timings: TickTiming[];
  let states: string;
  try {
    const inspection = inspectFile ? await openInspection({ file: join(dir, 'bench.inspect.jsonl') }) : null;
    const r = await runScenario(scenario, {
      measure: true,
      trace: false,
      keepDecisions: false,
      ...(journal ? { journalPath: join(dir, 'bench.journal.jsonl') } : {}),
      ...(inspection ? { inspect: inspection.observer } : {}),
    });
    await inspection?.close();
    timings = r.timings.slice(WARMUP_TICKS);
    if (r.violations.length > 0) throw new Error(`bench run violated an invariant: ${r.violations[0]!.detail}`);
    states = `${r.decisionCount} decisions, ${r.journaledInputs} inputs journaled`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const col = (f: (t: TickTiming) => number) => {
    const xs = timings.map(f);
    return { median: r3(quantile(xs, 0.5)), p99: r3(quantile(xs, 0.99)) };
  };
  const sup = col((t) => t.supervisorMs);
  const rows = [
    ['supervisor (all below)', sup],
    ['  host events: streams + journal + machines', col((t) => t.eventsMs)],
    ['  tick: policy + plan + machines + writes', col((t) => t.tickMs)],
    ['  timers (rate limit)', col((t) => t.timersMs)],
    ['simulator stepping (not supervisor)', col((t) => t.simMs)],
  ] as const;
  const cpuShare = r3(sup.median / (TICK_S * 1000));
  console.log(`bench:sim  ${n} simulated guests, ${timings.length} timed ticks after ${WARMUP_TICKS} warm-up, journal ${journal ? 'on' : 'off'}, inspection ${inspectFile ? 'to a file' : 'off'} (${states})`);
  console.log(`${'ms per tick'.padEnd(46)} ${'median'.padStart(9)} ${'p99'.padStart(9)}`);
  for (const [name, v] of rows) console.log(`${name.padEnd(46)} ${v.median.toFixed(3).padStart(9)} ${v.p99.toFixed(3).padStart(9)}`);
  console.log(`CPU share at a ${TICK_S} s tick: ${(cpuShare * 100).toFixed(2)} %  (goal: under ${GOAL_MS} ms per tick: ${sup.median < GOAL_MS ? 'met' : 'NOT met'})`);
  if (json) {
    console.log(
      JSON.stringify({
        guests: n,
        ticks: timings.length,
        journal,
        supervisorMsPerTick: sup,
        eventsMsPerTick: col((t) => t.eventsMs),
        tickMsPerTick: col((t) => t.tickMs),
        simMsPerTick: col((t) => t.simMs),
        cpuShareAt1s: cpuShare,
        goalMs: GOAL_MS,
      }),
    );
  }
}

await main();
