// Why the paper's policy (decide.ts) decided what it did, as data: the regime and the inequality
// that chose it, the price and each guest's price terms, which bound held each goal, each step's
// ratio and what the two-phase rule held back. Pure: it recomputes decide's intermediate values
// from the same input with the same helpers (decide.ts keeps them local), then runs decide itself
// and says whether the two agree (`matches`), so an explanation can never silently describe a
// policy that has since changed. `memcoop explain` and `memcoop replay --explain` print it.
import { addBonus, balance, priceWeight, swapUsed } from './balance.ts';
import { decide, pageBounds } from './decide.ts';
import { clamp, pageDown, pageUp } from './pages.ts';
import { MIN_STEP_KIB, shareIncreases, stepToward } from './steps.ts';
import { ruleOn } from './rules.ts';
import { isPaging } from './pressure.ts';
import type { Decision, DecideInput } from './types.ts';

export type Regime = 'abundant' | 'scarce' | 'reclaiming for Dom0' | 'overcommitted';

/** What held a guest's goal where it is. */
export type GoalBound =
  | 'commit' // abundant: the goal is Committed_AS itself (MC_i within [L_i, H_i])
  | 'min' // L_i: the floor held (overcommitted, or its price share fell below it)
  | 'max' // H_i: the ceiling held
  | 'commit cap' // MC_i below H_i: the guest gets no more than it has committed
  | 'price' // strictly inside its bounds: the equal-price share (plus bonus)
  | 'held' // no agent (or a silent one): held where it is, outside the balance
  | 'room'; // abundant: above its commit, what it uses plus working room (pressure.ts)

export interface GuestExplanation {
  id: string;
  managed: boolean;
  currentKiB: number;
  committedKiB: number;
  /** L_i and H_i in whole pages. */
  minKiB: number;
  maxKiB: number;
  /** MC_i = clamp(C_i, L_i, H_i): the commit cap. */
  commitCapKiB: number;
  /** A_i = max(0, N_i - F_i). */
  activeKiB: number;
  swapUsed: number;
  shares: number;
  /** The price terms of the balance (scarce, not overcommitted): Nt_i = tau*A_i + c_i*t. */
  price: { tauActiveKiB: number; weight: number; shareKiB: number | null; balancedKiB: number; bonusKiB: number } | null;
  goalKiB: number;
  bound: GoalBound;
  step: {
    /** 'over max': brought down to H_i at once; 'ratio': Algorithm 2's step; 'none': at the goal. */
    kind: 'none' | 'ratio' | 'over max';
    ratio: number | null;
    /** Where the step alone would go. */
    stepKiB: number;
    /** Of an increase, what the two-phase rule granted and held back. */
    wantedKiB: number;
    grantedKiB: number;
    heldBackKiB: number;
  };
  targetKiB: number;
}

export interface Explanation {
  params: DecideInput['params'];
  regime: Regime;
  /** The inequality that decided the regime, with its numbers (KiB). */
  inequality: string;
  host: { freeKiB: number; reserveKiB: number; usableKiB: number };
  dom0: {
    currentKiB: number;
    committedKiB: number;
    minKiB: number;
    maxKiB: number;
    /** clamp(C_0, L_0, H_0). */
    wantKiB: number;
    /** want - current: what Dom0 needs (negative: it gives back). */
    needKiB: number;
    shortfallKiB: number;
    reclaimKiB: number;
    goalKiB: number;
    targetKiB: number;
    heldBackKiB: number;
  };
  /** sum(MC_i - N_i) over managed guests. */
  guestNeedKiB: number;
  /** F': host free after the reserve and Dom0. */
  freeAfterDom0KiB: number;
  /** sum(N_i - L_i): what every managed guest at its floor gives back. */
  freeableKiB: number;
  /** The balance's total M and the bonus handed out on top (scarce only). */
  balanceKiB: number | null;
  bonusKiB: number | null;
  /** 1/t, and t. */
  price: number | null;
  t: number | null;
  twoPhase: { budgetKiB: number; dom0GrantKiB: number; wantedKiB: number; grantedKiB: number };
  guests: GuestExplanation[];
  /** What decide() itself returned for this input. */
  decision: Decision;
  /** The recomputation gives decide's goals, targets, regime and price exactly. */
  matches: boolean;
}

function boundOf(goal: number, lo: number, hi: number, mc: number): GoalBound {
  if (goal <= lo) return 'min';
  if (goal >= hi) return 'max';
  if (goal >= mc) return 'commit cap';
  return 'price';
}

/** Recomputes decide(input) step by step; pure. */
export function explainDecision(input: DecideInput): Explanation {
  const { params, host, dom0 } = input;
  const { tau, eps, reserveKiB, upRatio, downRatio } = params;
  const F = pageDown(Math.max(0, host.freeKiB - reserveKiB));
  const [l0, h0] = pageBounds(dom0.minKiB, dom0.maxKiB);
  const n0 = pageDown(dom0.currentKiB);
  const want0 = clamp(pageUp(dom0.committedKiB), l0, h0);
  const d = want0 - n0;

  interface M {
    index: number;
    n: number;
    lo: number;
    hi: number;
    mc: number;
    active: number;
    swap: number;
    shares: number;
  }
  const managed: M[] = [];
  let sumN = 0;
  let sumL = 0;
  let need = 0;
  input.guests.forEach((g, index) => {
    if (!g.agent) return;
    const [lo, hi] = pageBounds(g.minKiB, g.maxKiB);
    const n = pageDown(g.currentKiB);
    const mc = clamp(pageUp(g.committedKiB), lo, hi);
    managed.push({ index, n, lo, hi, mc, active: Math.max(0, n - g.freeKiB), swap: swapUsed(g.swapTotalKiB, g.swapFreeKiB), shares: g.shares });
    sumN += n;
    sumL += lo;
    need += mc - n;
  });

  const freeable = sumN - sumL;
  let dom0Goal = want0;
  let reclaim = 0;
  let shortfall = 0;
  let freeAfterDom0 = 0;
  let overcommitted = false;
  if (d <= F) freeAfterDom0 = F - d;
  else {
    shortfall = d - F;
    if (shortfall <= freeable) reclaim = shortfall;
    else {
      overcommitted = true;
      reclaim = Math.max(0, freeable);
      dom0Goal = n0 + F + reclaim;
    }
  }
  const abundant = !overcommitted && reclaim === 0 && freeAfterDom0 >= need;

  const goals: number[] = new Array(managed.length);
  const priceTerms: (GuestExplanation['price'] | null)[] = new Array(managed.length).fill(null);
  let price: number | null = null;
  let tOut: number | null = null;
  let balanceKiB: number | null = null;
  let bonusKiB: number | null = null;
  let liftedOvercommit = false;
  // decide() itself, for what the rules beyond the paper's text add (pressure.ts: working room,
  // idle memory first): the goals and targets below are decide's, the text says why.
  const decidedAll = decide(input);
  if (abundant) managed.forEach((m, k) => (goals[k] = decidedAll.guests[m.index]!.goalKiB));
  else {
    let Mtot = sumN - reclaim;
    let extra = freeAfterDom0;
    if (!overcommitted && sumL > Mtot) {
      const lift = Math.min(extra, sumL - Mtot);
      Mtot += lift;
      extra -= lift;
      if (sumL > Mtot) {
        overcommitted = true;
        liftedOvercommit = true;
      }
    }
    if (overcommitted) managed.forEach((m, k) => (goals[k] = m.lo));
    else {
      const bg = managed.map((m) => ({ activeKiB: m.active, swapUsed: m.swap, shares: m.shares, minKiB: m.lo, maxKiB: m.mc }));
      const { nt, t } = balance(bg, Mtot, tau, eps);
      tOut = t;
      if (t !== null && t !== 0) price = 1 / t;
      const caps = Float64Array.from(managed, (m) => m.mc);
      const withBonus = addBonus(nt, caps, extra);
      balanceKiB = Mtot;
      bonusKiB = extra;
      // The goals themselves: decide's page rounding, reproduced by decide below (matches).
      const decided = decide(input);
      managed.forEach((m, k) => {
        goals[k] = decided.guests[m.index]!.goalKiB;
        const w = priceWeight(bg[k]!, tau, eps);
        priceTerms[k] = {
          tauActiveKiB: tau * m.active,
          weight: w,
          shareKiB: t === null ? null : tau * m.active + w * t,
          balancedKiB: nt[k]!,
          bonusKiB: withBonus[k]! - nt[k]!,
        };
      });
    }
  }

  // Steps and the two-phase rule. Increases already in flight (decide's pendingIncreaseKiB) are
  // paid for first, as decide pays them; the guests' targets themselves are decide's.
  let budget = F;
  for (const g of input.guests) if (g.agent) budget -= Math.max(0, g.pendingIncreaseKiB ?? 0);
  budget = Math.max(0, budget);
  const dom0Step = n0 > h0 ? h0 : stepToward(n0, dom0Goal, upRatio, downRatio, ruleOn(input.params, 'minStep') ? MIN_STEP_KIB : 0);
  let dom0Target = dom0Step;
  let dom0Grant = 0;
  if (dom0Target > n0) {
    dom0Grant = Math.min(dom0Target - n0, budget);
    dom0Target = n0 + dom0Grant;
    budget -= dom0Grant;
  }
  // Dom0's target as decide set it (pending increases it kept or replaced are decide's to know).
  dom0Target = decidedAll.dom0.targetKiB;
  const twoPhaseBudget = budget;
  const steps = managed.map((m, k) => (m.n > m.hi ? m.hi : stepToward(m.n, goals[k]!, upRatio, downRatio)));
  const wanted = steps.map((s, k) => Math.max(0, s - managed[k]!.n));
  const grants = shareIncreases(wanted, budget);

  const guests: GuestExplanation[] = [];
  let k = 0;
  input.guests.forEach((g, i) => {
    const m = managed[k];
    const [lo, hi] = pageBounds(g.minKiB, g.maxKiB);
    if (m !== undefined && m.index === i) {
      const goal = goals[k]!;
      const over = m.n > m.hi;
      const target = decidedAll.guests[i]!.targetKiB;
      const bound: GoalBound = abundant ? (goal > m.mc ? 'room' : m.mc === pageUp(g.committedKiB) ? 'commit' : m.mc === m.lo ? 'min' : 'max') : overcommitted ? 'min' : boundOf(goal, m.lo, m.hi, m.mc);
      guests.push({
        id: g.id,
        managed: true,
        currentKiB: g.currentKiB,
        committedKiB: g.committedKiB,
        minKiB: lo,
        maxKiB: hi,
        commitCapKiB: m.mc,
        activeKiB: m.active,
        swapUsed: m.swap,
        shares: m.shares,
        price: priceTerms[k] ?? null,
        goalKiB: goal,
        bound,
        step: {
          kind: over ? 'over max' : steps[k] === m.n ? 'none' : 'ratio',
          ratio: over || steps[k] === m.n ? null : steps[k]! > m.n ? upRatio : downRatio,
          stepKiB: steps[k]!,
          wantedKiB: wanted[k]!,
          grantedKiB: wanted[k]! > 0 ? grants[k]! : 0,
          heldBackKiB: wanted[k]! - (wanted[k]! > 0 ? grants[k]! : 0),
        },
        targetKiB: target,
      });
      k++;
    } else {
      const held = g.currentKiB > hi ? hi : g.currentKiB;
      guests.push({
        id: g.id,
        managed: false,
        currentKiB: g.currentKiB,
        committedKiB: g.committedKiB,
        minKiB: lo,
        maxKiB: hi,
        commitCapKiB: held,
        activeKiB: g.currentKiB,
        swapUsed: 0,
        shares: g.shares,
        price: null,
        goalKiB: held,
        bound: 'held',
        step: { kind: held === g.currentKiB ? 'none' : 'over max', ratio: null, stepKiB: held, wantedKiB: 0, grantedKiB: 0, heldBackKiB: 0 },
        targetKiB: held,
      });
    }
  });

  const regime: Regime = overcommitted ? 'overcommitted' : reclaim > 0 ? 'reclaiming for Dom0' : abundant ? 'abundant' : 'scarce';
  let inequality: string;
  if (overcommitted && !liftedOvercommit) {
    inequality = `Dom0 needs ${mib(d)} > host free ${mib(F)} + what the guests can give back ${mib(freeable)} (every guest at its minimum): overcommitted`;
  } else if (overcommitted) {
    inequality = `guests' minimums ${mib(sumL)} > what they hold ${mib(sumN)} + free after Dom0 ${mib(freeAfterDom0)}: overcommitted`;
  } else if (reclaim > 0) {
    inequality = `Dom0 needs ${mib(d)} > host free ${mib(F)}: reclaim ${mib(reclaim)} <= what the guests can give back ${mib(freeable)}`;
  } else if (abundant) {
    inequality = `free after Dom0 F' = ${mib(freeAfterDom0)} >= guests' need sum(MC_i - N_i) = ${mib(need)}: abundant`;
  } else {
    inequality = `free after Dom0 F' = ${mib(freeAfterDom0)} < guests' need sum(MC_i - N_i) = ${mib(need)}: scarce`;
  }

  const decision = decide(input);
  // The pressure rules (pressure.ts: a paging guest's working-room cap, short guests' floors) can
  // move the balance's price; the explanation's price terms are the paper's and the commit cap's,
  // so the price shown is decide's own.
  if (input.guests.some((g) => g.agent && isPaging(g))) price = decidedAll.price;
  const matches =
    decision.state === (abundant ? 'abundant' : 'scarce') &&
    decision.overcommitted === overcommitted &&
    decision.price === price &&
    decision.dom0.goalKiB === dom0Goal &&
    decision.dom0.targetKiB === dom0Target &&
    decision.dom0.reclaimKiB === reclaim &&
    decision.guests.every((x, i) => x.goalKiB === guests[i]!.goalKiB && x.targetKiB === guests[i]!.targetKiB);

  let wantedSum = 0;
  let grantedSum = 0;
  for (const g of guests) {
    wantedSum += g.step.wantedKiB;
    grantedSum += g.step.grantedKiB;
  }
  return {
    params,
    regime,
    inequality,
    host: { freeKiB: host.freeKiB, reserveKiB, usableKiB: F },
    dom0: {
      currentKiB: dom0.currentKiB,
      committedKiB: dom0.committedKiB,
      minKiB: l0,
      maxKiB: h0,
      wantKiB: want0,
      needKiB: d,
      shortfallKiB: shortfall,
      reclaimKiB: reclaim,
      goalKiB: dom0Goal,
      targetKiB: dom0Target,
      heldBackKiB: Math.max(0, dom0Step - dom0Target),
    },
    guestNeedKiB: need,
    freeAfterDom0KiB: freeAfterDom0,
    freeableKiB: freeable,
    balanceKiB,
    bonusKiB,
    price,
    t: tOut,
    twoPhase: { budgetKiB: twoPhaseBudget, dom0GrantKiB: dom0Grant, wantedKiB: wantedSum, grantedKiB: grantedSum },
    guests,
    decision,
    matches,
  };
}

/** KiB as MiB for people: one decimal, exact when whole. */
export function mib(kib: number): string {
  const m = kib / 1024;
  return Number.isInteger(m) ? `${m} MiB` : `${m.toFixed(1)} MiB`;
}

const BOUND_TEXT: Record<GoalBound, string> = {
  commit: 'its Committed_AS (abundant: self adjustment toward what it committed)',
  room: 'above its Committed_AS: what abundance left over, up to what it uses plus 64 MiB of working room (src/policy/pressure.ts)',
  min: 'its minimum L_i',
  max: 'its maximum H_i',
  'commit cap': 'its commit cap MC_i (no guest gets more than it has committed)',
  price: 'the equal-price share (inside its bounds)',
  held: 'held where it is (no agent, or a silent one: outside the balance)',
};

/** The explanation as text, one guest or all; each line says one reason. */
export function formatExplanation(e: Explanation, guest?: string): string {
  const out: string[] = [];
  out.push(`regime: ${e.regime}  (${e.inequality})`);
  out.push(
    `host: free ${mib(e.host.freeKiB)} - reserve ${mib(e.host.reserveKiB)} = ${mib(e.host.usableKiB)} usable; ` +
      `Dom0 ${mib(e.dom0.currentKiB)} wants clamp(Committed_AS ${mib(e.dom0.committedKiB)}, ${mib(e.dom0.minKiB)}, ${mib(e.dom0.maxKiB)}) = ${mib(e.dom0.wantKiB)}` +
      (e.dom0.reclaimKiB > 0 ? `; reclaiming ${mib(e.dom0.reclaimKiB)} from the guests` : ''),
  );
  out.push(
    `Dom0: goal ${mib(e.dom0.goalKiB)}, target ${mib(e.dom0.targetKiB)}` +
      (e.dom0.heldBackKiB > 0 ? ` (${mib(e.dom0.heldBackKiB)} held back: only ${mib(e.host.usableKiB)} free now; the guests' decreases land first)` : ''),
  );
  if (e.price !== null) {
    out.push(
      `price: 1/t = ${e.price.toPrecision(6)} (t = ${e.t!.toPrecision(6)}); tau = ${e.params.tau}, eps = ${e.params.eps}; ` +
        `balance total M = ${mib(e.balanceKiB!)}, bonus ${mib(e.bonusKiB!)} handed out under the caps`,
    );
  } else if (e.regime !== 'abundant') {
    out.push('price: none (no guest sits between its bounds, so no common price was needed)');
  }
  out.push(
    `two-phase: ${mib(e.twoPhase.budgetKiB)} free for increases after Dom0's ${mib(e.twoPhase.dom0GrantKiB)}; ` +
      `guests asked ${mib(e.twoPhase.wantedKiB)}, granted ${mib(e.twoPhase.grantedKiB)}`,
  );
  const guests = guest === undefined ? e.guests : e.guests.filter((g) => g.id === guest);
  for (const g of guests) {
    out.push('');
    out.push(`${g.id}: allocation ${mib(g.currentKiB)}, Committed_AS ${mib(g.committedKiB)}, bounds [${mib(g.minKiB)}, ${mib(g.maxKiB)}]`);
    if (!g.managed) {
      out.push(`  goal ${mib(g.goalKiB)}: ${BOUND_TEXT.held}`);
      continue;
    }
    out.push(`  goal ${mib(g.goalKiB)}: ${BOUND_TEXT[g.bound]}`);
    if (g.price !== null) {
      const share = g.price.shareKiB === null ? 'no t' : mib(Math.round(g.price.shareKiB));
      out.push(
        `  price terms: tau*A_i = ${e.params.tau}*${mib(g.activeKiB)} = ${mib(Math.round(g.price.tauActiveKiB))}; ` +
          `c_i = S_i*((1-tau)+eps*swapUsed) = ${g.shares}*(${(1 - e.params.tau).toFixed(2)}+${e.params.eps}*${g.swapUsed.toFixed(3)}) = ${g.price.weight.toPrecision(4)}; ` +
          `tau*A_i + c_i*t = ${share}, clamped to [${mib(g.minKiB)}, MC_i ${mib(g.commitCapKiB)}] = ${mib(Math.round(g.price.balancedKiB))}` +
          (g.price.bonusKiB >= 1 ? ` + bonus ${mib(Math.round(g.price.bonusKiB))}` : ''),
      );
    }
    const s = g.step;
    if (s.kind === 'none') out.push(`  step: none (at its goal); target ${mib(g.targetKiB)}`);
    else if (s.kind === 'over max') out.push(`  step: above its maximum, brought down to ${mib(s.stepKiB)} at once`);
    else {
      const dir = s.stepKiB > g.currentKiB ? 'up' : 'down';
      out.push(
        `  step: ${dir} by max(gap/${s.ratio}, min(gap, ${mib(MIN_STEP_KIB)})) to ${mib(s.stepKiB)}` +
          (s.heldBackKiB > 0
            ? `; two-phase granted ${mib(s.grantedKiB)} of ${mib(s.wantedKiB)} (${mib(s.heldBackKiB)} held back until this tick's decreases have landed)`
            : '') +
          `; target ${mib(g.targetKiB)}`,
      );
    }
  }
  if (guest !== undefined && guests.length === 0) out.push('', `no guest ${guest} in this decision`);
  if (!e.matches) out.push('', 'warning: this recomputation differs from what the policy returned; trust the decision, not this text');
  return out.join('\n');
}
