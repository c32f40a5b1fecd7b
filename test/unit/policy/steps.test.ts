// Algorithm 2's steps, the two-phase share, and the write order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MIN_STEP_KIB, orderWrites, shareIncreases, stepToward } from '../../../src/policy/steps.ts';
import { PAGE_KIB } from '../../../src/policy/pages.ts';

test('stepToward: a ratio of the gap in whole pages, at least MIN_STEP_KIB or the whole gap, never past the goal', () => {
  const MIB = 1024;
  assert.equal(MIN_STEP_KIB, 4 * MIB);
  // 100 -> 200 MiB up 2: 50 MiB -> 150 MiB. Down 4 from 200 MiB to 100 MiB + 4 KiB: the gap is
  // 102396 KiB, a quarter is 25599 KiB, 6399 whole pages = 25596 KiB -> 179204 KiB.
  assert.equal(stepToward(100 * MIB, 200 * MIB, 2, 4), 150 * MIB);
  assert.equal(stepToward(200 * MIB, 100 * MIB + 4, 2, 4), 204800 - 25596);
  // The minimum step: a gap of 12 MiB down 4 would move 3 MiB; it moves MIN_STEP_KIB = 4 MiB.
  assert.equal(stepToward(112 * MIB, 100 * MIB, 1, 4), 108 * MIB);
  // The remainder under the minimum snaps to the goal: a 4 MiB gap and a 3 MiB gap close at once
  // (down 8 would have crept down in ever smaller steps, ending in single pages).
  assert.equal(stepToward(104 * MIB, 100 * MIB, 1, 8), 100 * MIB);
  assert.equal(stepToward(100 * MIB, 103 * MIB, 2, 2), 103 * MIB);
  // A gap under a page snaps to the goal.
  assert.equal(stepToward(1000, 1003, 2, 2), 1003);
  // A ratio below 1 (rejected as input, guarded anyway) still stops at the goal.
  assert.equal(stepToward(1000, 2000, 0.5, 1), 2000);
  fc.assert(
    fc.property(
      fc.nat(1_000_000),
      fc.nat(1_000_000),
      fc.integer({ min: 1, max: 16 }),
      fc.integer({ min: 1, max: 16 }),
      (np, gp, up, down) => {
        const n = np * PAGE_KIB;
        const g = gp * PAGE_KIB;
        const t = stepToward(n, g, up, down);
        assert.ok(Math.min(n, g) <= t && t <= Math.max(n, g));
        assert.equal(t % PAGE_KIB, 0);
        const dist = Math.abs(g - n);
        const moved = Math.abs(t - n);
        if (n !== g) assert.notEqual(t, n, 'made no progress');
        assert.ok(moved >= Math.min(dist, MIN_STEP_KIB), `moved ${moved} of ${dist}: under the minimum step`);
        // Never more than the larger of the ratio step and the minimum.
        const ratioStep = Math.floor(dist / (g > n ? up : down) / PAGE_KIB) * PAGE_KIB;
        assert.ok(moved <= Math.max(ratioStep, MIN_STEP_KIB), `moved ${moved}: more than the ratio step ${ratioStep}`);
        if (dist <= MIN_STEP_KIB) assert.equal(t, g, 'a gap within the minimum closes in one step');
        if ((g > n && up === 1) || (g < n && down === 1)) assert.equal(t, g);
      },
    ),
  );
});

test('stepToward: a goal is reached in a bounded number of ticks, not a geometric crawl', () => {
  // Down 4 from 512 MiB to 128 MiB: the gap shrinks by a quarter each tick while a quarter is at
  // least MIN_STEP_KIB, then by MIN_STEP_KIB: at most ceil(log_{4/3}(gap / (4 * MIN))) + 4 ticks.
  // Without the minimum this took one tick per quarter down to single pages (~36 ticks).
  let n = 512 * 1024;
  let ticks = 0;
  while (n !== 128 * 1024) {
    n = stepToward(n, 128 * 1024, 1, 4);
    ticks++;
  }
  const bound = Math.ceil(Math.log((384 * 1024) / (4 * MIN_STEP_KIB)) / Math.log(4 / 3)) + 4;
  assert.ok(ticks <= bound, `${ticks} ticks > ${bound}`);
  assert.ok(ticks >= 12, `${ticks} ticks: the ratio should still pace the long stretch`);
});

test('shareIncreases: never more than wanted, all of the budget when short, whole pages', () => {
  // Hand case: want 8 and 24 KiB (2 and 6 pages), budget 4 pages = 16 KiB:
  // shares 1 page and 3 pages exactly -> 4 and 12 KiB.
  assert.deepEqual(shareIncreases([8, 24], 16), [4, 12]);
  // Budget covers everything: granted as wanted.
  assert.deepEqual(shareIncreases([8, 24], 100), [8, 24]);
  fc.assert(
    fc.property(fc.array(fc.nat(1000), { maxLength: 20 }), fc.nat(20_000), (wp, bp) => {
      const wanted = wp.map((p) => p * PAGE_KIB);
      const budget = bp * PAGE_KIB;
      const got = shareIncreases(wanted, budget);
      const sumWanted = wanted.reduce((s, w) => s + w, 0);
      const sum = got.reduce((s, g) => s + g, 0);
      assert.equal(sum, Math.min(sumWanted, budget));
      got.forEach((g, i) => {
        assert.ok(g >= 0 && g <= wanted[i]!);
        assert.equal(g % PAGE_KIB, 0);
      });
    }),
  );
});

test('orderWrites: every decrease before any increase, unchanged left out, own order kept', () => {
  const current = new Map([
    ['dom0', 100],
    ['a', 100],
    ['b', 100],
    ['c', 100],
  ]);
  const targets = new Map([
    ['dom0', 140],
    ['a', 60],
    ['b', 100],
    ['c', 80],
  ]);
  assert.deepEqual(orderWrites(current, targets), [
    { id: 'a', fromKiB: 100, toKiB: 60, direction: 'decrease' },
    { id: 'c', fromKiB: 100, toKiB: 80, direction: 'decrease' },
    { id: 'dom0', fromKiB: 100, toKiB: 140, direction: 'increase' },
  ]);
  assert.throws(() => orderWrites(new Map(), new Map([[7, 1]])), /no current allocation for 7/);
});
