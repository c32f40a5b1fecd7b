// The paper's policy (Zhang et al. 2011, Algorithms 1-3; ALGORITHM.md), as one pure function
// from a snapshot of the host to a decision. Integer KiB in and out, page-aligned goals and
// targets. What the math is: ALGORITHM.md; what each step here adds to it is commented inline.
import { addBonus, balance, swapUsed, type BalanceGuest } from './balance.ts';
import { clamp, pageDown, pageUp, roundPagesExact } from './pages.ts';
import { shareIncreases, stepToward } from './steps.ts';
import type { Decision, DecideInput, GuestDecision, Policy } from './types.ts';

export { DEFAULT_PARAMS } from './defaults.ts';

/** Bounds in whole pages: min up, max down; a range inside one page collapses onto max. */
export function pageBounds(minKiB: number, maxKiB: number): [number, number] {
  const hi = pageDown(maxKiB);
  const lo = Math.min(pageUp(minKiB), hi);
  return [lo, hi];
}

interface Managed extends BalanceGuest {
  index: number;
  /** N_i, page-aligned (a sub-page remainder is not memory the policy can move). */
  currentKiB: number;
  /** MC_i = clamp(C_i, L_i, H_i). */
  mcKiB: number;
}

export const decide: Policy = (input: DecideInput): Decision => {
  const { params, host, dom0 } = input;
  const { tau, eps, reserveKiB, upRatio, downRatio } = params;

  // Host free after the reserve (F).
  const F = pageDown(Math.max(0, host.freeKiB - reserveKiB));

  // Dom0 first: its goal is clamp(C_0, L_0, H_0).
  const [l0, h0] = pageBounds(dom0.minKiB, dom0.maxKiB);
  const n0 = pageDown(dom0.currentKiB);
  const want0 = clamp(pageUp(dom0.committedKiB), l0, h0);
  const d = want0 - n0;

  const managed: Managed[] = [];
  let sumN = 0;
  let sumL = 0;
  let need = 0;
  input.guests.forEach((g, index) => {
    if (!g.agent) return;
    const [lo, hi] = pageBounds(g.minKiB, g.maxKiB);
    const n = pageDown(g.currentKiB);
    const mc = clamp(pageUp(g.committedKiB), lo, hi);
    managed.push({
      index,
      currentKiB: n,
      mcKiB: mc,
      minKiB: lo,
      maxKiB: hi,
      activeKiB: Math.max(0, n - g.freeKiB),
      swapUsed: swapUsed(g.swapTotalKiB, g.swapFreeKiB),
      shares: g.shares,
    });
    sumN += n;
    sumL += lo;
    need += mc - n;
  });

  // Dom0's need against host free; a shortfall is reclaimed from the managed guests.
  let dom0Goal = want0;
  let reclaim = 0;
  let freeAfterDom0 = 0; // F'
  let overcommitted = false;
  if (d <= F) {
    freeAfterDom0 = F - d; // a shrinking Dom0 adds to F'
  } else {
    const shortfall = d - F;
    const freeable = sumN - sumL; // what every guest at its minimum gives back
    if (shortfall <= freeable) {
      reclaim = shortfall;
    } else {
      // Even every guest at L_i cannot cover Dom0: Dom0 gets what can be freed (never less
      // than it has: it is served first) and the decision says so.
      overcommitted = true;
      reclaim = Math.max(0, freeable);
      dom0Goal = n0 + F + reclaim;
    }
  }

  // Definitions 1-2, over the managed guests.
  const abundant = !overcommitted && reclaim === 0 && freeAfterDom0 >= need;

  const goals = new Array<number>(managed.length);
  let price: number | null = null;
  if (abundant) {
    managed.forEach((m, k) => (goals[k] = m.mcKiB));
  } else {
    let M = sumN - reclaim;
    let extra = freeAfterDom0;
    if (!overcommitted && sumL > M) {
      // Guests below their minimum (only possible without a Dom0 shortfall): lift them to it
      // out of F' first; if F' cannot, the host is overcommitted.
      const lift = Math.min(extra, sumL - M);
      M += lift;
      extra -= lift;
      if (sumL > M) overcommitted = true;
    }
    if (overcommitted) {
      managed.forEach((m, k) => (goals[k] = m.minKiB));
    } else {
      const { nt, t } = balance(managed, M, tau, eps);
      if (t !== null && t !== 0) price = 1 / t;
      const maxes = Float64Array.from(managed, (m) => m.maxKiB);
      const withBonus = addBonus(nt, maxes, extra);
      let sumH = 0;
      for (const h of maxes) sumH += h;
      const total = Math.min(sumH, M + extra);
      const rounded = roundPagesExact(
        withBonus,
        managed.map((m) => m.minKiB),
        maxes,
        total,
      );
      rounded.forEach((v, k) => (goals[k] = v));
    }
  }

  // Algorithm 2 steps, then the two-phase rule: increases (Dom0 first) share the memory free
  // now, before this tick's decreases have landed.
  let budget = F;
  let dom0Target = stepToward(n0, dom0Goal, upRatio, downRatio);
  if (dom0Target > n0) {
    const grant = Math.min(dom0Target - n0, budget);
    dom0Target = n0 + grant;
    budget -= grant;
  }
  const steps = managed.map((m, k) => stepToward(m.currentKiB, goals[k]!, upRatio, downRatio));
  const wanted = steps.map((s, k) => Math.max(0, s - managed[k]!.currentKiB));
  const grants = shareIncreases(wanted, budget);

  const mode = abundant ? 'self' : 'global';
  const guests: GuestDecision[] = new Array(input.guests.length);
  let k = 0; // managed[] is in input order
  for (let i = 0; i < input.guests.length; i++) {
    const g = input.guests[i]!;
    const m = managed[k];
    if (m !== undefined && m.index === i) {
      const targetKiB = wanted[k]! > 0 ? m.currentKiB + grants[k]! : steps[k]!;
      guests[i] = { id: g.id, mode, goalKiB: goals[k]!, targetKiB };
      k++;
    } else {
      guests[i] = { id: g.id, mode: 'held', goalKiB: g.currentKiB, targetKiB: g.currentKiB };
    }
  }

  return {
    state: abundant ? 'abundant' : 'scarce',
    overcommitted,
    price,
    dom0: { goalKiB: dom0Goal, targetKiB: dom0Target, reclaimKiB: reclaim },
    guests,
  };
};
