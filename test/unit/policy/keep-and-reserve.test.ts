// Two rules against churn and waste (docs/algorithm.md): a prompt self step keeps the target the
// tick wrote (keepTickTarget, src/policy/self-step.ts), and the scarce balance starts no transfer
// between guests that the host's reserve deficit would swallow (reserveFirst,
// src/policy/reserve-deficit.ts). Each case is paired with the rule off, where the answer differs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, DEFAULT_PARAMS } from '../../../src/policy/decide.ts';
import { transferSwallowed } from '../../../src/policy/reserve-deficit.ts';
import { selfAdjustStep, type SelfStepGuest } from '../../../src/policy/self-step.ts';
import { guest, input, MIB } from './fixtures.ts';

const P = { ...DEFAULT_PARAMS, upRatio: 1, downRatio: 4 };
const g = (over: Partial<SelfStepGuest>): SelfStepGuest => ({
  id: 'g',
  minKiB: 128 * MIB,
  maxKiB: 1024 * MIB,
  currentKiB: 512 * MIB,
  committedKiB: 300 * MIB,
  pendingIncreaseKiB: 0,
  ...over,
});

test('keepTickTarget: a prompt step keeps a decrease or an increase the tick wrote; the old rule wrote a hold that undid it', () => {
  const down = g({ pendingDecreaseKiB: 100 * MIB }); // the tick wrote 412 MiB, the balloon is still at 512
  const up = g({ committedKiB: 300 * MIB, pendingIncreaseKiB: 64 * MIB }); // the tick gave room up to 576 MiB
  const on = selfAdjustStep({ params: P, budgetKiB: 0, guests: [down, { ...up, id: 'u' }] });
  assert.deepEqual(on.guests, [
    { id: 'g', goalKiB: 412 * MIB, targetKiB: 412 * MIB },
    { id: 'u', goalKiB: 576 * MIB, targetKiB: 576 * MIB },
  ]);
  // Without the rule (and memory free to pay for it: a hold above a decrease under way is growth
  // from where the guest is heading, decide.ts "Decreases in flight"), a hold at the allocation.
  const off = selfAdjustStep({ params: { ...P, rules: { keepTickTarget: false } }, budgetKiB: 1024 * MIB, guests: [down, { ...up, id: 'u' }] });
  assert.deepEqual(off.guests.map((x) => x.targetKiB), [512 * MIB, 512 * MIB], 'a hold at the allocation');
  const broke = selfAdjustStep({ params: { ...P, rules: { keepTickTarget: false } }, budgetKiB: 0, guests: [down, { ...up, id: 'u' }] });
  assert.deepEqual(broke.guests.map((x) => x.targetKiB), [412 * MIB, 512 * MIB], 'with nothing free the decrease under way stands');
});

test('keepTickTarget: a commit above the written target still moves the guest (down to the commit, or up)', () => {
  const r = selfAdjustStep({
    params: P,
    budgetKiB: 1024 * MIB,
    guests: [g({ id: 'd', committedKiB: 450 * MIB, pendingDecreaseKiB: 100 * MIB }), g({ id: 'u', committedKiB: 600 * MIB })],
  });
  assert.deepEqual(r.guests, [
    { id: 'd', goalKiB: 450 * MIB, targetKiB: 450 * MIB },
    { id: 'u', goalKiB: 600 * MIB, targetKiB: 600 * MIB },
  ]);
});

test('reserveFirst: transferSwallowed only below the reserve, and only for transfers no larger than the deficit', () => {
  assert.equal(transferSwallowed(0, 50 * MIB, 19 * MIB), true);
  assert.equal(transferSwallowed(0, 50 * MIB, 50 * MIB), true);
  assert.equal(transferSwallowed(0, 50 * MIB, 51 * MIB), false);
  assert.equal(transferSwallowed(60 * MIB, 50 * MIB, 19 * MIB), false);
  assert.equal(transferSwallowed(0, 50 * MIB, 0), false);
});

test('reserveFirst: with the host below its reserve, decide does not lower one guest by less than the deficit for another', () => {
  // Two guests of 214 MiB with no free memory on the host (reserve 50 MiB): a wants 458 MiB, b 227.
  const dom0 = { currentKiB: 256 * MIB, committedKiB: 200 * MIB, minKiB: 256 * MIB, maxKiB: 512 * MIB };
  const guests = [
    guest('a', { minKiB: 128 * MIB, maxKiB: 512 * MIB, currentKiB: 214 * MIB, committedKiB: 458 * MIB, freeKiB: 2 * MIB }),
    guest('b', { minKiB: 128 * MIB, maxKiB: 512 * MIB, currentKiB: 214 * MIB, committedKiB: 227 * MIB, freeKiB: 100 * MIB }),
  ];
  const params = { ...P, reserveKiB: 50 * MIB };
  const on = decide(input(params, 0, dom0, guests));
  const off = decide(input({ ...params, rules: { reserveFirst: false } }, 0, dom0, guests));
  assert.equal(on.state, 'scarce');
  const bOff = off.guests.find((x) => x.id === 'b')!;
  assert.ok(bOff.targetKiB < 214 * MIB, `without the rule b is lowered (target ${bOff.targetKiB})`);
  assert.equal(on.guests.find((x) => x.id === 'b')!.targetKiB, 214 * MIB);
  assert.equal(on.guests.find((x) => x.id === 'a')!.targetKiB, 214 * MIB, 'and a cannot be paid anyway');
});

test('decreases in flight: a tick that revises an unreached decrease upward pays for it from free memory', () => {
  // b was told 218 MiB and is still sampled at 262 (its balloon may be at 218 already); its new
  // goal is 240 MiB. With nothing free the written 218 stands; with 10 MiB free it gets 228.
  const dom0 = { currentKiB: 256 * MIB, committedKiB: 200 * MIB, minKiB: 256 * MIB, maxKiB: 512 * MIB };
  const b = guest('b', { minKiB: 128 * MIB, maxKiB: 512 * MIB, currentKiB: 262 * MIB, committedKiB: 240 * MIB, freeKiB: 130 * MIB, pendingDecreaseKiB: 44 * MIB });
  const params = { ...P, reserveKiB: 0, downRatio: 1 };
  assert.equal(decide(input(params, 0, dom0, [b])).guests[0]!.targetKiB, 218 * MIB);
  assert.equal(decide(input(params, 10 * MIB, dom0, [b])).guests[0]!.targetKiB, 228 * MIB);
  // A deeper decrease is not growth: it goes through whatever is free.
  const deeper = { ...b, committedKiB: 200 * MIB };
  assert.equal(decide(input(params, 0, dom0, [deeper])).guests[0]!.targetKiB, 200 * MIB);
  // Without the input (the old view: a decrease from N) the revision was free: the over-grant.
  const { pendingDecreaseKiB: _d, ...old } = b;
  assert.equal(decide(input(params, 0, dom0, [old])).guests[0]!.targetKiB, 240 * MIB);
});

test('decreases in flight: a prompt step that ends a decrease at a risen commit pays for the rise from the budget', () => {
  // The tick wrote 412 MiB (balloon at 512); the commit rises to 450: with no budget the 412 stands.
  const d = g({ id: 'd', committedKiB: 450 * MIB, pendingDecreaseKiB: 100 * MIB });
  assert.equal(selfAdjustStep({ params: P, budgetKiB: 0, guests: [d] }).guests[0]!.targetKiB, 412 * MIB);
  assert.equal(selfAdjustStep({ params: P, budgetKiB: 20 * MIB, guests: [d] }).guests[0]!.targetKiB, 432 * MIB);
});
