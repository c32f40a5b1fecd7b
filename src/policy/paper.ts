// The paper's algorithm exactly as written (Zhang et al. 2011, Algorithms 1-3; docs/algorithm.md
// has our reading of the formulas), as `--policy paper`: the yardstick for what memcoop's own
// rules beyond the paper gain or cost (the ablation, docs/sweep.md). Deliberately self-contained:
// memcoop's decide.ts may grow new rules; this file stays the paper.
//
// What is the paper: Dom0 first (its goal clamp(C_0, L_0, H_0)); a Dom0 shortfall reclaimed from
// the guests; abundant (F' >= sum (MC_i - N_i)) -> every guest's goal is MC_i; scarce -> the
// equal-price balance Nt_i = clamp(tau*A_i + c_i*t, L_i, H_i) with sum Nt_i = M, then the host's
// free memory handed out in proportion to Nt_i, capped at H_i (the bonus); Algorithm 2's ratio
// steps toward every goal, in whole pages.
// What is not: no commit cap (the balance and bonus bound a guest by H_i, not MC_i), no minimum
// step (a step is at least one page, the unit a balloon moves), no write deadband (the supervisor
// writes every change for this policy), no prompt self steps (guests move on ticks only).
// Kept, because they are the host's safety and not a performance rule: the operator's reserve is
// taken off host free memory, and increases are paid only from memory free now (the two-phase
// rule the simulator's invariants hold every policy to).
import { solveClampSum } from './clamp-sum.ts';
import { clamp, pageDown, pageUp, PAGE_KIB, roundPagesExact } from './pages.ts';
import { shareIncreases } from './steps.ts';
import type { Decision, DecideInput, GuestDecision, Policy } from './types.ts';

/** Bounds in whole pages: min up, max down (a range inside one page collapses onto max). */
function bounds(minKiB: number, maxKiB: number): [number, number] {
  const hi = pageDown(maxKiB);
  return [Math.min(pageUp(minKiB), hi), hi];
}

/** Algorithm 2: N + (goal - N)/upRatio or N - (N - goal)/downRatio, whole pages, at least a page. */
export function paperStep(currentKiB: number, goalKiB: number, upRatio: number, downRatio: number): number {
  const gap = goalKiB - currentKiB;
  const dist = Math.abs(gap);
  if (dist <= PAGE_KIB) return goalKiB;
  const move = Math.max(PAGE_KIB, pageDown(dist / (gap > 0 ? upRatio : downRatio)));
  return gap > 0 ? currentKiB + Math.min(move, dist) : currentKiB - Math.min(move, dist);
}

interface Guest {
  index: number;
  n: number;
  lo: number;
  hi: number;
  mc: number;
  active: number;
  /** c_i = S_i ((1 - tau) + eps swapUsed_i). */
  c: number;
}

/**
 * Algorithm 3 with the bonus: Nt_i = clamp(tau A_i + c_i t, L_i, H_i), sum Nt = M; then
 * T_i = clamp(Nt_i (1 + s), Nt_i, H_i) with sum T = M + extra (everyone at H_i if that is less).
 * Real KiB; decide rounds once.
 */
export function paperBalance(guests: readonly Pick<Guest, 'lo' | 'hi' | 'active' | 'c'>[], totalKiB: number, extraKiB: number, tau: number): { goals: Float64Array; t: number | null } {
  const n = guests.length;
  const p = Float64Array.from(guests, (g) => tau * g.active);
  const q = Float64Array.from(guests, (g) => g.c);
  const lo = Float64Array.from(guests, (g) => g.lo);
  const hi = Float64Array.from(guests, (g) => g.hi);
  const t = solveClampSum({ p, q, lo, hi }, totalKiB);
  const nt = new Float64Array(n);
  for (let i = 0; i < n; i++) nt[i] = clamp(t === null ? p[i]! : p[i]! + q[i]! * t, lo[i]!, hi[i]!);
  if (extraKiB <= 0) return { goals: nt, t };
  let sumNt = 0;
  let sumHi = 0;
  for (let i = 0; i < n; i++) {
    sumNt += nt[i]!;
    sumHi += hi[i]!;
  }
  if (sumNt + extraKiB >= sumHi) return { goals: hi, t };
  const s = solveClampSum({ p: nt, q: nt, lo: nt, hi }, sumNt + extraKiB) ?? 0;
  const goals = new Float64Array(n);
  for (let i = 0; i < n; i++) goals[i] = clamp(nt[i]! * (1 + s), nt[i]!, hi[i]!);
  return { goals, t };
}

export const paper: Policy = (input: DecideInput): Decision => {
  const { params, host, dom0 } = input;
  const { tau, eps, reserveKiB, upRatio, downRatio } = params;
  const F = pageDown(Math.max(0, host.freeKiB - reserveKiB));

  const [l0, h0] = bounds(dom0.minKiB, dom0.maxKiB);
  const n0 = pageDown(dom0.currentKiB);
  const want0 = clamp(pageUp(dom0.committedKiB), l0, h0);
  const d = want0 - n0;

  const guests: Guest[] = [];
  let sumN = 0;
  let sumL = 0;
  let need = 0;
  input.guests.forEach((g, index) => {
    if (!g.agent) return;
    const [lo, hi] = bounds(g.minKiB, g.maxKiB);
    const n = pageDown(g.currentKiB);
    const mc = clamp(pageUp(g.committedKiB), lo, hi);
    const used = g.swapTotalKiB > 0 ? clamp(1 - g.swapFreeKiB / g.swapTotalKiB, 0, 1) : 0;
    guests.push({ index, n, lo, hi, mc, active: Math.max(0, n - g.freeKiB), c: g.shares * (1 - tau + eps * used) });
    sumN += n;
    sumL += lo;
    need += mc - n;
  });

  // Dom0 first; a shortfall comes out of the guests.
  let dom0Goal = want0;
  let reclaim = 0;
  let extra = 0;
  let overcommitted = false;
  if (d <= F) extra = F - d;
  else if (d - F <= sumN - sumL) reclaim = d - F;
  else {
    overcommitted = true;
    reclaim = Math.max(0, sumN - sumL);
    dom0Goal = n0 + F + reclaim;
  }

  const abundant = !overcommitted && reclaim === 0 && extra >= need;
  const goals = new Array<number>(guests.length);
  let price: number | null = null;
  if (abundant) guests.forEach((g, k) => (goals[k] = g.mc));
  else {
    let M = sumN - reclaim;
    if (!overcommitted && sumL > M) {
      const lift = Math.min(extra, sumL - M);
      M += lift;
      extra -= lift;
      if (sumL > M) overcommitted = true;
    }
    if (overcommitted) guests.forEach((g, k) => (goals[k] = g.lo));
    else {
      const { goals: real, t } = paperBalance(guests, M, extra, tau);
      if (t !== null && t !== 0) price = 1 / t;
      let sumHi = 0;
      for (const g of guests) sumHi += g.hi;
      const total = pageDown(Math.min(sumHi, M + extra));
      roundPagesExact(real, guests.map((g) => g.lo), guests.map((g) => g.hi), total).forEach((v, k) => (goals[k] = v));
    }
  }

  // Ratio steps; increases (Dom0 first) paid from what is free now.
  let budget = F;
  let dom0Target = n0 > h0 ? h0 : paperStep(n0, dom0Goal, upRatio, downRatio);
  if (dom0Target > n0) {
    const grant = Math.min(dom0Target - n0, budget);
    dom0Target = n0 + grant;
    budget -= grant;
  }
  const steps = guests.map((g, k) => (g.n > g.hi ? g.hi : paperStep(g.n, goals[k]!, upRatio, downRatio)));
  const grants = shareIncreases(steps.map((s, k) => Math.max(0, s - guests[k]!.n)), budget);

  const mode = abundant ? 'self' : 'global';
  const out: GuestDecision[] = input.guests.map((g) => {
    const held = Math.min(g.currentKiB, bounds(g.minKiB, g.maxKiB)[1]);
    return { id: g.id, mode: 'held', goalKiB: held, targetKiB: held };
  });
  guests.forEach((g, k) => {
    const step = steps[k]!;
    out[g.index] = { id: input.guests[g.index]!.id, mode, goalKiB: goals[k]!, targetKiB: step > g.n ? g.n + grants[k]! : step };
  });
  return {
    state: abundant ? 'abundant' : 'scarce',
    overcommitted,
    price,
    dom0: { goalKiB: dom0Goal, targetKiB: dom0Target, reclaimKiB: reclaim },
    guests: out,
  };
};
