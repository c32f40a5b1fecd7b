// The supervisor's protocol decisions as pure functions: each takes the supervisor's context, the
// input, and what the guests' machines say of their lifecycles, and returns a Step: the context
// to assign, the effects to issue in order (mode and target writes), the events its guests'
// machines get, the log entries and the event to emit. The machine (supervisor.ts) picks the
// handler by state and named guard, and enqueues what it returns; the one-guest test harness
// drives the per-guest parts (helloGuest, reportGuest, planTick, tickGuest) directly.
//
// Nothing here reads a clock or a child actor: time is the input's `at`, and a guest's lifecycle
// comes in through `lifeOf`, which the machine answers from its children's snapshots.
import { isPaging } from '../policy/pressure.ts';
import { releaseReservedToFree, withReservation } from '../policy/reservation.ts';
import { ruleOn } from '../policy/rules.ts';
import { freeBudget, selfAdjustStep, type SelfStepGuest } from '../policy/self-step.ts';
import type { Decision, Policy } from '../policy/types.ts';
import type { SupervisorConfig } from '../vocabulary/config.ts';
import { PROTOCOL_VERSION, type AgentHello, type AgentReports, type ConfigChanged, type EffectFailed, type GuestAppeared, type HostSample, type ReportEntry, type ReserveSet } from '../vocabulary/events.ts';
import {
  answerHello,
  applyAllocation,
  applyEffectFailed,
  applyHello,
  applyReport,
  keptReport,
  newFacts,
  participates,
  tickGuest,
  withFacts,
  type GuestFacts,
  type GuestLimits,
  type GuestSignal,
  type Lifecycle,
} from './facts.ts';
import type { GuestEvent } from './guest.ts';
import { buildDecideInput, MIN_TARGET_CHANGE_KIB, orderTargetWrites, planTick, runPolicy, withinDeadband, type GuestView, type HostFacts, type TargetMove } from './plan.ts';
import { DOM0_ID, type SupervisorEmitted, type Write } from '../vocabulary/writes.ts';

export interface SupervisorContext {
  config: SupervisorConfig;
  /** Live guests, sorted: the order guests are given to the policy (replays see the same order). */
  guestIds: string[];
  /** Each live guest's facts, in the order of guestIds. */
  facts: GuestFacts[];
  host: HostFacts | null;
  dom0WrittenTargetKiB: number | null;
  /** Last tick's decision, in short: what the regime guards read, and what log lines compare with. */
  last: LastDecision;
  /** Ticks that ran the policy: the clock silence and stalls are counted by. */
  ticks: number;
  /** Free memory not yet spoken for: what prompt self steps may still grow guests by. */
  promptBudgetKiB: number;
  /** Guest machines spawned so far: the next one's actor id (see guestActorId in supervisor.ts). */
  spawnedGuests: number;
  /** Memory reserved for domains about to start (reserve.set): served as Dom0's need, kept free. */
  reservedKiB: number;
}

export interface LastDecision {
  state: Decision['state'] | null;
  overcommitted: boolean;
  reclaimKiB: number;
  dom0GoalKiB: number | null;
}

/** One log line for the machine to write: the supervisor's own, or a guest's (bound to its domid). */
export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  /** The guest's domid: the line goes to that guest's logger. Absent: the supervisor's. */
  domid?: number;
  fields?: Record<string, unknown>;
  msg: string;
}

/** What a handler returns; the machine enqueues it in this order: logs, writes, guest events, assign, emit. */
export interface Step {
  assign: Partial<SupervisorContext> | null;
  writes: Write[];
  /** Events for guest machines: `index` is the guest's place in the context's guestIds before the step. */
  signals: { index: number; event: GuestEvent }[];
  logs: LogEntry[];
  emit: SupervisorEmitted | null;
}

/** A guest's lifecycle as its machine has it; null when it has no machine. */
export type LifeOf = (index: number) => Lifecycle | null;

export function emptyStep(): Step {
  return { assign: null, writes: [], signals: [], logs: [], emit: null };
}

function logOnly(entry: LogEntry): Step {
  const s = emptyStep();
  s.logs.push(entry);
  return s;
}

export function limitsOf(c: SupervisorConfig): GuestLimits {
  return { silenceTicks: c.silenceTicks, stuckTicks: c.stuckTicks, stuckRetryTicks: c.stuckRetryTicks, balloonSlackKiB: c.balloonSlackKiB };
}

/** The write deadband (plan.ts), unless the rules switch it off; the paper's policy has none. */
export function deadbandOf(c: SupervisorConfig): number {
  return c.policy === 'paper' || !ruleOn(c.params, 'deadband') ? 0 : MIN_TARGET_CHANGE_KIB;
}

/** Copy-on-write over the facts array: one copy per input at most, only if something changed. */
export function factsWriter(base: GuestFacts[]) {
  let out: GuestFacts[] | null = null;
  return {
    get: (i: number): GuestFacts => (out ?? base)[i]!,
    set(i: number, f: GuestFacts): void {
      if ((out ?? base)[i] === f) return;
      out ??= base.slice();
      out[i] = f;
    },
    result: (): GuestFacts[] => out ?? base,
  };
}

export function withAt(s: GuestSignal, at: number): GuestEvent {
  return { ...s, at } as GuestEvent;
}

/** Memory promised to guests and not yet seen landed: written targets above the allocation. */
export function pendingIncreases(facts: readonly GuestFacts[]): number {
  let sum = 0;
  for (const f of facts) if (f.writtenTargetKiB !== null && f.writtenTargetKiB > f.currentKiB) sum += f.writtenTargetKiB - f.currentKiB;
  return sum;
}

function sortedPosition(ids: readonly string[], id: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ids[mid]! < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// --- registration ------------------------------------------------------------------------------

/** A new guest: its facts go in at its sorted place; the machine spawns its guest machine. */
export function onAppeared(c: SupervisorContext, e: GuestAppeared): Step {
  const f = newFacts(e, c.ticks);
  const at = sortedPosition(c.guestIds, e.id);
  const guestIds = c.guestIds.slice();
  guestIds.splice(at, 0, e.id);
  const facts = c.facts.slice();
  facts.splice(at, 0, f);
  const s = emptyStep();
  s.logs.push({
    level: 'info',
    domid: f.domid,
    fields: { minKiB: f.minKiB, maxKiB: f.maxKiB, currentKiB: f.currentKiB, shares: f.shares },
    msg: 'guest appeared; waiting for its agent',
  });
  s.assign = { guestIds, facts, spawnedGuests: c.spawnedGuests + 1 };
  return s;
}

export function onDuplicateGuest(e: GuestAppeared): Step {
  return logOnly({ level: 'warn', fields: { domid: e.domid, at: e.at }, msg: 'guest.appeared for a guest already known; ignored' });
}

export function onReservedGuest(e: GuestAppeared): Step {
  return logOnly({ level: 'warn', fields: { at: e.at }, msg: 'guest.appeared with a reserved id or a bad domid; ignored' });
}

/** A guest left: its machine is told and stopped (by the machine), its facts dropped. */
export function onLeft(c: SupervisorContext, index: number, at: number): Step {
  const s = emptyStep();
  s.signals.push({ index, event: { type: 'left', at } });
  s.assign = { guestIds: c.guestIds.filter((_, k) => k !== index), facts: c.facts.filter((_, k) => k !== index) };
  return s;
}

export function onUnknownGuest(e: { type: string; at: number }): Step {
  return logOnly({ level: 'debug', fields: { at: e.at }, msg: `${e.type} for an unknown guest; ignored` });
}

/** The supervisor's half of the handshake for one guest: its new facts, the event its machine gets, the mode write. */
export function helloGuest(f: GuestFacts, life: Lifecycle, e: Pick<AgentHello, 'at' | 'id' | 'protocol' | 'selfAdjust'>, ticks: number) {
  const { accepted, mode } = answerHello(life, e.protocol, e.selfAdjust, PROTOCOL_VERSION);
  const event: GuestEvent = accepted
    ? { type: 'registered', at: e.at, protocol: e.protocol, selfAdjust: e.selfAdjust, mode }
    : { type: 'rejected', at: e.at, protocol: e.protocol };
  const write: Write = { kind: 'mode', id: e.id, mode, protocol: PROTOCOL_VERSION };
  return { facts: applyHello(f, life, mode, accepted, ticks), event, write, accepted, mode };
}

/**
 * The handshake: the agent announced its protocol and preference; the answer is its mode. A
 * first registration (or one after the guest went unmanaged) gets the agent's preference; an
 * agent that says hello again while managed is told the mode the supervisor gave it; an agent
 * of another protocol version is refused and held.
 */
export function onHello(c: SupervisorContext, e: AgentHello, index: number, life: Lifecycle): Step {
  const g = helloGuest(c.facts[index]!, life, e, c.ticks);
  const facts = factsWriter(c.facts);
  facts.set(index, g.facts);
  const s = emptyStep();
  s.signals.push({ index, event: g.event });
  s.writes.push(g.write);
  s.assign = { facts: facts.result() };
  s.emit = { type: 'handshake', at: e.at, id: e.id, accepted: g.accepted, mode: g.mode };
  return s;
}

/** Whether the agent's hello speaks the protocol version this supervisor does. */
export function speaksOurProtocol(e: AgentHello): boolean {
  return e.protocol === PROTOCOL_VERSION;
}

// --- reports and prompt self steps --------------------------------------------------------------

/**
 * One report for one guest: its new facts (the report as keptReport keeps it: the policy's
 * fields, PSI, and swap-ins since the previous one), and the event its machine gets if its
 * lifecycle changes.
 */
export function reportGuest(f: GuestFacts, life: Lifecycle, r: Omit<ReportEntry, 'id'>, at: number, ticks: number) {
  const out = applyReport(f, life, keptReport(r, f.report), ticks);
  return { facts: out.facts, event: out.signal === null ? null : withAt(out.signal, at) };
}

/**
 * A batch of reports: each known guest's facts take its report. With `selfStep` (the regime is
 * abundant and memcoop's own policy runs), the reporting self-adjusting guests move at once
 * (policy/self-step.ts, paper Algorithm 2) within the prompt budget, and a `selfStep` is emitted.
 */
export function onReports(c: SupervisorContext, e: AgentReports, index: ReadonlyMap<string, number>, lifeOf: LifeOf, selfStep: boolean, debug: boolean): Step {
  const facts = factsWriter(c.facts);
  const s = emptyStep();
  const selfAdjusting: number[] = [];
  const seen = new Set<number>();
  let unknown = 0;
  for (const r of e.reports) {
    const i = index.get(r.id);
    const life = i === undefined ? null : lifeOf(i);
    if (i === undefined || life === null) {
      unknown++;
      continue;
    }
    const out = reportGuest(facts.get(i), life, r, e.at, c.ticks);
    facts.set(i, out.facts);
    if (out.event !== null) s.signals.push({ index: i, event: out.event });
    if (selfStep && life.state === 'selfAdjusting' && participates(life, out.facts) && !seen.has(i)) {
      seen.add(i);
      selfAdjusting.push(i);
    }
  }
  if (unknown > 0) s.logs.push({ level: 'debug', fields: { at: e.at, unknown }, msg: 'agent.reports names guests not known; ignored' });

  let promptBudgetKiB = c.promptBudgetKiB;
  if (selfAdjusting.length > 0) {
    const guests: SelfStepGuest[] = selfAdjusting.map((i) => {
      const f = facts.get(i);
      return {
        id: f.id,
        minKiB: f.minKiB,
        maxKiB: f.maxKiB,
        currentKiB: f.currentKiB,
        committedKiB: f.report!.committedKiB,
        pendingIncreaseKiB: f.writtenTargetKiB === null ? 0 : Math.max(0, f.writtenTargetKiB - f.currentKiB),
        pendingDecreaseKiB: f.writtenTargetKiB === null ? 0 : Math.max(0, f.currentKiB - f.writtenTargetKiB),
        paging: isPaging(f.report!),
      };
    });
    const step = selfAdjustStep({ params: c.config.params, budgetKiB: promptBudgetKiB, guests });
    promptBudgetKiB = step.budgetKiB;
    const moves: TargetMove<number>[] = [];
    step.guests.forEach((g, k) => {
      const i = selfAdjusting[k]!;
      const f = facts.get(i);
      // The tick's write deadband (plan.ts) holds here too: Committed_AS jitters by a few pages
      // from report to report, and each write would wake the balloon for nothing.
      if (g.targetKiB !== f.writtenTargetKiB && !withinDeadband(g.targetKiB, g.goalKiB, f.writtenTargetKiB, f.currentKiB, f.minKiB, f.maxKiB, deadbandOf(c.config))) {
        moves.push({ id: i, fromKiB: f.currentKiB, toKiB: g.targetKiB });
      }
      facts.set(i, withFacts(f, { goalKiB: g.goalKiB, targetKiB: g.targetKiB }));
    });
    for (const w of orderTargetWrites(moves)) {
      const f = facts.get(w.id);
      facts.set(w.id, withFacts(f, { writtenTargetKiB: w.toKiB, touched: true, targetWriteFailed: false }));
      s.writes.push({ kind: 'target', id: f.id, targetKiB: w.toKiB, fromKiB: w.fromKiB, prompt: true });
      if (debug) s.logs.push({ level: 'debug', domid: f.domid, fields: { targetKiB: w.toKiB, goalKiB: f.goalKiB, currentKiB: f.currentKiB }, msg: 'target written' });
    }
    if (s.writes.length > 0) s.emit = { type: 'selfStep', at: e.at, guests: step.guests, writes: s.writes, budgetKiB: promptBudgetKiB };
  }
  s.assign = { facts: facts.result(), promptBudgetKiB };
  return s;
}

// --- the host ----------------------------------------------------------------------------------

/** A host sample: Dom0, free memory, each known guest's allocation; the prompt budget anew. */
export function onSample(c: SupervisorContext, e: HostSample, debug: boolean): Step {
  const host: HostFacts = { at: e.at, freeKiB: e.freeKiB, dom0: { currentKiB: e.dom0.currentKiB, committedKiB: e.dom0.committedKiB } };
  const facts = factsWriter(c.facts);
  // By our guests rather than by the sample's keys: lookups in the sample are ~5x cheaper than
  // listing its 1,000 keys.
  const { allocations } = e;
  let known = 0;
  c.guestIds.forEach((id, i) => {
    if (!Object.hasOwn(allocations, id)) return;
    known++;
    facts.set(i, applyAllocation(facts.get(i), allocations[id]!));
  });
  const s = emptyStep();
  if (debug) {
    const unknown = Object.keys(allocations).length - known;
    if (unknown > 0) s.logs.push({ level: 'debug', fields: { at: e.at, unknown }, msg: 'host.sample names guests not known; ignored' });
  }
  const next = facts.result();
  const dom0Need = c.last.dom0GoalKiB === null ? 0 : c.last.dom0GoalKiB - host.dom0.currentKiB;
  s.assign = { host, facts: next, promptBudgetKiB: freeBudget(c.config.params, host.freeKiB, dom0Need + c.reservedKiB, pendingIncreases(next)) };
  return s;
}

// --- the operator ------------------------------------------------------------------------------

/** The operator's configuration, re-read and checked: the next tick runs on it. */
export function onConfigChanged(e: ConfigChanged): Step {
  const s = logOnly({ level: 'info', fields: { at: e.at, policy: e.config.policy }, msg: 'configuration changed; in effect from the next tick' });
  s.assign = { config: e.config };
  return s;
}

/** All the operator's reservations together: the next tick serves them as Dom0's need. */
export function onReserveSet(e: ReserveSet): Step {
  const s = logOnly({ level: 'info', fields: { at: e.at, reservedKiB: e.reservedKiB }, msg: 'memory reserved for new domains' });
  s.assign = { reservedKiB: e.reservedKiB };
  return s;
}

/** A failed effect is forgotten, so the next tick issues it again (Dom0's target likewise). */
export function onEffectFailed(c: SupervisorContext, e: EffectFailed): Step {
  if (e.id === DOM0_ID) {
    const s = logOnly({ level: 'warn', fields: { at: e.at, effect: e.effect, error: e.error }, msg: 'Dom0 effect failed; re-issued next tick' });
    if (e.effect === 'setTarget') s.assign = { dom0WrittenTargetKiB: null };
    return s;
  }
  const i = c.guestIds.indexOf(e.id);
  if (i < 0) return onUnknownGuest(e);
  const facts = factsWriter(c.facts);
  const f = facts.get(i);
  facts.set(i, applyEffectFailed(f, e.effect));
  const s = logOnly({ level: 'warn', domid: f.domid, fields: { effect: e.effect, error: e.error }, msg: 'effect failed; re-issued next tick' });
  s.assign = { facts: facts.result() };
  return s;
}

// --- the tick: Algorithm 1 -----------------------------------------------------------------------

export function onTickWithoutHost(at: number): Step {
  return logOnly({ level: 'debug', fields: { at }, msg: 'tick before any host sample; nothing to decide on' });
}

/** What changed in the regime since the last decision, as the operator's log lines. */
function regimeLogs(at: number, d: Decision, last: LastDecision): LogEntry[] {
  const logs: LogEntry[] = [];
  if (d.state !== last.state) {
    logs.push({
      level: 'info',
      fields: { at, state: d.state, price: d.price },
      msg: d.state === 'abundant' ? 'memory abundant: guests self-adjust' : 'memory scarce: global balance',
    });
  }
  if (d.overcommitted !== last.overcommitted) {
    if (d.overcommitted) logs.push({ level: 'warn', fields: { at, dom0GoalKiB: d.dom0.goalKiB }, msg: 'host overcommitted: every guest at its minimum cannot cover Dom0' });
    else logs.push({ level: 'info', fields: { at }, msg: 'host no longer overcommitted' });
  }
  if (d.dom0.reclaimKiB > 0 !== last.reclaimKiB > 0) {
    if (d.dom0.reclaimKiB > 0) logs.push({ level: 'info', fields: { at, reclaimKiB: d.dom0.reclaimKiB }, msg: 'reclaiming memory from the guests for Dom0' });
    else logs.push({ level: 'info', fields: { at }, msg: 'Dom0 reclaim over' });
  }
  return logs;
}

/**
 * Algorithm 1, once per tick: the policy decides on every live guest's facts (guests that do
 * not take part are held), planTick turns the decision into writes, and each guest's facts take
 * the outcome; the thresholds they cross become its machine's events. A policy that throws
 * costs this tick only.
 */
export function onTick(c: SupervisorContext, at: number, host: HostFacts, policy: Policy, lifeOf: LifeOf, debug: boolean): Step {
  const lives: Lifecycle[] = [];
  const views: GuestView[] = [];
  const slots: number[] = []; // views[k] is facts[slots[k]]
  c.guestIds.forEach((id, i) => {
    const life = lifeOf(i);
    if (life === null) return;
    const f = c.facts[i]!;
    lives.push(life);
    slots.push(i);
    views.push({ id, state: life.state, participates: participates(life, f), agentProtocol: life.agentProtocol, facts: f });
  });
  // A reservation is Dom0's need to the policy, and what it would give Dom0 for it is left free.
  const input = buildDecideInput(c.config, host, views);
  const ran = runPolicy(policy, withReservation(input, c.reservedKiB));
  if ('error' in ran) return logOnly({ level: 'error', fields: { at, error: ran.error }, msg: 'policy failed; tick skipped' });
  const decision = releaseReservedToFree(ran.decision, input, c.reservedKiB);
  const plan = planTick(decision, views, host, c.dom0WrittenTargetKiB, deadbandOf(c.config));

  const s = emptyStep();
  s.writes = plan.writes;
  const ticks = c.ticks + 1;
  const limits = limitsOf(c.config);
  const facts = factsWriter(c.facts);
  const guestLogs: LogEntry[] = [];
  views.forEach((v, k) => {
    const outcome = plan.outcomes[k]!;
    const out = tickGuest(v.facts, lives[k]!, outcome, ticks, limits);
    facts.set(slots[k]!, out.facts);
    for (const sig of out.signals) s.signals.push({ index: slots[k]!, event: withAt(sig, at) });
    if (debug && outcome.wroteTargetKiB !== null) {
      guestLogs.push({ level: 'debug', domid: v.facts.domid, fields: { targetKiB: outcome.wroteTargetKiB, goalKiB: outcome.goalKiB, currentKiB: v.facts.currentKiB }, msg: 'target written' });
    }
  });
  s.logs = [...guestLogs, ...regimeLogs(at, decision, c.last)];
  if (plan.dom0TargetKiB !== null) s.logs.push({ level: 'debug', fields: { at, targetKiB: plan.dom0TargetKiB }, msg: 'Dom0 target written' });

  const next = facts.result();
  s.assign = {
    facts: next,
    dom0WrittenTargetKiB: plan.dom0TargetKiB ?? c.dom0WrittenTargetKiB,
    last: { state: decision.state, overcommitted: decision.overcommitted, reclaimKiB: decision.dom0.reclaimKiB, dom0GoalKiB: decision.dom0.goalKiB },
    ticks,
    promptBudgetKiB: freeBudget(c.config.params, host.freeKiB, decision.dom0.goalKiB - host.dom0.currentKiB + c.reservedKiB, pendingIncreases(next)),
  };
  s.emit = { type: 'decision', at, decision, writes: plan.writes };
  return s;
}
