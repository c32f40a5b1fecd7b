// The balance solver against the paper's own method (equation (3) by Gaussian elimination,
// re-solved after clamping, bench/paper-elimination.ts): two independent routes to Nt, so each
// checks the other. Plus the rounding step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { balance, type BalanceGuest } from '../../../src/policy/balance.ts';
import { PAGE_KIB, roundPagesExact } from '../../../src/policy/pages.ts';
import { gaussSolve, paperBalance } from '../../../bench/paper-elimination.ts';

const guestArb: fc.Arbitrary<BalanceGuest> = fc
  .record({
    minP: fc.integer({ min: 0, max: 50_000 }),
    spanP: fc.integer({ min: 0, max: 200_000 }),
    activeP: fc.integer({ min: 0, max: 250_000 }),
    swapUsed: fc.double({ min: 0, max: 1, noNaN: true }),
    shares: fc.integer({ min: 1, max: 4 }),
  })
  .map((r) => ({
    minKiB: r.minP * PAGE_KIB,
    maxKiB: (r.minP + r.spanP) * PAGE_KIB,
    activeKiB: r.activeP * PAGE_KIB,
    swapUsed: r.swapUsed,
    shares: r.shares,
  }));

test('gaussSolve solves a small system with a zero first pivot (needs the row swap)', () => {
  // [0 1; 2 1] x = [3; 5] -> x = [1, 3]
  const x = gaussSolve(new Float64Array([0, 1, 2, 1]), new Float64Array([3, 5]), 2);
  assert.ok(Math.abs(x[0]! - 1) < 1e-12 && Math.abs(x[1]! - 3) < 1e-12);
});

test('balance equals the paper elimination method to a page, and conserves M', () => {
  const arb = fc
    .record({
      guests: fc.array(guestArb, { minLength: 1, maxLength: 12 }),
      frac: fc.double({ min: 0, max: 1, noNaN: true }),
      tau: fc.double({ min: 0, max: 0.95, noNaN: true }),
      eps: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    .map((r) => {
      const sumL = r.guests.reduce((s, g) => s + g.minKiB, 0);
      const sumH = r.guests.reduce((s, g) => s + g.maxKiB, 0);
      return { ...r, M: sumL + Math.round((sumH - sumL) * r.frac) };
    });
  let clampedRuns = 0;
  fc.assert(
    fc.property(arb, ({ guests, M, tau, eps }) => {
      const ours = balance(guests, M, tau, eps).nt;
      const paper = paperBalance(guests, M, tau, eps);
      let sum = 0;
      guests.forEach((g, i) => {
        assert.ok(Math.abs(ours[i]! - paper[i]!) <= PAGE_KIB, `guest ${i}: ${ours[i]} vs paper ${paper[i]}`);
        assert.ok(ours[i]! >= g.minKiB - 1e-6 && ours[i]! <= g.maxKiB + 1e-6);
        sum += ours[i]!;
      });
      assert.ok(Math.abs(sum - M) < 1e-6 * Math.max(1, M));
      if (guests.some((g, i) => ours[i] === g.minKiB || ours[i] === g.maxKiB)) clampedRuns++;
    }),
    { numRuns: 500 },
  );
  assert.ok(clampedRuns > 0, 'no run exercised clamping');
});

test('roundPagesExact: sums exactly, stays in bounds, moves each value by under a page', () => {
  // 2.5 + 2.5 + 3 pages (10, 10, 12 KiB) to 32 KiB = 8 pages: floors 2 + 2 + 3 = 7, the odd
  // page to the tie later in order (index 1).
  assert.deepEqual(roundPagesExact([10, 10, 12], [0, 0, 0], [100, 100, 100], 32), [8, 12, 12]);
  fc.assert(
    fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 30 }), (vals) => {
      const sum = vals.reduce((s, v) => s + v, 0);
      const total = Math.round(sum / PAGE_KIB) * PAGE_KIB;
      const lo = vals.map(() => 0);
      const hi = vals.map((v) => Math.ceil(v / PAGE_KIB) * PAGE_KIB + PAGE_KIB);
      const out = roundPagesExact(vals, lo, hi, total);
      assert.equal(
        out.reduce((s, v) => s + v, 0),
        total,
      );
      out.forEach((v, i) => {
        assert.equal(v % PAGE_KIB, 0);
        assert.ok(Math.abs(v - vals[i]!) < PAGE_KIB);
      });
    }),
  );
});
