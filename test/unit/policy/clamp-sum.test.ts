// The breakpoint search behind the balance and the bonus, against a plain reference (sort
// every breakpoint, walk the segments), on the selection path, the sorting finish it falls
// back to, and mixes of both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { clampSum, solveClampSum, type ClampSumTerms } from '../../../src/policy/clamp-sum.ts';

/** Reference: every breakpoint sorted, f evaluated at each, the crossing interpolated. */
function reference(t: ClampSumTerms, target: number): number | null {
  const bps: number[] = [];
  for (let i = 0; i < t.p.length; i++) {
    if (t.q[i]! > 0) bps.push((t.lo[i]! - t.p[i]!) / t.q[i]!, (t.hi[i]! - t.p[i]!) / t.q[i]!);
  }
  if (bps.length === 0) return null;
  bps.sort((a, b) => a - b);
  if (clampSum(t, bps[0]!) >= target) return bps[0]!;
  for (let k = 1; k < bps.length; k++) {
    const f1 = clampSum(t, bps[k]!);
    if (f1 >= target) {
      const f0 = clampSum(t, bps[k - 1]!);
      return bps[k - 1]! + ((target - f0) * (bps[k]! - bps[k - 1]!)) / (f1 - f0);
    }
  }
  return bps[bps.length - 1]!;
}

const termsArb = fc
  .array(
    fc.record({
      p: fc.integer({ min: -1000, max: 1000 }),
      q: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 50 }).map((x) => x / 10)),
      lo: fc.integer({ min: 0, max: 500 }),
      span: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 500 })),
    }),
    { minLength: 1, maxLength: 40 },
  )
  .map((rows) => ({
    p: Float64Array.from(rows, (r) => r.p),
    q: Float64Array.from(rows, (r) => r.q),
    lo: Float64Array.from(rows, (r) => r.lo),
    hi: Float64Array.from(rows, (r) => r.lo + r.span),
  }));

test('solveClampSum finds the smallest x with f(x) = target, on every path', () => {
  fc.assert(
    fc.property(termsArb, fc.double({ min: -0.1, max: 1.1, noNaN: true }), fc.constantFrom(undefined, 0, 1, 2, 5), (t, frac, rounds) => {
      const sumLo = t.lo.reduce((s, v) => s + v, 0);
      const sumHi = t.hi.reduce((s, v) => s + v, 0);
      const target = sumLo + frac * (sumHi - sumLo);
      const want = reference(t, target);
      const got = solveClampSum(t, target, rounds);
      if (want === null) return assert.equal(got, null);
      assert.ok(got !== null);
      const fWant = clampSum(t, want);
      const fGot = clampSum(t, got);
      // Same value of f (what the allocation depends on) and, where f crosses the target, the
      // same x.
      assert.ok(Math.abs(fGot - fWant) <= 1e-6 * Math.max(1, Math.abs(fWant)), `f ${fGot} vs ${fWant}`);
      if (clampSum(t, -1e15) < target && target < clampSum(t, 1e15)) assert.ok(Math.abs(got - want) <= 1e-6 * Math.max(1, Math.abs(want)), `x ${got} vs ${want}`);
    }),
    { numRuns: 2000 },
  );
});

test('solveClampSum: hand case', () => {
  // Terms x (clamped to [0, 10]) and 2x (clamped to [0, 4]): f(x) = 3x up to x = 2, then x + 4.
  // f = 9 at x = 5.
  const t = { p: new Float64Array([0, 0]), q: new Float64Array([1, 2]), lo: new Float64Array([0, 0]), hi: new Float64Array([10, 4]) };
  assert.equal(solveClampSum(t, 9), 5);
  assert.equal(solveClampSum(t, 9, 0), 5);
  assert.equal(solveClampSum(t, 3), 1);
  assert.equal(solveClampSum({ ...t, q: new Float64Array([0, 0]) }, 3), null);
});
