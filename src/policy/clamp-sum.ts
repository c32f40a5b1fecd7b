// The one equation behind both the equal-price balance and the bonus: find x with
//   f(x) = sum_i clamp(p_i + q_i * x, lo_i, hi_i) = target.
// f is continuous, non-decreasing and piecewise linear (q_i >= 0), bending only where some
// term hits lo_i or hi_i. Sorting those 2n breakpoints and bisecting over the sorted list for
// the segment where f crosses the target gives x exactly (f is linear on that segment):
// O(n log n), a fixed number of steps, no iteration to convergence and no matrix.

export interface ClampSumTerms {
  p: ArrayLike<number>;
  q: ArrayLike<number>;
  lo: ArrayLike<number>;
  hi: ArrayLike<number>;
}

/** f(x) = sum_i clamp(p_i + q_i x, lo_i, hi_i). O(n). */
export function clampSum(t: ClampSumTerms, x: number): number {
  const { p, q, lo, hi } = t;
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const v = p[i]! + q[i]! * x;
    const l = lo[i]!;
    const h = hi[i]!;
    s += v < l ? l : v > h ? h : v;
  }
  return s;
}

/**
 * The smallest x with f(x) = target, when f reaches the target; otherwise the breakpoint
 * where f comes nearest (the first if target is below f's range, the last if above).
 * null when no term depends on x (every q_i = 0): then x is free and f is constant.
 */
export function solveClampSum(t: ClampSumTerms, target: number): number | null {
  const { p, q, lo, hi } = t;
  const n = p.length;
  const bp = new Float64Array(2 * n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const qi = q[i]!;
    if (qi > 0) {
      bp[m++] = (lo[i]! - p[i]!) / qi;
      bp[m++] = (hi[i]! - p[i]!) / qi;
    }
  }
  if (m === 0) return null;
  const b = bp.subarray(0, m).sort();
  if (clampSum(t, b[0]!) >= target) return b[0]!;
  const fLast = clampSum(t, b[m - 1]!);
  if (fLast <= target) {
    // f is flat past the last breakpoint; the smallest x reaching fLast is found below when
    // fLast === target, else return the last breakpoint.
    if (fLast < target) return b[m - 1]!;
  }
  // Invariant: f(b[lo]) < target <= f(b[hi]).
  let loK = 0;
  let hiK = m - 1;
  let fLo = clampSum(t, b[0]!);
  let fHi = fLast;
  while (hiK - loK > 1) {
    const mid = (loK + hiK) >>> 1;
    const fm = clampSum(t, b[mid]!);
    if (fm >= target) {
      hiK = mid;
      fHi = fm;
    } else {
      loK = mid;
      fLo = fm;
    }
  }
  const x0 = b[loK]!;
  const x1 = b[hiK]!;
  // f is linear on [x0, x1]: interpolate.
  return x0 + ((target - fLo) * (x1 - x0)) / (fHi - fLo);
}
