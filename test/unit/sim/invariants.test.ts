// The invariant checker on hand-made states: each rule fires on a state that breaks it, and
// stays quiet on the same state made right.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkInvariants, type Snapshot } from '../../../src/sim/invariants.ts';

const M = 1024;
function snap(over: Partial<Snapshot> = {}): Snapshot {
  return {
    at: 1000,
    hostTotalKiB: 1024 * M,
    dom0: { id: 'dom0', actualKiB: 256 * M, targetKiB: null, minKiB: 256 * M, maxKiB: 512 * M, committedKiB: 200 * M },
    guests: [
      { id: 'a', actualKiB: 256 * M, targetKiB: 256 * M, minKiB: 128 * M, maxKiB: 512 * M },
      { id: 'b', actualKiB: 256 * M, targetKiB: 256 * M, minKiB: 128 * M, maxKiB: 512 * M },
    ],
    ...over,
  };
}
const opts = { reserveKiB: 50 * M };
const rules = (prev: Snapshot | null, cur: Snapshot): string[] => checkInvariants(prev, cur, opts).map((v) => v.rule);
const withGuest = (s: Snapshot, id: string, g: Partial<Snapshot['guests'][number]>): Snapshot => ({
  ...s,
  guests: s.guests.map((x) => (x.id === id ? { ...x, ...g } : x)),
});

test('a consistent state passes (256 MiB free, no request)', () => {
  assert.deepEqual(rules(snap(), snap()), []);
});

test('over-allocated: Dom0 + actual allocations above host total', () => {
  const s = withGuest(snap(), 'a', { actualKiB: 600 * M, targetKiB: 600 * M, maxKiB: 1024 * M });
  assert.deepEqual(rules(s, s), ['over-allocated']);
});

test('guest-bounds: a target below the minimum, an allocation above the maximum', () => {
  assert.deepEqual(rules(snap(), withGuest(snap(), 'a', { targetKiB: 100 * M })), ['guest-bounds']);
  assert.deepEqual(rules(snap(), withGuest(snap(), 'b', { actualKiB: 200 * M, maxKiB: 192 * M, targetKiB: 192 * M })), ['guest-bounds']);
});

test('dom0-bounds: a Dom0 target above its maximum', () => {
  const cur = snap({ dom0: { ...snap().dom0, targetKiB: 600 * M } });
  assert.ok(rules(snap(), cur).includes('dom0-bounds'));
});

test('two-phase: an increase funded by a decrease that has not landed yet', () => {
  // 256 MiB free, 50 reserved: +206 MiB fits, +207 does not.
  const ok = withGuest(snap(), 'a', { targetKiB: (256 + 206) * M });
  assert.deepEqual(rules(snap(), ok), []);
  const over = withGuest(snap(), 'a', { targetKiB: (256 + 207) * M });
  assert.deepEqual(rules(snap(), over), ['two-phase']);
  // b asked to give 100 MiB back in the same tick: it has not landed, so it funds nothing yet.
  const swap = withGuest(withGuest(snap(), 'b', { targetKiB: 156 * M }), 'a', { targetKiB: (256 + 207) * M });
  assert.deepEqual(rules(snap(), swap), ['two-phase']);
  // Once b's decrease has landed, the same increase is fine.
  const landed = withGuest(withGuest(snap(), 'b', { actualKiB: 156 * M, targetKiB: 156 * M }), 'a', { targetKiB: (256 + 207) * M });
  assert.deepEqual(rules(withGuest(snap(), 'b', { actualKiB: 156 * M, targetKiB: 156 * M }), landed), []);
});

test('two-phase: an unchanged pending increase is not counted again', () => {
  const pending = withGuest(snap(), 'a', { targetKiB: (256 + 200) * M });
  assert.deepEqual(rules(pending, pending), []);
});

test('dom0-first: a guest grows while Dom0 is short and there is not enough for both', () => {
  const short = { ...snap().dom0, committedKiB: 400 * M }; // Dom0 needs +144 MiB
  const cur = withGuest(snap({ dom0: short }), 'a', { targetKiB: (256 + 100) * M });
  assert.deepEqual(rules(snap({ dom0: short }), cur), ['dom0-first']);
  // Dom0 served (its target at its need): the same guest increase is fine... if it fits.
  const served = { ...short, targetKiB: 400 * M };
  const small = withGuest(snap({ dom0: served }), 'a', { targetKiB: (256 + 50) * M });
  assert.deepEqual(rules(snap({ dom0: served }), small), []);
});
