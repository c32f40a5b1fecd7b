// The simulator runner behind `memcoop sim`, the scenario tests, bench:sim and the sweep: the
// production shell (startDaemon: host -> input streams -> journal -> supervisor and its guest
// machines -> effects back to the host) against a SimHost, on a VirtualClock that the runner
// advances, so virtual time runs as fast as the CPU allows and every run is reproducible.
//
// Each tick: step the simulator tickMs/stepMs times; after each step its events (reports, the
// host sample) reach the supervisor at the step's instant, then whatever the clock has due at
// that instant runs (the tick at tick boundaries: Algorithm 1 decides on that sample), and then
// the targets and modes the supervisor wrote are applied to the simulator in the order it wrote
// them (SteppedHost). After the last step the invariants are checked on the host as it stands
// (snapshotOf + checkInvariants against the previous tick's snapshot).
import { performance } from 'node:perf_hooks';
import { startDaemon, type DaemonOptions } from '../daemon/daemon.ts';
import { checkInvariants, snapshotOf, type InvariantRule, type Snapshot, type Violation } from './invariants.ts';
import type { Scenario } from './scenario.ts';
import { SimHost, memoryOf, type GuestOutcome } from '../hosts/sim/sim-host.ts';
import { hostFreeKiB } from '../hosts/sim/state.ts';
import { currentPhase, DOM0 } from '../hosts/sim/step.ts';
import { silentLogger, type Logger } from '../log/logger.ts';
import { DEFAULT_SUPERVISOR_CONFIG, type SupervisorConfig } from '../vocabulary/config.ts';
import { guestStateName, type GuestSnapshot, type GuestStateName } from '../machines/guest.ts';
import { guestFacts, guestSystemId } from '../machines/supervisor.ts';
import type { DecisionEvent } from '../vocabulary/writes.ts';
import { DEFAULT_PARAMS } from '../policy/defaults.ts';
import type { Decision, PolicyParams } from '../policy/types.ts';
import { checkPolicyName, DEFAULT_POLICY_NAME, type PolicyName } from '../policy/registry.ts';
import { isSafe } from '../policy/unsafe.ts';
import { reseed } from './seed.ts';
import { SteppedHost } from '../hosts/sim/stepped-host.ts';
import { VirtualClock } from './virtual-clock.ts';
import { ChurnMeter, type ChurnReport } from './churn.ts';
import type { Mode } from '../vocabulary/mode.ts';

/** One guest at the end of a tick: what the supervisor thinks and what the simulator knows. */
export interface GuestTick {
  id: string;
  /** The guest machine's state; null when the supervisor has no machine for it. */
  machine: GuestStateName | null;
  /** The mode last written to the guest's agent (null: none yet). */
  mode: Mode | null;
  actualKiB: number;
  /** The target last written (null: none yet). */
  targetKiB: number | null;
  /** The policy's goal for the guest at the last tick (null: none yet). */
  goalKiB: number | null;
  /** The guest kernel's Committed_AS. */
  committedKiB: number;
  /** What the current phase touches (anonymous + file pages); 0 once the workload is done. */
  workingSetKiB: number;
  /** The current phase's label; null once done. */
  phase: string | null;
  done: boolean;
}

export interface TickRecord {
  at: number;
  /** The last decision's classification (null before the first decision). */
  state: Decision['state'] | null;
  hostFreeKiB: number;
  dom0: { actualKiB: number; targetKiB: number | null; committedKiB: number };
  /** Live guests, in the scenario's order. */
  guests: GuestTick[];
}

export interface RunOptions {
  /** A name from POLICIES (default memcoop). The scenario's `unsafe` switches wrap it. */
  policy?: string;
  /** Policy parameters over the scenario's own (the sweep). */
  params?: Partial<PolicyParams>;
  /** Re-seeds the scenario's random sources (seed.ts); absent: the scenario's own seeds. */
  seed?: number;
  /** Where to write the journal; none when absent. */
  journalPath?: string;
  logger?: Logger;
  /** Keep a TickRecord per tick (default true; bench:sim turns it off at 1,000 guests). */
  trace?: boolean;
  /** Keep every decision event (for replay checks). */
  keepDecisions?: boolean;
  /** Called after each tick (the live table); awaited, so it may pace the run in wall time. */
  onTick?: (rec: TickRecord) => void | Promise<void>;
  /** End the run as soon as every one of these rules has been violated (must-fail scenarios). */
  stopWhenViolated?: readonly InvariantRule[];
  /** Time the simulator's steps and the supervisor's work per tick (performance.now()). */
  measure?: boolean;
  /** The actor system's inspection events (--inspect). */
  inspect?: DaemonOptions['inspect'];
}

export interface TickTiming {
  /** The simulator: stepping its model and applying the supervisor's writes to it, ms. */
  simMs: number;
  /** Streams + journal + supervisor + machines + policy on this tick's inputs: the three below, ms. */
  supervisorMs: number;
  /** Host events (reports, the sample) through the streams, the journal and the machines, ms. */
  eventsMs: number;
  /** The tick: Algorithm 1 (policy, plan, guest machines, effects written to the host), ms. */
  tickMs: number;
  /** Timers due between steps (the report rate limit's trailing values), ms. */
  timersMs: number;
}

export interface RunResult {
  scenario: string;
  policy: string;
  seed: number | null;
  params: PolicyParams;
  ticks: number;
  endMs: number;
  /** Every workload finished (or was killed) before the scenario's duration ran out. */
  completed: boolean;
  outcomes: GuestOutcome[];
  violations: Violation[];
  decisions: DecisionEvent[];
  decisionCount: number;
  trace: TickRecord[];
  journalPath: string | null;
  journaledInputs: number;
  rejectedReports: ReadonlyMap<string, number>;
  timings: TickTiming[];
  /** How often guest targets were written, and how many decreases were replaced before landing (churn.ts). */
  churn: ChurnReport;
}

/**
 * The supervisor config a scenario runs with: the policy (by name: the journal header records it,
 * so `memcoop replay` runs the same one), its parameters, and Dom0's bounds from the scenario.
 */
export function supervisorConfigFor(scenario: Scenario, params: PolicyParams, policy: PolicyName = DEFAULT_POLICY_NAME): SupervisorConfig {
  return {
    ...DEFAULT_SUPERVISOR_CONFIG,
    policy,
    params: { ...params },
    dom0: { minKiB: scenario.sim.dom0.minKiB, maxKiB: scenario.sim.dom0.maxKiB },
    // The safety switches ride in the config: the journal header names them and a replay
    // (memcoop replay) wraps the policy as the run did.
    ...(isSafe(scenario.unsafe) ? {} : { unsafe: { ...scenario.unsafe } }),
  };
}

/** Lets every settled promise's handlers run (effect failures reach the supervisor here). */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export async function runScenario(scenarioIn: Scenario, opts: RunOptions = {}): Promise<RunResult> {
  const scenario = reseed(scenarioIn, opts.seed);
  const policyName = checkPolicyName(opts.policy ?? DEFAULT_POLICY_NAME);
  const params: PolicyParams = { ...DEFAULT_PARAMS, ...scenario.params, ...opts.params };
  const config = supervisorConfigFor(scenario, params, policyName);
  const logger = opts.logger ?? silentLogger();
  const keepTrace = opts.trace ?? true;
  const measure = opts.measure ?? false;
  const clock = new VirtualClock();
  const sim = new SimHost(scenario.sim, { logger });
  const host = new SteppedHost(sim);

  const daemon = await startDaemon({
    host,
    // No policy given: the supervisor runs the one config names, with config.unsafe's switches,
    // which is exactly what a replay of the journal runs.
    config,
    logger,
    scheduler: clock,
    tickMs: scenario.tickMs,
    ...(opts.journalPath !== undefined ? { journalPath: opts.journalPath } : {}),
    ...(opts.inspect !== undefined ? { inspect: opts.inspect } : {}),
  });
  host.applyWrites(); // the handshake's answers to the agents present at start
  const decisions: DecisionEvent[] = [];
  let lastDecision: Decision | null = null;
  let decisionCount = 0;
  daemon.decisions$.subscribe((e) => {
    lastDecision = e.decision;
    decisionCount += 1;
    if (opts.keepDecisions) decisions.push(e);
  });

  const violations: Violation[] = [];
  const seen = new Set<InvariantRule>();
  const stopRules = opts.stopWhenViolated ?? [];
  const trace: TickRecord[] = [];
  const timings: TickTiming[] = [];
  const stepsPerTick = Math.round(scenario.tickMs / scenario.stepMs);
  let prev: Snapshot | null = snapshotOf(sim.state);
  let ticks = 0;
  const churn = new ChurnMeter(config.balloonSlackKiB);
  let requestsSeen = 0;
  // The guest target writes applied since the last call, each with its balloon's allocation then.
  const meterWrites = (): void => {
    const rs = sim.requests;
    for (; requestsSeen < rs.length; requestsSeen++) {
      const r = rs[requestsSeen]!;
      if (r.kind !== 'target' || r.id === DOM0 || r.targetKiB === undefined) continue;
      const g = sim.state.guests.find((x) => x.config.id === r.id);
      if (g !== undefined) churn.write(r.id, r.targetKiB, g.balloon.actualKiB);
    }
  };

  const record = (): TickRecord => {
    const s = sim.state;
    const supervisor = daemon.actor.getSnapshot();
    const guests: GuestTick[] = [];
    for (const g of s.guests) {
      if (g.status !== 'running') continue;
      const ref = daemon.actor.system.get(guestSystemId(g.config.id)) as { getSnapshot(): GuestSnapshot } | undefined;
      const snap = ref?.getSnapshot();
      const facts = guestFacts(supervisor, g.config.id);
      const phase = currentPhase(g);
      guests.push({
        id: g.config.id,
        machine: snap ? guestStateName(snap) : null,
        mode: g.mode,
        actualKiB: g.balloon.actualKiB,
        targetKiB: g.balloon.targetKiB,
        goalKiB: facts?.goalKiB ?? null,
        committedKiB: memoryOf(g).committedKiB,
        workingSetKiB: phase === null ? 0 : phase.anonKiB + phase.fileKiB,
        phase: phase?.label ?? null,
        done: g.finishedAtMs !== null || g.killedAtMs !== null,
      });
    }
    const last = lastDecision as Decision | null;
    return {
      at: s.atMs,
      state: last?.state ?? null,
      hostFreeKiB: hostFreeKiB(s),
      dom0: { actualKiB: s.dom0.balloon.actualKiB, targetKiB: s.dom0.balloon.targetKiB, committedKiB: s.dom0.committedKiB },
      guests,
    };
  };

  try {
    while (sim.now < scenario.durationMs && !sim.allDone()) {
      const tm = { simMs: 0, supervisorMs: 0, eventsMs: 0, tickMs: 0, timersMs: 0 };
      const now = measure ? () => performance.now() : () => 0;
      for (let k = 0; k < stepsPerTick; k++) {
        const t = sim.now + scenario.stepMs;
        const t0 = now();
        clock.advanceTo(t); // rate-limit timers due before this instant
        const t1 = now();
        host.step(scenario.stepMs);
        const t2 = now();
        host.deliver(); // this instant's reports and sample
        const t3 = now();
        clock.runDue(); // and the tick, when this is a tick boundary
        const t4 = now();
        host.applyWrites(); // the targets and modes the supervisor issued, in its order
        const t5 = now();
        meterWrites();
        tm.timersMs += t1 - t0;
        tm.simMs += t2 - t1 + (t5 - t4);
        tm.eventsMs += t3 - t2;
        tm.tickMs += t4 - t3;
      }
      await drainMicrotasks();
      if (measure) timings.push({ ...tm, supervisorMs: tm.timersMs + tm.eventsMs + tm.tickMs });
      const cur = snapshotOf(sim.state);
      for (const v of checkInvariants(prev, cur, { reserveKiB: params.reserveKiB })) {
        violations.push(v);
        seen.add(v.rule);
      }
      prev = cur;
      ticks += 1;
      if (keepTrace || opts.onTick) {
        const rec = record();
        if (keepTrace) trace.push(rec);
        if (opts.onTick) await opts.onTick(rec);
      }
      if (stopRules.length > 0 && stopRules.every((r) => seen.has(r))) break;
    }
  } finally {
    await daemon.stop();
  }

  const journaledInputs = daemon.journal?.appended ?? 0;
  return {
    scenario: scenario.name,
    policy: policyName,
    seed: opts.seed ?? null,
    params,
    ticks,
    endMs: sim.now,
    completed: sim.allDone(),
    outcomes: sim.outcomes(),
    violations,
    decisions,
    decisionCount,
    trace,
    journalPath: opts.journalPath ?? null,
    journaledInputs,
    rejectedReports: sim.rejectedReports,
    timings,
    churn: churn.report(scenario.sim.guests.length, sim.now),
  };
}

/** Sum of the guests' runtimes, or null if any did not finish (killed or out of time). */
export function totalRuntimeS(outcomes: readonly GuestOutcome[]): number | null {
  let sum = 0;
  for (const o of outcomes) {
    if (o.runtimeS === null) return null;
    sum += o.runtimeS;
  }
  return sum;
}
