// MOM peer: host free below 20% shrinks guests by up to 5% a step; otherwise they grow by 5%.
// Every expected number below is worked out by hand in the comment next to it.
import { deepStrictEqual, ok, strictEqual } from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mom } from '../../../../src/policy/peers/mom.ts';
import { byId, guest, input, MiB } from './inputs.ts';

// Both guests 1024 MiB of max 2048; a has 512 MiB free inside, b 100 MiB. Dom0 1024 MiB, at its
// commit, so it stays put.
const a = guest('a', { currentKiB: 1024 * MiB, freeKiB: 512 * MiB });
const b = guest('b', { currentKiB: 1024 * MiB, freeKiB: 100 * MiB });

describe('MOM peer', () => {
  it('shrinks by 5% a step under pressure, never below used + guest free share', () => {
    // Host: 320 MiB free of 320 + 1024 + 2048 = 3392: 9.43% < 20%, not critical (> 5%), so
    // guest free percent = 0.2 x 0.0943 / 0.2 = 0.0943.
    const d = mom(input(320 * MiB, [a, b]));
    strictEqual(d.state, 'scarce');
    // a: 0.95 x 1048576 = 996147.2 -> 996144 KiB (its ideal, 512 + 96.6 MiB, is lower).
    strictEqual(byId(d.guests, 'a').targetKiB, 996144);
    // b: used 924 MiB + 0.0943 x 1024 MiB = 1045098.3 KiB is above the 5% step: 1045096.
    strictEqual(byId(d.guests, 'b').targetKiB, 1045096);
    strictEqual(byId(d.guests, 'a').mode, 'global');
  });

  it('under critical pressure squeezes below the free-memory floor (the guest is made to swap)', () => {
    // 100 MiB free of 3172: 3.15% <= 5%: guest free percent 0.0315 - 0.05 < 0, so b's floor is
    // under its used memory and the 5% step wins: 996144 KiB, as for a.
    const d = mom(input(100 * MiB, [a, b]));
    strictEqual(byId(d.guests, 'b').targetKiB, 996144);
  });

  it('grows by 5% a step without pressure, at least to used + guest free share', () => {
    // 2048 MiB free of 5120: 40%. a: 1.05 x 1048576 = 1101004.8 -> 1101004 KiB.
    // b: ideal used 924 MiB + min_guest_free_percent 0.2 x 1024 MiB = 1155891.2 KiB (balloon.rules
    // grow_guest), above the 5% step -> 1155888.
    const d = mom(input(2048 * MiB, [a, b]));
    strictEqual(d.state, 'abundant');
    strictEqual(byId(d.guests, 'a').targetKiB, 1101004);
    strictEqual(byId(d.guests, 'b').targetKiB, 1155888);
  });

  it('does not move a guest at its max, nor by less than 0.25%', () => {
    const atMax = guest('m', { currentKiB: 2048 * MiB, maxKiB: 2048 * MiB, freeKiB: 0 });
    // Under pressure (9.43% free), c's ideal is used 926 + 96.6 = 1022.6 MiB: a 1.4 MiB step,
    // under 0.25% of 1024 MiB (2.56), so it is not made. (b, 3.4 MiB, was made above.)
    const c = guest('c', { currentKiB: 1024 * MiB, freeKiB: 98 * MiB });
    const grow = mom(input(4096 * MiB, [atMax]));
    strictEqual(byId(grow.guests, 'm').targetKiB, 2048 * MiB);
    const shrink = mom(input(320 * MiB, [a, c]));
    strictEqual(byId(shrink.guests, 'c').targetKiB, 1024 * MiB);
  });

  it('serves Dom0 first, then judges pressure on what is left free', () => {
    // Dom0 at 1024 wants 1200 MiB; 150 MiB free (MOM keeps no reserve: the host kernel takes
    // what is free): it takes them all. Host free is then 0: critical, both guests shrink.
    const d = mom(input(150 * MiB, [a, b], { currentKiB: 1024 * MiB, committedKiB: 1200 * MiB }));
    strictEqual(d.dom0.goalKiB, 1200 * MiB);
    strictEqual(d.dom0.targetKiB, 1174 * MiB);
    ok(byId(d.guests, 'a').targetKiB < 1024 * MiB);
    ok(byId(d.guests, 'b').targetKiB < 1024 * MiB);
  });

  it('holds a guest without an agent (MOM skips a guest with no memory stats)', () => {
    const silent = guest('s', { agent: false, currentKiB: 300 * MiB });
    const d = mom(input(2048 * MiB, [a, silent]));
    deepStrictEqual(byId(d.guests, 's'), { id: 's', mode: 'held', goalKiB: 300 * MiB, targetKiB: 300 * MiB });
  });
});
