// Algorithm 3 (global balance by equal idle-memory price) and the host-free bonus, in real
// KiB (rounding to pages happens once, afterwards, in decide).
//
// Price of guest i (Waldspurger's idle memory tax with the paper's swap term):
//   rho_i = c_i / (Nt_i - tau*A_i),  c_i = S_i * ((1 - tau) + eps * swapUsed_i).
// Equal prices 1/t with the total conserved give Nt_i = tau*A_i + c_i*t; with the bounds,
// Nt_i = clamp(tau*A_i + c_i*t, L_i, H_i) and t solves sum Nt_i = M (see clamp-sum.ts).
// The upper bound is whatever the caller passes as maxKiB: decide() passes the commit cap MC_i
// rather than the paper's H_i (beyond the paper; decide.ts, "Commit cap").
import { solveClampSum } from './clamp-sum.ts';

export interface BalanceGuest {
  /** A_i = max(0, N_i - F_i), KiB. */
  activeKiB: number;
  /** swapUsed_i in [0, 1]. */
  swapUsed: number;
  /** S_i > 0. */
  shares: number;
  /** The bounds, page multiples, minKiB <= maxKiB: L_i and H_i in the paper; decide() passes L_i and MC_i. */
  minKiB: number;
  maxKiB: number;
}

/** c_i = S_i * ((1 - tau) + eps * swapUsed_i): the price numerator. */
export function priceWeight(g: Pick<BalanceGuest, 'shares' | 'swapUsed'>, tau: number, eps: number): number {
  return g.shares * (1 - tau + eps * g.swapUsed);
}

/** swapUsed = 1 - SF/ST, 0 without swap. */
export function swapUsed(swapTotalKiB: number, swapFreeKiB: number): number {
  if (swapTotalKiB <= 0) return 0;
  const u = 1 - swapFreeKiB / swapTotalKiB;
  return u < 0 ? 0 : u > 1 ? 1 : u;
}

export interface BalanceResult {
  /** Nt_i, real KiB. */
  nt: Float64Array;
  /** The common t (price 1/t); null when no guest's allocation depends on it. */
  t: number | null;
}

/**
 * Nt_i = clamp(tau*A_i + c_i*t, L_i, H_i) with sum Nt_i = M (M clipped to [sum L, sum H]:
 * below, everyone sits at L_i; above, at H_i). O(n log n).
 */
export function balance(guests: readonly BalanceGuest[], totalKiB: number, tau: number, eps: number): BalanceResult {
  const n = guests.length;
  const p = new Float64Array(n);
  const q = new Float64Array(n);
  const lo = new Float64Array(n);
  const hi = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const g = guests[i]!;
    p[i] = tau * g.activeKiB;
    q[i] = priceWeight(g, tau, eps);
    lo[i] = g.minKiB;
    hi[i] = g.maxKiB;
  }
  const terms = { p, q, lo, hi };
  const t = solveClampSum(terms, totalKiB);
  const nt = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = t === null ? p[i]! : p[i]! + q[i]! * t;
    nt[i] = v < lo[i]! ? lo[i]! : v > hi[i]! ? hi[i]! : v;
  }
  return { nt, t };
}

/**
 * The bonus (beyond the paper's text, as docs/algorithm.md reads it): extraKiB of host free memory
 * handed out in proportion to Nt_i, T_i = Nt_i * (1 + s), each capped at maxKiB[i] (the paper's
 * H_i; decide() passes the commit cap MC_i), what a cap leaves
 * over going to the others in the same proportion (water filling; s solves
 * sum min(H_i, Nt_i (1 + s)) = sum Nt + extra). Everyone at H_i when that is not enough room.
 */
export function addBonus(nt: Float64Array, maxKiB: Float64Array, extraKiB: number): Float64Array {
  const n = nt.length;
  if (extraKiB <= 0) return nt;
  let sumNt = 0;
  let sumH = 0;
  for (let i = 0; i < n; i++) {
    sumNt += nt[i]!;
    sumH += maxKiB[i]!;
  }
  const out = new Float64Array(n);
  if (sumNt + extraKiB >= sumH) {
    for (let i = 0; i < n; i++) out[i] = maxKiB[i]!;
    return out;
  }
  // clamp(Nt_i + Nt_i*s, Nt_i, H_i): the same clamp-sum equation, in s.
  const s = solveClampSum({ p: nt, q: nt, lo: nt, hi: maxKiB }, sumNt + extraKiB) ?? 0;
  for (let i = 0; i < n; i++) {
    const v = nt[i]! * (1 + s);
    out[i] = v > maxKiB[i]! ? maxKiB[i]! : v < nt[i]! ? nt[i]! : v;
  }
  return out;
}
