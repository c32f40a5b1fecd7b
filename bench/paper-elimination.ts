// The paper's own way to the equal-price balance (Zhang et al. 2011, equation (3)), kept as a
// reference for the benchmark and for cross-checking src/policy/balance.ts: build the n x n
// linear system
//   rho_1 = rho_i (i = 2..n):  c_1 * Nt_i - c_i * Nt_1 = c_1 * a_i - c_i * a_1   (a_i = tau*A_i)
//   sum_i Nt_i = M
// and solve it by Gaussian elimination with partial pivoting, O(n^3). Then clamp and re-solve
// over the guests still free, as the paper does. One detail the paper leaves open: clamping
// every violator at once can clamp a guest that the exact answer leaves free, so each round
// clamps only the side whose total violation is larger (if the low violations outweigh the
// high ones, the true t is below this round's, so every low violator stays low; and vice
// versa). Not used by the daemon.
import { priceWeight, type BalanceGuest } from '../src/policy/balance.ts';

/** Solves A x = b in place (A row-major n x n). Partial pivoting. */
export function gaussSolve(A: Float64Array, b: Float64Array, n: number): Float64Array {
  for (let col = 0; col < n; col++) {
    let piv = col;
    let best = Math.abs(A[col * n + col]!);
    for (let r = col + 1; r < n; r++) {
      const v = Math.abs(A[r * n + col]!);
      if (v > best) {
        best = v;
        piv = r;
      }
    }
    if (best === 0) throw new Error(`singular system at column ${col}`);
    if (piv !== col) {
      for (let k = 0; k < n; k++) {
        const tmp = A[col * n + k]!;
        A[col * n + k] = A[piv * n + k]!;
        A[piv * n + k] = tmp;
      }
      const tb = b[col]!;
      b[col] = b[piv]!;
      b[piv] = tb;
    }
    const d = A[col * n + col]!;
    for (let r = col + 1; r < n; r++) {
      const f = A[r * n + col]! / d;
      if (f === 0) continue;
      for (let k = col; k < n; k++) A[r * n + k]! -= f * A[col * n + k]!;
      b[r]! -= f * b[col]!;
    }
  }
  const x = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r]!;
    for (let k = r + 1; k < n; k++) s -= A[r * n + k]! * x[k]!;
    x[r] = s / A[r * n + r]!;
  }
  return x;
}

/** Unclamped equal-price allocation of totalKiB over the guests in `free`, by equation (3). */
function solveSystem(a: Float64Array, c: Float64Array, free: number[], totalKiB: number): Float64Array {
  const n = free.length;
  const A = new Float64Array(n * n);
  const b = new Float64Array(n);
  const i1 = free[0]!;
  for (let r = 1; r < n; r++) {
    const ir = free[r]!;
    // c_1 * Nt_r - c_r * Nt_1 = c_1 * a_r - c_r * a_1
    A[r * n + r] = c[i1]!;
    A[r * n + 0] = -c[ir]!;
    b[r] = c[i1]! * a[ir]! - c[ir]! * a[i1]!;
  }
  for (let k = 0; k < n; k++) A[k] = 1; // row 0: sum Nt = M
  b[0] = totalKiB;
  return gaussSolve(A, b, n);
}

/** Nt by the paper's method: elimination, clamp, re-solve. */
export function paperBalance(guests: readonly BalanceGuest[], totalKiB: number, tau: number, eps: number): Float64Array {
  const n = guests.length;
  const a = new Float64Array(n);
  const c = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    a[i] = tau * guests[i]!.activeKiB;
    c[i] = priceWeight(guests[i]!, tau, eps);
  }
  const nt = new Float64Array(n);
  let free = Array.from({ length: n }, (_, i) => i);
  let remaining = totalKiB;
  while (free.length > 0) {
    const x = solveSystem(a, c, free, remaining);
    let low = 0;
    let high = 0;
    free.forEach((i, k) => {
      const g = guests[i]!;
      if (x[k]! < g.minKiB) low += g.minKiB - x[k]!;
      else if (x[k]! > g.maxKiB) high += x[k]! - g.maxKiB;
    });
    if (low === 0 && high === 0) {
      free.forEach((i, k) => (nt[i] = x[k]!));
      return nt;
    }
    const clampLow = low >= high;
    const still: number[] = [];
    free.forEach((i, k) => {
      const g = guests[i]!;
      if (clampLow && x[k]! < g.minKiB) {
        nt[i] = g.minKiB;
        remaining -= g.minKiB;
      } else if (!clampLow && x[k]! > g.maxKiB) {
        nt[i] = g.maxKiB;
        remaining -= g.maxKiB;
      } else still.push(i);
    });
    free = still;
  }
  return nt;
}
