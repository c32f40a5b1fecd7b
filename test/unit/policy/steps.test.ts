// Algorithm 2's steps, the two-phase share, and the write order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { orderWrites, shareIncreases, stepToward } from '../../../src/policy/steps.ts';
import { PAGE_KIB } from '../../../src/policy/pages.ts';

test('stepToward: a ratio of the gap in whole pages, at least a page, never past the goal', () => {
  // 1000 -> 2000 up 2: 500 KiB = 125 pages -> 1500. Down 4 from 2000 to 1000: 250 KiB is 62.5
  // pages, 62 whole pages = 248 KiB -> 1752.
  assert.equal(stepToward(1000, 2000, 2, 4), 1500);
  assert.equal(stepToward(2000, 1000, 2, 4), 1752);
  // gap 12 KiB down 8: 1.5 KiB rounds to no page, so one page moves.
  assert.equal(stepToward(1012, 1000, 1, 8), 1008);
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
        if (n !== g) assert.notEqual(t, n, 'made no progress');
        if ((g > n && up === 1) || (g < n && down === 1)) assert.equal(t, g);
      },
    ),
  );
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
