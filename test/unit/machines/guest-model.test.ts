// Model-based tests (xstate/graph): one guest as the supervisor drives it (one-guest.ts: the
// supervisor's per-guest rules over the guest's facts, and its machine) is walked with the
// inputs the supervisor gets for it in each state (the handshake; the Dom0 reclaim). Every path
// is replayed on a real guest actor fed the events the rules sent it, and every state is checked
// against that state's invariant.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createActor, fromTransition } from 'xstate';
import { getShortestPaths, type StatePath } from 'xstate/graph';
import { isManaged, modeOfState, participates, silentTicks, type GuestStateName } from '../../../src/machines/facts.ts';
import { guestStateName } from '../../../src/machines/guest.ts';
import { PROTOCOL_VERSION } from '../../../src/vocabulary/events.ts';
import { MIB, lifecycle, machine, start, step, type OneGuest, type Step } from './one-guest.ts';
import type { Mode } from '../../../src/vocabulary/mode.ts';

const LIMITS = { silenceTicks: 2, stuckTicks: 2, stuckRetryTicks: 2, balloonSlackKiB: 0 };
const GUEST = { id: 'vm1', domid: 3, minKiB: 128 * MIB, maxKiB: 1024 * MIB, currentKiB: 512 * MIB, shares: 1 };
const REPORT = { committedKiB: 600 * MIB, freeKiB: 50 * MIB, swapTotalKiB: 0, swapFreeKiB: 0 };
/** Where a reclaim for Dom0 sends the guest, and where self/global decisions send it. */
const RECLAIM_TARGET = 400 * MIB;
const OTHER_TARGET = 600 * MIB;

const model = fromTransition((s: OneGuest, e: Step) => step(s, e, LIMITS).next, start(GUEST));
type ModelSnapshot = ReturnType<typeof model.getInitialSnapshot>;

const active = (s: OneGuest) => s.snap.status === 'active';

/** The handshake: hellos (either preference, or an unsupported version), reports, ticks, leaving. */
function handshakeEvents(m: ModelSnapshot): Step[] {
  const s = m.context;
  if (!active(s)) return [];
  const name = guestStateName(s.snap);
  return [
    { type: 'hello', selfAdjust: true },
    { type: 'hello', selfAdjust: false },
    { type: 'hello', selfAdjust: true, protocol: PROTOCOL_VERSION + 1 },
    { type: 'report', report: REPORT },
    // The balance keeps a participating guest in its mode; the walk is about the handshake.
    { type: 'tick', mode: name === 'reclaimingForDom0' ? 'reclaim' : name === 'globallyControlled' ? 'global' : 'self', targetKiB: s.facts.currentKiB },
    { type: 'left' },
  ];
}

/** The Dom0 reclaim: decisions of every mode, the balloon moving (or not) toward the reclaim target. */
function reclaimEvents(m: ModelSnapshot): Step[] {
  const s = m.context;
  if (!active(s)) return [];
  return [
    { type: 'hello', selfAdjust: true },
    { type: 'report', report: REPORT },
    { type: 'tick', mode: 'reclaim', targetKiB: RECLAIM_TARGET },
    { type: 'tick', mode: 'global', targetKiB: OTHER_TARGET },
    { type: 'tick', mode: 'self', targetKiB: OTHER_TARGET },
    { type: 'allocation', currentKiB: s.facts.currentKiB === GUEST.currentKiB ? RECLAIM_TARGET : GUEST.currentKiB },
    { type: 'left' },
  ];
}

/**
 * The abstraction the walk distinguishes states by: the machine's state (and mode history), the
 * counters the rules read (in ticks since, not absolute ticks), and the facts the next step
 * depends on. Goals and preferences only ride along.
 */
function serialize(m: ModelSnapshot): string {
  const { snap, facts: f, ticks } = m.context;
  const history = Object.values(snap.historyValue).flatMap((nodes) => nodes.map((n) => n.key));
  return JSON.stringify([
    snap.value,
    snap.status,
    history,
    silentTicks(f, ticks, LIMITS),
    f.stalledTicks,
    f.stuckAtTick === null ? null : ticks - f.stuckAtTick,
    f.report !== null,
    snap.context.unmanagedReason,
    snap.context.agentProtocol,
    f.writtenMode,
    f.writtenTargetKiB,
    f.touched,
    f.currentKiB,
    f.allocAtLastTick,
  ]);
}

function paths(events: (s: ModelSnapshot) => Step[]): StatePath<ModelSnapshot, Step>[] {
  return getShortestPaths(model, {
    events,
    serializeState: serialize,
    stopWhen: (s) => !active(s.context),
  }) as StatePath<ModelSnapshot, Step>[];
}

/**
 * Each state's invariant. `lastMode` is the mode of the latest supervisor command on the path
 * (a fresh registration's answer or a decision's new mode): only those may set the mode.
 */
function checkInvariant(s: OneGuest, lastMode: Exclude<Mode, 'held'> | null, where: string): void {
  const f = s.facts;
  const c = s.snap.context;
  const name = guestStateName(s.snap);
  const silent = silentTicks(f, s.ticks, LIMITS);
  assert.equal(participates(lifecycle(s.snap), f), isManaged(name) && f.report !== null, `${where}: takes part iff managed with a report`);
  if (name !== 'gone') assert.equal(f.stuckAtTick !== null, name === 'stuck', `${where}: a stuck time iff stuck`); // a gone guest's facts are dropped
  switch (name) {
    case 'registering':
      assert.equal(c.agentProtocol, null, `${where}: no hello yet`);
      assert.equal(f.writtenMode, null, `${where}: no mode told yet`);
      assert.ok(silent < LIMITS.silenceTicks, `${where}: still within the wait`);
      break;
    case 'selfAdjusting':
    case 'globallyControlled':
    case 'reclaimingForDom0':
      assert.equal(c.agentProtocol, PROTOCOL_VERSION, `${where}: managed only after an accepted hello`);
      assert.equal(c.unmanagedReason, null, where);
      assert.ok(silent < LIMITS.silenceTicks, `${where}: a managed agent is not silent`);
      assert.ok(f.stalledTicks < LIMITS.stuckTicks, `${where}: a managed balloon is not stuck`);
      assert.equal(modeOfState(name), lastMode, `${where}: in the mode the supervisor last gave`);
      break;
    case 'unmanaged':
      assert.notEqual(c.unmanagedReason, null, `${where}: unmanaged says why`);
      if (c.unmanagedReason === 'protocol') assert.notEqual(c.agentProtocol, PROTOCOL_VERSION, where);
      if (c.unmanagedReason === 'silent' || c.unmanagedReason === 'noAgent') assert.equal(silent, LIMITS.silenceTicks, where);
      break;
    case 'stuck':
      assert.equal(f.stalledTicks, 0, `${where}: the stall count restarts`);
      assert.ok(s.ticks - f.stuckAtTick! < LIMITS.stuckRetryTicks, `${where}: retried on time`);
      assert.ok(silent < LIMITS.silenceTicks, where);
      break;
    case 'gone':
      assert.equal(s.snap.status, 'done', `${where}: gone is final`);
      break;
  }
}

const FRESH: readonly GuestStateName[] = ['registering', 'unmanaged'];

/**
 * Replays each path: the rules' step from the previous state gives the events the machine is
 * sent; a real actor gets them and must land where the model did. Every state is checked.
 */
function walk(all: StatePath<ModelSnapshot, Step>[]) {
  const seenStates = new Set<GuestStateName>();
  const seenTransitions = new Set<string>();
  for (const path of all) {
    const actor = createActor(machine, { input: { id: GUEST.id, domid: GUEST.domid } }).start();
    let s = start(GUEST);
    let lastMode: Exclude<Mode, 'held'> | null = null;
    let prev = guestStateName(s.snap);
    const description = path.steps.map((st) => st.event.type).join(' → ');
    checkInvariant(s, lastMode, description);
    path.steps.forEach((st, i) => {
      const e = st.event as Step;
      if ((e.type as string) === 'xstate.init') return;
      const { next, sent } = step(s, e, LIMITS);
      for (const ev of sent) {
        if (ev.type === 'registered' && FRESH.includes(guestStateName(actor.getSnapshot()))) lastMode = ev.mode === 'held' ? null : ev.mode;
        if (ev.type === 'mode') lastMode = ev.mode;
        actor.send(ev);
      }
      s = next;
      assert.deepEqual(actor.getSnapshot().value, st.state.context.snap.value, `step ${i} of ${description}: the actor follows the model`);
      assert.deepEqual(s.snap.value, st.state.context.snap.value, `step ${i} of ${description}: the replay follows the walk`);
      const name = guestStateName(s.snap);
      checkInvariant(s, lastMode, `step ${i} (${e.type}) of ${description}`);
      seenStates.add(name);
      seenTransitions.add(`${prev} -${e.type}${sent.length > 0 ? `(${sent.map((x) => x.type).join(',')})` : ''}-> ${name}`);
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
      'registering -hello(registered)-> selfAdjusting',
      'registering -hello(registered)-> globallyControlled',
      'registering -hello(rejected)-> unmanaged',
      'registering -tick(silent)-> unmanaged', // no hello within silenceTicks
      'selfAdjusting -tick(silent)-> unmanaged', // silent agent
      'unmanaged -report(heard)-> selfAdjusting', // silent agent back
      'unmanaged -hello(registered)-> globallyControlled', // re-registration
      'selfAdjusting -hello(rejected)-> unmanaged',
      'globallyControlled -hello(registered)-> globallyControlled', // a re-hello changes nothing
      'selfAdjusting -tick-> selfAdjusting', // a tick that changes nothing sends the machine nothing
      'selfAdjusting -report-> selfAdjusting', // nor does a report
    ]) {
      assert.ok(seenTransitions.has(t), `handshake walk takes ${t}`);
    }
  });

  test('Dom0-reclaim paths: into and out of reclaimingForDom0, stuck balloons included', () => {
    const all = paths(reclaimEvents);
    const { seenStates, seenTransitions } = walk(all);
    assert.ok(seenStates.has('reclaimingForDom0') && seenStates.has('stuck'));
    for (const t of [
      'selfAdjusting -tick(mode)-> reclaimingForDom0',
      'globallyControlled -tick(mode)-> reclaimingForDom0',
      'reclaimingForDom0 -tick(mode)-> globallyControlled',
      'reclaimingForDom0 -tick(mode)-> selfAdjusting',
      'reclaimingForDom0 -tick(stalled)-> stuck', // the balloon would not give memory back
      'stuck -tick(retry)-> reclaimingForDom0', // retried in the mode it had
      'reclaimingForDom0 -tick(silent)-> unmanaged',
      'reclaimingForDom0 -left(left)-> gone',
    ]) {
      assert.ok(seenTransitions.has(t), `reclaim walk takes ${t}`);
    }
  });
});
