// Model-based tests (xstate/graph): the guest machine's graph is walked with the events the
// supervisor would send in each state (the handshake; the Dom0 reclaim), and every path is
// replayed on a fresh actor whose every state is checked against that state's invariant.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createActor, SimulatedClock } from 'xstate';
import { getShortestPaths, type StatePath } from 'xstate/graph';
import {
  createGuestMachine,
  guestStateName,
  modeOfState,
  participates,
  type DecidedMode,
  type GuestEvent,
  type GuestInput,
  type GuestSnapshot,
  type GuestStateName,
} from '../../../src/machines/guest.ts';
import { PROTOCOL_VERSION } from '../../../src/machines/events.ts';
import { MIB } from './harness.ts';

const LIMITS = { silenceTicks: 2, stuckTicks: 2, stuckRetryTicks: 2, balloonSlackKiB: 0 };
const INPUT: GuestInput = { id: 'vm1', domid: 3, minKiB: 128 * MIB, maxKiB: 1024 * MIB, currentKiB: 512 * MIB, shares: 1, limits: LIMITS };
const REPORT = { committedKiB: 600 * MIB, freeKiB: 50 * MIB, swapTotalKiB: 0, swapFreeKiB: 0 };
/** Where a reclaim for Dom0 sends the guest, and where self/global decisions send it. */
const RECLAIM_TARGET = 400 * MIB;
const OTHER_TARGET = 600 * MIB;

const machine = createGuestMachine();
const FRESH: readonly GuestStateName[] = ['registering', 'unmanaged'];

/** The decided event the supervisor would send this guest for a decision of `mode` (plan.ts's rules). */
function decided(s: GuestSnapshot, mode: DecidedMode | null, targetKiB: number): GuestEvent {
  const c = s.context;
  const takesPart = participates(s);
  const m = takesPart ? mode : null;
  const target = takesPart ? targetKiB : c.currentKiB; // held where it is
  const shouldHave = m ?? modeOfState(guestStateName(s));
  const wroteMode = c.agentProtocol !== null && shouldHave !== null && shouldHave !== c.writtenMode ? shouldHave : null;
  const wroteTargetKiB = (takesPart || c.touched) && target !== c.writtenTargetKiB ? target : null;
  return { type: 'decided', at: 0, mode: m, goalKiB: target, targetKiB: target, wroteMode, wroteTargetKiB };
}

function registered(s: GuestSnapshot, preference: boolean): GuestEvent {
  const name = guestStateName(s);
  const mode = FRESH.includes(name) ? (preference ? 'self' : 'global') : (modeOfState(name) ?? 'held');
  return { type: 'registered', at: 0, protocol: PROTOCOL_VERSION, selfAdjust: preference, mode };
}

/** The handshake: hellos (either preference, or an unsupported version), reports, ticks, leaving. */
function handshakeEvents(s: GuestSnapshot): GuestEvent[] {
  if (s.status !== 'active') return [];
  const name = guestStateName(s);
  return [
    registered(s, true),
    registered(s, false),
    { type: 'rejected', at: 0, protocol: PROTOCOL_VERSION + 1 },
    { type: 'report', at: 0, report: REPORT },
    // The balance keeps a participating guest in its mode; the walk is about the handshake.
    decided(s, name === 'reclaimingForDom0' ? 'reclaim' : name === 'globallyControlled' ? 'global' : 'self', s.context.currentKiB),
    { type: 'left', at: 0 },
  ];
}

/** The Dom0 reclaim: decisions of every mode, the balloon moving (or not) toward the reclaim target. */
function reclaimEvents(s: GuestSnapshot): GuestEvent[] {
  if (s.status !== 'active') return [];
  return [
    registered(s, true),
    { type: 'report', at: 0, report: REPORT },
    decided(s, 'reclaim', RECLAIM_TARGET),
    decided(s, 'global', OTHER_TARGET),
    decided(s, 'self', OTHER_TARGET),
    { type: 'allocation', at: 0, currentKiB: s.context.currentKiB === INPUT.currentKiB ? RECLAIM_TARGET : INPUT.currentKiB },
    { type: 'left', at: 0 },
  ];
}

/**
 * The abstraction the walk distinguishes states by: the state (and the mode history), the
 * counters the guards read, and the facts the supervisor's events depend on. Goals, targets
 * and preferences only ride along.
 */
function serialize(s: GuestSnapshot): string {
  const c = s.context;
  const history = Object.values(s.historyValue).flatMap((nodes) => nodes.map((n) => n.key));
  return JSON.stringify([
    s.value,
    s.status,
    history,
    c.silentTicks,
    c.stalledTicks,
    c.stuckForTicks,
    c.report !== null,
    c.unmanagedReason,
    c.agentProtocol,
    c.writtenMode,
    c.writtenTargetKiB,
    c.touched,
    c.currentKiB,
    c.allocAtLastTick,
  ]);
}

function paths(events: (s: GuestSnapshot) => GuestEvent[]): StatePath<GuestSnapshot, GuestEvent>[] {
  return getShortestPaths(machine, {
    input: INPUT,
    events,
    serializeState: serialize,
    stopWhen: (s) => s.status !== 'active',
  }) as StatePath<GuestSnapshot, GuestEvent>[];
}

/**
 * Each state's invariant. `lastMode` is the mode of the latest supervisor command on the path
 * (a fresh registration's answer or a decision with a mode): only those may set the mode.
 */
function checkInvariant(s: GuestSnapshot, lastMode: DecidedMode | null, where: string): void {
  const c = s.context;
  const name = guestStateName(s);
  assert.equal(participates(s), s.matches('managed') && c.report !== null, `${where}: takes part iff managed with a report`);
  switch (name) {
    case 'registering':
      assert.equal(c.agentProtocol, null, `${where}: no hello yet`);
      assert.equal(c.writtenMode, null, `${where}: no mode told yet`);
      assert.ok(c.silentTicks < LIMITS.silenceTicks, `${where}: still within the wait`);
      break;
    case 'selfAdjusting':
    case 'globallyControlled':
    case 'reclaimingForDom0':
      assert.equal(c.agentProtocol, PROTOCOL_VERSION, `${where}: managed only after an accepted hello`);
      assert.equal(c.unmanagedReason, null, where);
      assert.ok(c.silentTicks < LIMITS.silenceTicks, `${where}: a managed agent is not silent`);
      assert.ok(c.stalledTicks < LIMITS.stuckTicks, `${where}: a managed balloon is not stuck`);
      assert.equal(modeOfState(name), lastMode, `${where}: in the mode the supervisor last gave`);
      break;
    case 'unmanaged':
      assert.notEqual(c.unmanagedReason, null, `${where}: unmanaged says why`);
      if (c.unmanagedReason === 'protocol') assert.notEqual(c.agentProtocol, PROTOCOL_VERSION, where);
      if (c.unmanagedReason === 'silent' || c.unmanagedReason === 'noAgent') assert.equal(c.silentTicks, LIMITS.silenceTicks, where);
      break;
    case 'stuck':
      assert.equal(c.stalledTicks, 0, `${where}: the stall count restarts`);
      assert.ok(c.stuckForTicks < LIMITS.stuckRetryTicks, `${where}: retried on time`);
      assert.ok(c.silentTicks < LIMITS.silenceTicks, where);
      break;
    case 'gone':
      assert.equal(s.status, 'done', `${where}: gone is final`);
      break;
  }
}

/** Replays each path on a fresh actor, checking the real actor's state and its invariant at every step. */
function walk(paths: StatePath<GuestSnapshot, GuestEvent>[]) {
  const seenStates = new Set<GuestStateName>();
  const seenTransitions = new Set<string>();
  for (const path of paths) {
    const clock = new SimulatedClock();
    const actor = createActor(machine, { input: INPUT, clock }).start();
    let lastMode: DecidedMode | null = null;
    let prev = guestStateName(actor.getSnapshot());
    const description = path.steps.map((st) => st.event.type).join(' → ');
    checkInvariant(actor.getSnapshot(), lastMode, description);
    path.steps.forEach((step, i) => {
      const e = step.event as GuestEvent;
      if (e.type === 'xstate.init' as string) return;
      if (e.type === 'registered' && FRESH.includes(prev)) lastMode = e.mode === 'held' ? null : e.mode;
      if (e.type === 'decided' && e.mode !== null) lastMode = e.mode;
      actor.send(e);
      const s = actor.getSnapshot();
      assert.deepEqual(s.value, step.state.value, `step ${i} of ${description}: the actor follows the model`);
      const name = guestStateName(s);
      checkInvariant(s, lastMode, `step ${i} (${e.type}) of ${description}`);
      seenStates.add(name);
      seenTransitions.add(`${prev} -${e.type}-> ${name}`);
      prev = name;
    });
    actor.stop();
  }
  return { seenStates, seenTransitions };
}

describe('guest machine, model-based', () => {
  test('handshake paths: every reachable state, each checked against its invariant', () => {
    const all = paths(handshakeEvents);
    assert.ok(all.length > 20, `expected many handshake paths, got ${all.length}`);
    const { seenStates, seenTransitions } = walk(all);
    for (const s of ['registering', 'selfAdjusting', 'globallyControlled', 'unmanaged', 'gone'] as const) {
      assert.ok(seenStates.has(s), `handshake walk reaches ${s}`);
    }
    for (const t of [
      'registering -registered-> selfAdjusting',
      'registering -registered-> globallyControlled',
      'registering -rejected-> unmanaged',
      'registering -decided-> unmanaged', // no hello within silenceTicks
      'selfAdjusting -decided-> unmanaged', // silent agent
      'unmanaged -report-> selfAdjusting', // silent agent back
      'unmanaged -registered-> globallyControlled', // re-registration
      'selfAdjusting -rejected-> unmanaged',
      'globallyControlled -registered-> globallyControlled', // a re-hello changes nothing
    ]) {
      assert.ok(seenTransitions.has(t), `handshake walk takes ${t}`);
    }
  });

  test('Dom0-reclaim paths: into and out of reclaimingForDom0, stuck balloons included', () => {
    const all = paths(reclaimEvents);
    const { seenStates, seenTransitions } = walk(all);
    assert.ok(seenStates.has('reclaimingForDom0') && seenStates.has('stuck'));
    for (const t of [
      'selfAdjusting -decided-> reclaimingForDom0',
      'globallyControlled -decided-> reclaimingForDom0',
      'reclaimingForDom0 -decided-> globallyControlled',
      'reclaimingForDom0 -decided-> selfAdjusting',
      'reclaimingForDom0 -decided-> stuck', // the balloon would not give memory back
      'stuck -decided-> reclaimingForDom0', // retried in the mode it had
      'reclaimingForDom0 -decided-> unmanaged',
      'reclaimingForDom0 -left-> gone',
    ]) {
      assert.ok(seenTransitions.has(t), `reclaim walk takes ${t}`);
    }
  });
});
