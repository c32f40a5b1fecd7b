// The guest machine on its own, driven as the supervisor drives it, on a SimulatedClock.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createActor, SimulatedClock } from 'xstate';
import { createGuestMachine, guestStateName, participates, type GuestEvent, type GuestInput } from '../../../src/machines/guest.ts';
import { MIB, assertPlainJson } from './harness.ts';

const LIMITS = { silenceTicks: 3, stuckTicks: 2, stuckRetryTicks: 4, balloonSlackKiB: 1024 };
/** Omit distributed over the union, so each event keeps its own fields. */
type WithoutAt<E> = E extends unknown ? Omit<E, 'at'> : never;

const INPUT: GuestInput = { id: 'vm1', domid: 7, minKiB: 128 * MIB, maxKiB: 1024 * MIB, currentKiB: 512 * MIB, shares: 1, limits: LIMITS };
const REPORT = { committedKiB: 600 * MIB, freeKiB: 50 * MIB, swapTotalKiB: 0, swapFreeKiB: 0 };

function start() {
  const clock = new SimulatedClock();
  const actor = createActor(createGuestMachine(), { input: INPUT, clock });
  actor.start();
  let at = 0;
  const send = (e: WithoutAt<GuestEvent>) => {
    at += 1000;
    clock.set(at);
    actor.send({ ...e, at } as GuestEvent);
  };
  const tick = (over: Partial<Extract<GuestEvent, { type: 'decided' }>> = {}) =>
    send({ type: 'decided', mode: null, goalKiB: 0, targetKiB: 0, wroteMode: null, wroteTargetKiB: null, ...over });
  const state = () => guestStateName(actor.getSnapshot());
  return { actor, send, tick, state };
}

describe('guest machine', () => {
  test('starts registering, held and outside the balance', () => {
    const g = start();
    assert.equal(g.state(), 'registering');
    g.send({ type: 'report', report: REPORT });
    assert.equal(g.state(), 'registering', 'a report is no hello');
    assert.equal(participates(g.actor.getSnapshot()), false);
  });

  test('the handshake lands in the mode the supervisor answered', () => {
    for (const [mode, expected] of [['self', 'selfAdjusting'], ['global', 'globallyControlled']] as const) {
      const g = start();
      g.send({ type: 'registered', protocol: 1, selfAdjust: mode === 'self', mode });
      assert.equal(g.state(), expected);
      const c = g.actor.getSnapshot().context;
      assert.equal(c.agentProtocol, 1);
      assert.equal(c.writtenMode, mode);
      assert.equal(participates(g.actor.getSnapshot()), false, 'no report yet');
      g.send({ type: 'report', report: REPORT });
      assert.equal(participates(g.actor.getSnapshot()), true);
    }
  });

  test('a rejected protocol makes the guest unmanaged', () => {
    const g = start();
    g.send({ type: 'rejected', protocol: 99 });
    assert.equal(g.state(), 'unmanaged');
    assert.equal(g.actor.getSnapshot().context.unmanagedReason, 'protocol');
  });

  test('no hello within silenceTicks: unmanaged (no agent)', () => {
    const g = start();
    for (let i = 0; i < LIMITS.silenceTicks - 1; i++) g.tick();
    assert.equal(g.state(), 'registering');
    g.tick();
    assert.equal(g.state(), 'unmanaged');
    assert.equal(g.actor.getSnapshot().context.unmanagedReason, 'noAgent');
    g.send({ type: 'report', report: REPORT });
    assert.equal(g.state(), 'unmanaged', 'reports do not replace the handshake');
    g.send({ type: 'registered', protocol: 1, selfAdjust: true, mode: 'self' });
    assert.equal(g.state(), 'selfAdjusting');
  });

  test('a silent agent makes the guest unmanaged; its next report brings back the mode it had', () => {
    const g = start();
    g.send({ type: 'registered', protocol: 1, selfAdjust: false, mode: 'global' });
    g.send({ type: 'report', report: REPORT });
    g.tick({ mode: 'reclaim', wroteMode: 'reclaim' });
    assert.equal(g.state(), 'reclaimingForDom0');
    for (let i = 0; i < LIMITS.silenceTicks - 2; i++) g.tick({ mode: 'reclaim' });
    assert.equal(g.state(), 'reclaimingForDom0');
    g.tick({ mode: 'reclaim' });
    assert.equal(g.state(), 'unmanaged');
    assert.equal(g.actor.getSnapshot().context.unmanagedReason, 'silent');
    g.send({ type: 'report', report: REPORT });
    assert.equal(g.state(), 'reclaimingForDom0');
    assert.equal(g.actor.getSnapshot().context.unmanagedReason, null);
  });

  test('only decisions move a managed guest between modes', () => {
    const g = start();
    g.send({ type: 'registered', protocol: 1, selfAdjust: true, mode: 'self' });
    g.send({ type: 'report', report: REPORT });
    // The agent's preference arriving again (a re-hello answered with the current mode) does not move it.
    g.send({ type: 'registered', protocol: 1, selfAdjust: false, mode: 'self' });
    assert.equal(g.state(), 'selfAdjusting');
    g.tick({ mode: null });
    assert.equal(g.state(), 'selfAdjusting', 'not taking part: stays');
    g.send({ type: 'report', report: REPORT });
    g.tick({ mode: 'global', wroteMode: 'global' });
    assert.equal(g.state(), 'globallyControlled');
    g.send({ type: 'report', report: REPORT });
    g.tick({ mode: 'self', wroteMode: 'self' });
    assert.equal(g.state(), 'selfAdjusting');
  });

  test('a balloon that does not move toward its target becomes stuck, and is retried later', () => {
    const g = start();
    g.send({ type: 'registered', protocol: 1, selfAdjust: false, mode: 'global' });
    g.send({ type: 'report', report: REPORT });
    g.tick({ mode: 'global', goalKiB: 300 * MIB, targetKiB: 400 * MIB, wroteTargetKiB: 400 * MIB });
    // It moves: no stall.
    g.send({ type: 'allocation', currentKiB: 480 * MIB });
    g.send({ type: 'report', report: REPORT });
    g.tick({ mode: 'global' });
    assert.equal(g.actor.getSnapshot().context.stalledTicks, 0);
    // Then it stops short (a hidden floor) for stuckTicks ticks.
    for (let i = 0; i < LIMITS.stuckTicks; i++) {
      g.send({ type: 'report', report: REPORT });
      g.tick({ mode: 'global' });
    }
    assert.equal(g.state(), 'stuck');
    assert.equal(participates(g.actor.getSnapshot()), false);
    for (let i = 0; i < LIMITS.stuckRetryTicks; i++) {
      g.send({ type: 'report', report: REPORT });
      g.tick({ wroteTargetKiB: i === 0 ? 480 * MIB : null }); // the supervisor holds it where it is
    }
    assert.equal(g.state(), 'globallyControlled', 'retried in the mode it had');
    assert.equal(g.actor.getSnapshot().context.stalledTicks, 0);
  });

  test('a balloon at its target (within the slack) is never stuck', () => {
    const g = start();
    g.send({ type: 'registered', protocol: 1, selfAdjust: false, mode: 'global' });
    g.tick({ mode: 'global', wroteTargetKiB: 512 * MIB - 512 });
    for (let i = 0; i < 2 * LIMITS.stuckTicks; i++) {
      g.send({ type: 'report', report: REPORT });
      g.tick({ mode: 'global' });
    }
    assert.equal(g.state(), 'globallyControlled');
  });

  test('a failed write is forgotten so the supervisor re-issues it', () => {
    const g = start();
    g.send({ type: 'registered', protocol: 1, selfAdjust: false, mode: 'global' });
    g.tick({ mode: 'global', wroteTargetKiB: 400 * MIB });
    g.send({ type: 'effectFailed', effect: 'setTarget', error: 'EACCES' });
    assert.equal(g.actor.getSnapshot().context.writtenTargetKiB, null);
    assert.equal(g.actor.getSnapshot().context.touched, true);
    g.send({ type: 'effectFailed', effect: 'setMode', error: 'EACCES' });
    assert.equal(g.actor.getSnapshot().context.writtenMode, null);
  });

  test('leaving ends the machine', () => {
    const g = start();
    g.send({ type: 'left' });
    assert.equal(g.state(), 'gone');
    assert.equal(g.actor.getSnapshot().status, 'done');
  });

  test('the context is plain JSON', () => {
    const g = start();
    g.send({ type: 'registered', protocol: 1, selfAdjust: true, mode: 'self' });
    g.send({ type: 'report', report: REPORT });
    g.tick({ mode: 'self', wroteMode: 'self', wroteTargetKiB: 600 * MIB });
    assertPlainJson(g.actor.getPersistedSnapshot());
  });
});
