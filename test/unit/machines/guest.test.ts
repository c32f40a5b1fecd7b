// One guest driven as the supervisor drives it (one-guest.ts): its facts and its machine. The
// machine keeps the lifecycle and gets an event only when that must change.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createActor } from 'xstate';
import { participates, silentTicks } from '../../../src/machines/facts.ts';
import { guestStateName } from '../../../src/machines/guest.ts';
import { MIB, lifecycle, machine, start as startGuest, step, type OneGuest, type Step } from './one-guest.ts';
import { assertPlainJson } from './harness.ts';

const LIMITS = { silenceTicks: 3, stuckTicks: 2, stuckRetryTicks: 4, balloonSlackKiB: 1024 };
const GUEST = { id: 'vm1', domid: 7, minKiB: 128 * MIB, maxKiB: 1024 * MIB, currentKiB: 512 * MIB, shares: 1 };
const REPORT = { committedKiB: 600 * MIB, freeKiB: 50 * MIB, swapTotalKiB: 0, swapFreeKiB: 0 };

function start() {
  let s: OneGuest = startGuest(GUEST);
  const sent: string[] = [];
  const send = (e: Step) => {
    const r = step(s, e, LIMITS);
    s = r.next;
    sent.push(...r.sent.map((ev) => ev.type));
    return r.sent;
  };
  return {
    send,
    hello: (selfAdjust: boolean, protocol?: number) => send({ type: 'hello', selfAdjust, ...(protocol !== undefined ? { protocol } : {}) }),
    report: () => send({ type: 'report', report: REPORT }),
    tick: (mode: 'self' | 'global' | 'reclaim' = 'global', targetKiB = s.facts.currentKiB) => send({ type: 'tick', mode, targetKiB }),
    state: () => guestStateName(s.snap),
    get s() {
      return s;
    },
    takesPart: () => participates(lifecycle(s.snap), s.facts),
    sent,
  };
}

describe('guest machine', () => {
  test('starts registering, held and outside the balance', () => {
    const g = start();
    assert.equal(g.state(), 'registering');
    g.report();
    assert.equal(g.state(), 'registering', 'a report is no hello');
    assert.deepEqual(g.s.facts.report, REPORT, 'but it is kept');
    assert.equal(g.takesPart(), false);
  });

  test('the handshake lands in the mode the supervisor answered', () => {
    for (const [pref, expected, mode] of [[true, 'selfAdjusting', 'self'], [false, 'globallyControlled', 'global']] as const) {
      const g = start();
      g.hello(pref);
      assert.equal(g.state(), expected);
      assert.equal(g.s.snap.context.agentProtocol, 1);
      assert.equal(g.s.facts.writtenMode, mode);
      assert.equal(g.takesPart(), false, 'no report yet');
      g.report();
      assert.equal(g.takesPart(), true);
    }
  });

  test('a rejected protocol makes the guest unmanaged', () => {
    const g = start();
    g.hello(true, 99);
    assert.equal(g.state(), 'unmanaged');
    assert.equal(g.s.snap.context.unmanagedReason, 'protocol');
    assert.equal(g.s.facts.writtenMode, 'held');
  });

  test('no hello within silenceTicks: unmanaged (no agent)', () => {
    const g = start();
    for (let i = 0; i < LIMITS.silenceTicks - 1; i++) g.tick();
    assert.equal(g.state(), 'registering');
    g.tick();
    assert.equal(g.state(), 'unmanaged');
    assert.equal(g.s.snap.context.unmanagedReason, 'noAgent');
    assert.equal(silentTicks(g.s.facts, g.s.ticks, LIMITS), LIMITS.silenceTicks);
    g.report();
    assert.equal(g.state(), 'unmanaged', 'reports do not replace the handshake');
    g.hello(true);
    assert.equal(g.state(), 'selfAdjusting');
  });

  test('a silent agent makes the guest unmanaged; its next report brings back the mode it had', () => {
    const g = start();
    g.hello(false);
    g.report();
    g.tick('reclaim');
    assert.equal(g.state(), 'reclaimingForDom0');
    for (let i = 0; i < LIMITS.silenceTicks - 2; i++) g.tick('reclaim');
    assert.equal(g.state(), 'reclaimingForDom0');
    g.tick('reclaim');
    assert.equal(g.state(), 'unmanaged');
    assert.equal(g.s.snap.context.unmanagedReason, 'silent');
    assert.deepEqual(g.report().map((e) => e.type), ['heard']);
    assert.equal(g.state(), 'reclaimingForDom0');
    assert.equal(g.s.snap.context.unmanagedReason, null);
  });

  test('only decisions move a managed guest between modes', () => {
    const g = start();
    g.hello(true);
    g.report();
    // The agent's preference arriving again (a re-hello answered with the current mode) does not move it.
    g.hello(false);
    assert.equal(g.state(), 'selfAdjusting');
    g.report();
    g.tick('global');
    assert.equal(g.state(), 'globallyControlled');
    g.report();
    g.tick('self');
    assert.equal(g.state(), 'selfAdjusting');
  });

  test('the machine gets an event only when its state must change', () => {
    const g = start();
    g.hello(true);
    const from = g.sent.length;
    for (let i = 0; i < 20; i++) {
      g.report();
      g.send({ type: 'allocation', currentKiB: (500 + (i % 3)) * MIB }); // the balloon moves, the target follows
      g.tick('self', g.s.facts.currentKiB);
    }
    assert.deepEqual(g.sent.slice(from), [], 'twenty ticks and reports in one mode: no event');
    g.report();
    assert.deepEqual(g.tick('global').map((e) => e.type), ['mode']);
  });

  test('a balloon that does not move toward its target becomes stuck, and is retried later', () => {
    const g = start();
    g.hello(false);
    g.report();
    g.tick('global', 400 * MIB);
    assert.equal(g.s.facts.writtenTargetKiB, 400 * MIB);
    // It moves: no stall.
    g.send({ type: 'allocation', currentKiB: 480 * MIB });
    g.report();
    g.tick('global', 400 * MIB);
    assert.equal(g.s.facts.stalledTicks, 0);
    // Then it stops short (a hidden floor) for stuckTicks ticks.
    for (let i = 0; i < LIMITS.stuckTicks; i++) {
      g.report();
      g.tick('global', 400 * MIB);
    }
    assert.equal(g.state(), 'stuck');
    assert.equal(g.takesPart(), false);
    for (let i = 0; i < LIMITS.stuckRetryTicks; i++) {
      g.report();
      g.tick('global', 400 * MIB);
      if (i === 0) assert.equal(g.s.facts.writtenTargetKiB, 480 * MIB, 'the supervisor holds it where it is');
    }
    assert.equal(g.state(), 'globallyControlled', 'retried in the mode it had');
    assert.equal(g.s.facts.stalledTicks, 0);
    assert.equal(g.s.facts.stuckAtTick, null);
  });

  test('a balloon at its target (within the slack) is never stuck', () => {
    const g = start();
    g.hello(false);
    g.report();
    g.tick('global', 512 * MIB - 512);
    assert.equal(g.s.facts.writtenTargetKiB, 512 * MIB - 512);
    for (let i = 0; i < 2 * LIMITS.stuckTicks; i++) {
      g.report();
      g.tick('global', 512 * MIB - 512);
    }
    assert.equal(g.state(), 'globallyControlled');
  });

  test('a failed write is forgotten so the supervisor re-issues it', () => {
    const g = start();
    g.hello(false);
    g.report();
    g.tick('global', 400 * MIB);
    g.send({ type: 'effectFailed', effect: 'setTarget' });
    assert.equal(g.s.facts.writtenTargetKiB, null);
    assert.equal(g.s.facts.touched, true);
    g.send({ type: 'effectFailed', effect: 'setMode' });
    assert.equal(g.s.facts.writtenMode, null);
    g.report();
    g.tick('global', 400 * MIB);
    assert.equal(g.s.facts.writtenTargetKiB, 400 * MIB, 're-issued');
    assert.equal(g.s.facts.writtenMode, 'global', 're-issued');
  });

  test('leaving ends the machine', () => {
    const g = start();
    g.send({ type: 'left' });
    assert.equal(g.state(), 'gone');
    assert.equal(g.s.snap.status, 'done');
  });

  test('the context and the facts are plain JSON', () => {
    const g = start();
    g.hello(true);
    g.report();
    g.tick('self', 600 * MIB);
    assertPlainJson(g.s.facts);
    const actor = createActor(machine, { input: { id: 'vm1', domid: 7 } }).start();
    actor.send({ type: 'registered', at: 1, protocol: 1, selfAdjust: true, mode: 'self' });
    assertPlainJson(actor.getPersistedSnapshot());
    actor.stop();
  });
});
