// The one equation behind both the equal-price balance and the bonus: find x with
//   f(x) = sum_i clamp(p_i + q_i * x, lo_i, hi_i) = target.
// f is continuous, non-decreasing and piecewise linear (q_i >= 0), bending only at the 2n
// breakpoints where a term reaches lo_i or hi_i. The answer lies on the segment between two
// consecutive breakpoints where f crosses the target, and f is linear there, so x is exact.
//
// Finding that segment: sorting all 2n breakpoints and bisecting is O(n log n), but at 10,000
// guests the sort alone (V8's Float64Array sort: ~2 ms for 20,000 keys on the dev machine) blew
// the 2 ms budget of issue 2. So the segment is found by breakpoint SELECTION instead (Kiwiel
// 2008, "Breakpoint searching algorithms for the continuous quadratic knapsack problem"): keep
// a bracket [xl, xr] with f(xl) < target <= f(xr); test one breakpoint inside it (median of
// three samples); shrink the bracket; and fold every term whose state is now settled on the
// whole bracket (at lo, at hi, or linear) into running sums, so each round only touches the
// terms still undecided. Expected O(n) in total; after a fixed number of rounds the rest is
// finished by sorting the remaining breakpoints, which bounds the worst case at O(n log n).
// Either way: a fixed, finite sequence of exact steps, no iteration to convergence, no matrix.

export interface ClampSumTerms {
  p: Float64Array;
  q: Float64Array;
  lo: Float64Array;
  hi: Float64Array;
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

/** Selection rounds before the rest is sorted: generous for median-of-3 pivots on any real input. */
const SELECTION_ROUNDS_PER_LOG2 = 4;

/**
 * The smallest x with f(x) = target, when f reaches the target; otherwise the breakpoint where
 * f comes nearest (the lowest if target is below f's range, the highest if above).
 * null when no term depends on x (every q_i = 0): then f is constant.
 * selectionRounds (tests only) caps the selection rounds before the sorting finish.
 */
export function solveClampSum(t: ClampSumTerms, target: number, selectionRounds?: number): number | null {
  const { p, q, lo, hi } = t;
  const n = p.length;
  const lb = new Float64Array(n); // where term i leaves lo_i
  const hb = new Float64Array(n); // where term i reaches hi_i
  const cand = new Uint32Array(n); // the undecided terms
  let fixed = 0; // sum of the terms settled at a bound over the whole bracket
  let minBp = Infinity;
  let maxBp = -Infinity;
  let fLow = 0; // f below every breakpoint (all at lo), less `fixed`
  let fHigh = 0; // f above every breakpoint (all at hi), less `fixed`
  let m = 0;
  for (let i = 0; i < n; i++) {
    const qi = q[i]!;
    const pi = p[i]!;
    const l = lo[i]!;
    const h = hi[i]!;
    if (qi > 0) {
      const a = (l - pi) / qi;
      const b = (h - pi) / qi;
      lb[i] = a;
      hb[i] = b;
      cand[m++] = i;
      if (a < minBp) minBp = a;
      if (b > maxBp) maxBp = b;
      fLow += l;
      fHigh += h;
    } else {
      fixed += pi < l ? l : pi > h ? h : pi;
    }
  }
  if (m === 0) return null;
  if (fixed + fLow >= target) return minBp;
  if (fixed + fHigh < target) return maxBp;

  // Invariant: f(xl) < target <= f(xr). Terms not in cand[0..m) contribute
  // fixed + linP + linQ * x on the whole bracket. Each round makes ONE pass over cand: it
  // settles the terms with no breakpoint strictly inside the current bracket and, for the
  // rest, adds up f at the round's pivot. (Plain loops, no closures: V8 keeps the running sums
  // in registers only when no closure captures them.)
  let xl = minBp;
  let xr = maxBp;
  let linP = 0;
  let linQ = 0;
  const maxRounds = selectionRounds ?? SELECTION_ROUNDS_PER_LOG2 * Math.ceil(Math.log2(n + 1)) + 8;
  let sortFinish = true;
  for (let round = 0; round < maxRounds; round++) {
    // Pivot: median of three sampled breakpoints strictly inside the bracket, or any one.
    let x = NaN;
    if (m > 0) {
      const s0 = insideBp(lb, hb, cand[0]!, xl, xr);
      const s1 = insideBp(lb, hb, cand[m >> 1]!, xl, xr);
      const s2 = insideBp(lb, hb, cand[m - 1]!, xl, xr);
      if (s0 === s0 && s1 === s1 && s2 === s2) x = median3(s0, s1, s2);
      else if (s1 === s1) x = s1;
      else if (s0 === s0) x = s0;
      else if (s2 === s2) x = s2;
      else for (let k = 0; k < m && x !== x; k++) x = insideBp(lb, hb, cand[k]!, xl, xr);
    }
    const last = x !== x; // no breakpoint inside: this pass only settles
    let keep = 0;
    let sum = 0;
    for (let k = 0; k < m; k++) {
      const i = cand[k]!;
      const a = lb[i]!;
      const b = hb[i]!;
      if (b <= xl) fixed += hi[i]!;
      else if (a >= xr) fixed += lo[i]!;
      else if (a <= xl && b >= xr) {
        linP += p[i]!;
        linQ += q[i]!;
      } else {
        cand[keep++] = i;
        const v = p[i]! + q[i]! * x;
        const l = lo[i]!;
        const h = hi[i]!;
        sum += v < l ? l : v > h ? h : v;
      }
    }
    m = keep;
    if (last) {
      sortFinish = false;
      break;
    }
    if (sum + fixed + linP + linQ * x >= target) xr = x;
    else xl = x;
  }
  if (sortFinish) {
    // Worst-case guard: sort the breakpoints left inside the bracket and bisect (O(m log m)).
    const bps = new Float64Array(2 * m);
    let nb = 0;
    for (let k = 0; k < m; k++) {
      const i = cand[k]!;
      if (lb[i]! > xl && lb[i]! < xr) bps[nb++] = lb[i]!;
      if (hb[i]! > xl && hb[i]! < xr) bps[nb++] = hb[i]!;
    }
    const sorted = bps.subarray(0, nb).sort();
    let lo2 = -1; // -1 stands for xl
    let hi2 = nb; // nb stands for xr
    while (hi2 - lo2 > 1) {
      const mid = (lo2 + hi2) >> 1;
      const x = sorted[mid]!;
      let f = fixed + linP + linQ * x;
      for (let k = 0; k < m; k++) {
        const i = cand[k]!;
        const v = p[i]! + q[i]! * x;
        f += v < lo[i]! ? lo[i]! : v > hi[i]! ? hi[i]! : v;
      }
      if (f >= target) hi2 = mid;
      else lo2 = mid;
    }
    if (lo2 >= 0) xl = sorted[lo2]!;
    if (hi2 < nb) xr = sorted[hi2]!;
    // No breakpoint is left strictly inside: every remaining term settles.
    for (let k = 0; k < m; k++) {
      const i = cand[k]!;
      if (hb[i]! <= xl) fixed += hi[i]!;
      else if (lb[i]! >= xr) fixed += lo[i]!;
      else {
        linP += p[i]!;
        linQ += q[i]!;
      }
    }
  }
  // Now f = fixed + linP + linQ * x on [xl, xr], with f(xl) < target <= f(xr): linQ > 0.
  if (!(linQ > 0)) return xr;
  const x = (target - fixed - linP) / linQ;
  return x < xl ? xl : x > xr ? xr : x;
}

/** A breakpoint of term i strictly inside (xl, xr), or NaN. */
function insideBp(lb: Float64Array, hb: Float64Array, i: number, xl: number, xr: number): number {
  const a = lb[i]!;
  if (a > xl && a < xr) return a;
  const b = hb[i]!;
  return b > xl && b < xr ? b : NaN;
}

function median3(a: number, b: number, c: number): number {
  if (a > b) [a, b] = [b, a];
  if (b > c) b = c;
  return a > b ? a : b;
}
