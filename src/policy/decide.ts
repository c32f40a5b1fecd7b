// The paper's policy (Zhang et al. 2011, Algorithms 1-3; docs/algorithm.md), as one pure function
// from a snapshot of the host to a decision. Integer KiB in and out, page-aligned goals and
// targets. What the math is: docs/algorithm.md; what each step here adds to it is commented inline.
import { addBonus, balance, swapUsed, type BalanceGuest } from './balance.ts';
import { clamp, PAGE_KIB, pageBounds, pageDown, pageUp, roundPagesExact } from './pages.ts';
import { yieldToPaging } from './idle-yield.ts';
import { deepenDecrease, isPaging, isShort, pagingCapKiB } from './pressure.ts';
import { transferSwallowed } from './reserve-deficit.ts';
import { ruleOn } from './rules.ts';
import { MIN_STEP_KIB, shareIncreases, stepToward } from './steps.ts';
import { traceOf } from './decide-trace.ts';
import type { ManagedGuest } from './managed.ts';
import type { Decision, DecideInput, Dom0Input, GuestDecision, Policy } from './types.ts';

export { DEFAULT_PARAMS } from './defaults.ts';

/**
 * Dom0 for a host that has none (KVM: the host's own memory is not balanced by memcoop, and a
 * library caller may leave it out): no memory, no need, so it never takes from the guests.
 */
export const NO_DOM0: Readonly<Dom0Input> = Object.freeze({ currentKiB: 0, committedKiB: 0, minKiB: 0, maxKiB: 0 });

/** A guest in the balance (managed.ts). */
type Managed = ManagedGuest;

// Paging lifts the commit cap (beyond the paper; pressure.ts). A guest at exactly its
// Committed_AS can still page: the kernel needs working room above the committed pages. On the
// KVM testbed a guest held at its commit (262 MiB committed, 258 MiB usable) paged with PSI
// some avg10 at 30-60 % for 100 s while 50 MiB of the pool sat unassigned. So a guest whose PSI
// says it is paging is bounded by its paging cap (what it uses plus 64 MiB of working room,
// within H_i; pressure.ts) rather than by MC_i, in the scarce balance and in the bonus; and while
// memory is abundant, what is left after every guest's goal (the paper leaves it idle in the
// host) goes to paging guests first and then to every guest, in proportion to their goals, each
// up to what it uses plus its working room: room given before the guest pages, not after. On
// bench:kvm the Linux selfballoon peer, whose target is Committed_AS plus a reserve, ran the
// memory + memory experiment in 2.4 / 9.0 s where memcoop, giving room only once PSI or
// swap-ins said a guest was paging, took 17.5 / 12.5 s (static 83.8 / 90.0 s): a guest growing
// into exactly its commit pages before any signal arrives. It is taken back the way any goal is:
// the next tick's need shrinks what is left over, and while a guest is short the others' idle
// free memory goes first (pressure.ts, "idle memory first").
//
// Short guests hold (beyond the paper): without a Dom0 shortfall, the scarce balance does not
// lower a guest that is paging with no free memory below what it has: between guests that are
// all short, a transfer moves the paging from one to the other and costs two balloon moves.

// Commit cap (beyond the paper). The paper's scarce balance bounds each guest by [L_i, H_i] and
// ignores Committed_AS, so it hands memory to a guest that is not asking for it: in the sim's
// paper-mixed scenario the compute guest (crafty, ~8 MiB of work) was raised from 128 to 143 MiB
// while the DaCapo guest stayed short, and a guest whose workload has finished kept ~150 MiB
// instead of its floor. So in the scarce balance and in the bonus a managed guest's upper bound
// is min(H_i, max(L_i, MC_i)), which is MC_i itself (MC_i = clamp(C_i, L_i, H_i) already lies in
// [L_i, H_i]): a guest never gets more than it has committed, which is also all that
// self adjustment (Algorithm 2) would give it. Guests strictly between L_i and MC_i still sit at
// one common price (tau*A_i + c_i*t for the one t).
// Measured (the runner's memcoop/static total runtime, mean over seeds 1-8, before -> after):
// paper-mixed 0.901 -> 0.881, paper-3vm 0.780 -> 0.770, paper-memory-memory 0.980 -> 0.979,
// paper-4vm 0.949 -> 0.948, but paper-mono-random 0.669 -> 0.697: a guest whose workload is
// ramping up commits less than its price share for a tick or two, is pinned at its commit, and
// the balance (A_i = N_i - F_i shrinks with N_i) does not give the difference back at once. Over
// the five scenarios: 49843 -> 49633 virtual s.
//
// Conservation, path by path (M + F' is what the scarce state may hand out; goals never exceed
// it, and the balance hands all of it out whenever the caps leave room):
// - scarce without a Dom0 shortfall: scarce means F' < need = sum(MC_i - N_i), i.e.
//   sum MC_i > sum N_i + F' = M + F' (lifting guests to L_i moves memory from F' to M, leaving
//   M + F' unchanged). So the caps sum above M: the balance meets sum Nt_i = M exactly, and the
//   bonus can place all of F' under the caps (sum Nt_i + F' < sum MC_i). Same total as the
//   paper's: M + F', all handed out.
// - Dom0 shortfall (reclaim > 0, F' = 0): M = sum N_i - shortfall, and the caps may sum below M
//   (guests committing little while Dom0 grows). Then every guest's goal is MC_i, Dom0 still
//   gets its whole shortfall, and M - sum MC_i is left free (the guests give back more than Dom0
//   needs, as self adjustment would have them do): goals total min(M, sum MC_i) <= M.
// - overcommitted: every guest at L_i <= MC_i; the cap plays no part.

/**
 * A domain above its maximum (an operator lowered static-max, or a snapshot out of step) is
 * brought down to the maximum at once, before any ratio step: a target above H_i is never
 * answered. The whole excess is a decrease, so it lands first and funds no one twice. Returns
 * the target, or null when the domain is within its maximum.
 * (A domain below its minimum needs no rule here: the balance lifts it to L_i first, out of free
 * memory, and the two-phase rule grants that increase only as memory is free.)
 */
function overMax(currentKiB: number, hiKiB: number): number | null {
  return currentKiB > hiKiB ? hiKiB : null;
}

/**
 * While abundant: leftoverKiB (free memory after the reserve, Dom0 and every guest's goal) goes
 * first to the paging guests, then to every guest, in proportion to their goals, each up to its
 * room cap (pressure.ts: what it uses plus its working room, within H_i); whole pages, rounded
 * down, and the whole pages rounding leaves go one each to the guests with the largest remainders
 * (still under their caps). Leaving them free leaked a page a tick: the next tick's leftover
 * counts the guest's goal above MC_i, so a page rounded off each tick drained a guest into the
 * host for as long as it stayed abundant (found by the "settles" property test). Goals are
 * changed in place.
 */
function giveLeftover(managed: readonly Managed[], goals: number[], leftoverKiB: number): void {
  let left = leftoverKiB;
  for (const pagingOnly of [true, false]) {
    const ks: number[] = [];
    managed.forEach((m, k) => {
      if ((!pagingOnly || m.paging) && goals[k]! < m.roomKiB) ks.push(k);
    });
    if (ks.length === 0 || left < PAGE_KIB) continue;
    const base = Float64Array.from(ks, (k) => goals[k]!);
    const caps = Float64Array.from(ks, (k) => managed[k]!.roomKiB);
    const out = addBonus(base, caps, left);
    ks.forEach((k, j) => {
      const g = Math.max(goals[k]!, Math.min(caps[j]!, pageDown(out[j]!)));
      left -= g - goals[k]!;
      goals[k] = g;
    });
    // Largest remainders first (ties: input order), a page each, under the caps.
    const order = ks.map((_, j) => j).filter((j) => goals[ks[j]!]! + PAGE_KIB <= caps[j]!);
    order.sort((a, b) => out[b]! - goals[ks[b]!]! - (out[a]! - goals[ks[a]!]!) || a - b);
    for (const j of order) {
      if (left < PAGE_KIB) break;
      goals[ks[j]!] = goals[ks[j]!]! + PAGE_KIB;
      left -= PAGE_KIB;
    }
  }
}

export const decide: Policy = (input: DecideInput): Decision => {
  const { params, host, dom0 } = input;
  const { tau, eps, reserveKiB, upRatio, downRatio } = params;
  const commitCap = ruleOn(params, 'commitCap');
  const minStep = ruleOn(params, 'minStep') ? MIN_STEP_KIB : 0;
  const workingRoom = ruleOn(params, 'workingRoom');
  const shortHold = ruleOn(params, 'shortHold');
  const idleFirst = ruleOn(params, 'idleFirst');
  const idleYield = workingRoom && ruleOn(params, 'idleYield');

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
    const paging = workingRoom && isPaging(g);
    managed.push({
      index,
      loKiB: lo,
      currentKiB: n,
      mcKiB: mc,
      hiKiB: hi,
      freeKiB: g.freeKiB,
      paging,
      short: isShort(g), // read by shortHold and idleFirst, each switchable
      roomKiB: pagingCapKiB(mc, hi, n, g.freeKiB),
      pendingKiB: pageDown(Math.max(0, Math.min(g.pendingIncreaseKiB ?? 0, hi - n))),
      pendingDownKiB: pageUp(Math.max(0, Math.min(g.pendingDecreaseKiB ?? 0, n))),
      reportsPressure: g.psiSomeAvg10 !== undefined,
      ...(g.availableKiB === undefined ? {} : { availableKiB: g.availableKiB }),
      minKiB: lo,
      // the commit cap: min(H_i, max(L_i, MC_i)) = MC_i; more while paging (working room)
      maxKiB: !commitCap ? hi : paging ? pagingCapKiB(mc, hi, n, g.freeKiB) : mc,
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
  let shortfall = 0;
  if (d <= F) {
    freeAfterDom0 = F - d; // a shrinking Dom0 adds to F'
  } else {
    shortfall = d - F;
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
  // What the trace reports of the balance (decide's own figures; filled only while tracing).
  const tracing = input.trace === true;
  let liftedOvercommit = false;
  let balanceKiB: number | null = null;
  let bonusKiB: number | null = null;
  let t: number | null = null;
  let nt: Float64Array | null = null;
  let withBonus: Float64Array | null = null;
  let yielded: number[] | null = null;
  if (abundant) {
    managed.forEach((m, k) => (goals[k] = m.mcKiB));
    if (workingRoom) giveLeftover(managed, goals, freeAfterDom0 - need);
    if (idleYield) {
      const before = tracing ? [...goals] : null;
      yieldToPaging(managed, goals);
      if (before !== null) yielded = goals.map((g, k) => g - before[k]!);
    }
  } else {
    let M = sumN - reclaim;
    let extra = freeAfterDom0;
    if (!overcommitted && sumL > M) {
      // Guests below their minimum (only possible without a Dom0 shortfall): lift them to it
      // out of F' first; if F' cannot, the host is overcommitted.
      const lift = Math.min(extra, sumL - M);
      M += lift;
      extra -= lift;
      if (sumL > M) overcommitted = liftedOvercommit = true;
    }
    if (overcommitted) {
      managed.forEach((m, k) => (goals[k] = m.minKiB));
    } else {
      if (reclaim === 0 && shortHold) {
        // Short guests hold (above): their floor in the balance is what they have.
        for (const m of managed) if (m.short) m.minKiB = Math.max(m.minKiB, Math.min(m.currentKiB, m.maxKiB));
      }
      // Equal prices within [L_i, MC_i] (the commit cap, above), then the bonus under the same
      // caps. total = M + F' whenever the state is scarce for want of memory (the caps sum above
      // it); only under a Dom0 shortfall can the caps cap it.
      ({ nt, t } = balance(managed, M, tau, eps));
      if (t !== null && t !== 0) price = 1 / t;
      const caps = Float64Array.from(managed, (m) => m.maxKiB);
      withBonus = addBonus(nt, caps, extra);
      balanceKiB = M;
      bonusKiB = extra;
      let sumCaps = 0;
      for (const h of caps) sumCaps += h;
      const total = Math.min(sumCaps, M + extra);
      const rounded = roundPagesExact(
        withBonus,
        managed.map((m) => m.minKiB),
        caps,
        total,
      );
      rounded.forEach((v, k) => (goals[k] = v));
    }
  }

  // Algorithm 2 steps, then the two-phase rule: increases (Dom0 first) share the memory free
  // now, before this tick's decreases have landed.
  const someoneShort = idleFirst && managed.some((m) => m.short);
  // Reserve first (reserve-deficit.ts): a transfer between guests that the host's reserve deficit
  // would swallow whole is not started: the goals stand, the guests it would lower hold this tick.
  let planned = 0;
  managed.forEach((m, k) => (planned += Math.max(0, m.currentKiB - goals[k]!)));
  const holdDecreases = !abundant && !overcommitted && reclaim === 0 && ruleOn(params, 'reserveFirst') && transferSwallowed(host.freeKiB, reserveKiB, planned);
  const ratios: number[] | null = tracing ? new Array<number>(managed.length) : null;
  const steps = managed.map((m, k) => {
    const over = overMax(m.currentKiB, m.hiKiB);
    if (over === null && holdDecreases && goals[k]! < m.currentKiB) {
      if (ratios !== null) ratios[k] = m.currentKiB;
      return m.currentKiB;
    }
    const ratio = over ?? stepToward(m.currentKiB, goals[k]!, upRatio, downRatio, minStep);
    if (ratios !== null) ratios[k] = ratio;
    return someoneShort ? deepenDecrease(m.currentKiB, ratio, goals[k]!, m.freeKiB) : ratio;
  });
  // Increases in flight (beyond the paper): a target written earlier and not yet reached still
  // takes its memory out of what the host reports free, so it is paid for already and the budget
  // (Dom0's included) is what is left after it. Without this the next tick granted the same free
  // memory again whenever a goal kept rising: on bench:kvm the guests' balloons held 676 MiB of
  // a 640 MiB pool. A new step at or above the pending target keeps it (its growth beyond is
  // what is asked); one below it replaces it, and its memory is not spoken for.
  //
  // Decreases in flight (beyond the paper, the same two-phase rule): a guest whose written target
  // is below N_i is heading there, and its balloon may already be there while N_i is a sample
  // behind. A new step above that target is growth from where the guest is heading, not a smaller
  // decrease: it is granted from free memory like any increase. Without this a tick that revised
  // an unreached decrease upward let the guest grow back while the memory its balloon had already
  // freed was granted to another guest: on bench:kvm the daemon saw the balloons hold 24 MiB more than the 640 MiB pool
  // (vm2 told 218 MiB, landed near 190, told 251 MiB at the next tick from a stale N of 262, while
  // vm1 was given the 37 MiB vm2 had freed).
  const bases = steps.map((s, k) => {
    const m = managed[k]!;
    if (m.pendingDownKiB > 0) {
      const heading = m.currentKiB - m.pendingDownKiB;
      return s > heading ? heading : m.currentKiB;
    }
    const base = m.currentKiB + m.pendingKiB;
    return m.pendingKiB > 0 && s >= base ? base : m.currentKiB;
  });
  let budget = F;
  for (let j = 0; j < managed.length; j++) budget -= Math.max(0, bases[j]! - managed[j]!.currentKiB);
  budget = Math.max(0, budget);
  const budgetAfterPending = budget;
  const dom0Step = overMax(n0, h0) ?? stepToward(n0, dom0Goal, upRatio, downRatio, minStep);
  let dom0Target = dom0Step;
  if (dom0Target > n0) {
    const grant = Math.min(dom0Target - n0, budget);
    dom0Target = n0 + grant;
    budget -= grant;
  }
  const wanted = steps.map((s, k) => Math.max(0, s - bases[k]!));
  const grants = shareIncreases(wanted, budget);

  const mode = abundant ? 'self' : 'global';
  const guests: GuestDecision[] = new Array(input.guests.length);
  let k = 0; // managed[] is in input order
  for (let i = 0; i < input.guests.length; i++) {
    const g = input.guests[i]!;
    const m = managed[k];
    if (m !== undefined && m.index === i) {
      const targetKiB = wanted[k]! > 0 ? bases[k]! + grants[k]! : steps[k]! >= m.currentKiB && bases[k]! > m.currentKiB ? bases[k]! : steps[k]!;
      guests[i] = { id: g.id, mode, goalKiB: goals[k]!, targetKiB };
      k++;
    } else {
      const held = overMax(g.currentKiB, pageBounds(g.minKiB, g.maxKiB)[1]) ?? g.currentKiB;
      guests[i] = { id: g.id, mode: 'held', goalKiB: held, targetKiB: held };
    }
  }

  const decision: Decision = {
    state: abundant ? 'abundant' : 'scarce',
    overcommitted,
    price,
    dom0: { goalKiB: dom0Goal, targetKiB: dom0Target, reclaimKiB: reclaim },
    guests,
  };
  if (tracing) {
    decision.trace = traceOf({
      input,
      decision,
      managed,
      usableKiB: F,
      dom0: { n0, l0, h0, want0, d, shortfall, step: dom0Step },
      sumN,
      sumL,
      need,
      freeAfterDom0,
      abundant,
      liftedOvercommit,
      balanceKiB,
      bonusKiB,
      t,
      nt,
      withBonus,
      yielded,
      reserveHold: holdDecreases,
      goals,
      ratios: ratios!,
      steps,
      bases,
      budgetAfterPending,
      dom0Grant: dom0Target > n0 ? dom0Target - n0 : 0,
      wanted,
      grants,
      someoneShort,
      minStep,
    });
  }
  return decision;
};
