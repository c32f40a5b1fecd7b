// npm run bench:supervisor [-- --json]
// Supervisor work per tick (issue 3's budget: under 10 ms at 1,000 guests): the real supervisor
// machine, the paper's policy, no logging, effects recorded. One round is what a tick costs in
// the daemon: every guest's report for the tick, one host.sample, and the tick itself. The test
// plays an ideal-balloon host (a written target is the allocation at the next sample). Two
// regimes: abundant (host free covers every commit: self adjustment) and scarce (the global
// balance every tick). Median and p99 of the round's wall time over many rounds.
import { performance } from 'node:perf_hooks';
import { createActor } from 'xstate';
import { DEFAULT_SUPERVISOR_CONFIG } from '../src/vocabulary/config.ts';
import type { SupervisorInput } from '../src/vocabulary/events.ts';
import { createSupervisorMachine, type SupervisorActor } from '../src/machines/supervisor.ts';
import { DOM0_ID } from '../src/vocabulary/writes.ts';
import { rng } from '../src/hosts/sim/rng.ts';
import { quantile } from './stats.ts';
import { MIB } from '../src/vocabulary/units.ts';

const SIZES = [10, 100, 1000];
/** Rounds timed per size and regime, after WARMUP_ROUNDS untimed ones (JIT, steady state). */
const ROUNDS: Record<number, number> = { 10: 2000, 100: 600, 1000: 150 };
const WARMUP_ROUNDS = 20;
const TICK_MS = 1000;
/** Issue 3: supervisor work per tick at 1,000 guests. */
const GOAL_MS_AT_1000 = 10;
const SEED = 20110512;

const pages = (kib: number) => Math.floor(kib / 4) * 4;

type Regime = 'abundant' | 'scarce';

interface Report {
  id: string;
  committedKiB: number;
  freeKiB: number;
  swapTotalKiB: number;
  swapFreeKiB: number;
}

/** The reports of one round, as the supervisor's input stream delivers them. */
function sendReports(actor: SupervisorActor, at: number, reports: Report[]): void {
  actor.send({ type: 'agent.reports', at, reports });
}

function setup(n: number, regime: Regime) {
  const r = rng(SEED + n + (regime === 'scarce' ? 1 : 0));
  const ids = Array.from({ length: n }, (_, i) => `g${String(i).padStart(5, '0')}`);
  const alloc: Record<string, number> = {};
  const base: Record<string, number> = {};
  const writes: { id: string; targetKiB: number }[] = [];
  const machine = createSupervisorMachine().provide({
    actions: {
      writeTarget: (_, p) => void writes.push(p),
      writeMode: () => {},
    },
  });
  const actor = createActor(machine, { input: DEFAULT_SUPERVISOR_CONFIG });
  actor.start();
  let now = 0;
  const send = (e: SupervisorInput) => actor.send(e);
  for (const [i, id] of ids.entries()) {
    alloc[id] = pages((256 + 256 * r()) * MIB);
    base[id] = pages((200 + 400 * r()) * MIB);
    send({ type: 'guest.appeared', at: (now += 1), id, domid: i + 1, minKiB: 128 * MIB, maxKiB: 2048 * MIB, currentKiB: alloc[id]!, shares: 1 });
  }
  for (const [i, id] of ids.entries()) send({ type: 'agent.hello', at: (now += 1), id, protocol: 1, selfAdjust: i % 4 !== 0 });
  let dom0 = 1024 * MIB;
  const sumBase = Object.values(base).reduce((s, x) => s + x, 0);
  // Abundant: room for every commit and more; scarce: 80% of what the guests commit on average.
  const hostKiB = dom0 + (regime === 'abundant' ? 2 * sumBase + n * 512 * MIB : Math.floor(0.8 * sumBase));
  let round = 0;
  return {
    actor,
    /** One round: reports, the host's sample, the tick; returns ms of supervisor work. */
    run(): number {
      round++;
      // The host: last round's targets have landed.
      for (const w of writes.splice(0)) {
        if (w.id === DOM0_ID) dom0 = w.targetKiB;
        else alloc[w.id] = w.targetKiB;
      }
      const reports: Report[] = ids.map((id, i) => ({
        id,
        // Working sets that drift: each guest on its own slow wave around its base.
        committedKiB: pages(base[id]! * (1 + 0.3 * Math.sin((round + i) / 7))),
        freeKiB: pages(16 * MIB + 32 * MIB * r()),
        swapTotalKiB: 512 * MIB,
        swapFreeKiB: pages(512 * MIB * (0.5 + 0.5 * r())),
      }));
      let used = dom0;
      for (const id of ids) used += alloc[id]!;
      const tickAt = round * TICK_MS;
      const sample: SupervisorInput = {
        type: 'host.sample',
        at: tickAt - 5,
        freeKiB: Math.max(0, hostKiB - used),
        dom0: { currentKiB: dom0, committedKiB: 900 * MIB },
        allocations: { ...alloc },
      };
      const t0 = performance.now();
      sendReports(actor, tickAt - 10, reports);
      send(sample);
      send({ type: 'tick', at: tickAt });
      return performance.now() - t0;
    },
  };
}

interface Row {
  guests: number;
  regime: Regime;
  medianMs: number;
  p99Ms: number;
  rounds: number;
}

const json = process.argv.includes('--json');
const rows: Row[] = [];
for (const n of SIZES) {
  for (const regime of ['abundant', 'scarce'] as const) {
    const s = setup(n, regime);
    for (let i = 0; i < WARMUP_ROUNDS; i++) s.run();
    const times: number[] = [];
    const rounds = ROUNDS[n] ?? 100;
    for (let i = 0; i < rounds; i++) times.push(s.run());
    s.actor.stop();
    times.sort((a, b) => a - b);
    rows.push({ guests: n, regime, medianMs: quantile(times, 0.5), p99Ms: quantile(times, 0.99), rounds });
  }
}

const fmt = (ms: number) => (ms < 1 ? ms.toFixed(3) : ms.toFixed(2));
const header = ['guests', 'regime', 'median ms', 'p99 ms', 'rounds'];
const lines = rows.map((r) => [String(r.guests), r.regime, fmt(r.medianMs), fmt(r.p99Ms), String(r.rounds)]);
const widths = header.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c]!.length)));
const show = (cells: string[]) => cells.map((s, c) => s.padStart(widths[c]!)).join('  ');
console.log('supervisor work per tick (one report per guest + one host.sample + the tick), node ' + process.version);
console.log(show(header));
for (const l of lines) console.log(show(l));
const worst = Math.max(...rows.filter((r) => r.guests === 1000).map((r) => r.medianMs));
console.log(`goal: 1,000 guests under ${GOAL_MS_AT_1000} ms per tick (median, worse regime): ${fmt(worst)} ms, ${worst < GOAL_MS_AT_1000 ? 'met' : 'NOT met'}`);
if (json) console.log(JSON.stringify({ rows }));
