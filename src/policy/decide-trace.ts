// decide()'s trace (trace.ts) from the figures decide itself computed: this file names and sorts
// them (which regime test, which bound held, what bounded a step) and computes no policy. Run
// only when the input asks for a trace.
import { priceWeight } from './balance.ts';
import { PAGE_KIB, pageBounds, pageUp } from './pages.ts';
import { idleFreeKiB, isPaging, SWAPIN_PAGING_KIB } from './pressure.ts';
import { RULE_NAMES, ruleOn } from './rules.ts';
import { stepLimit } from './steps.ts';
import type { DecisionTrace, GoalSource, GuestTrace, PagingTrace, Regime, RegimeTest } from './trace.ts';
import type { ManagedGuest } from './managed.ts';
import type { DecideInput, Decision } from './types.ts';

/** A managed guest as decide keeps it (managed.ts). */
export type TracedGuest = ManagedGuest;

/** decide's locals at the end of a decision, as the trace reads them. */
export interface DecideFigures {
  input: DecideInput;
  decision: Decision;
  managed: readonly TracedGuest[];
  usableKiB: number;
  dom0: { n0: number; l0: number; h0: number; want0: number; d: number; shortfall: number; step: number };
  sumN: number;
  sumL: number;
  need: number;
  freeAfterDom0: number;
  abundant: boolean;
  liftedOvercommit: boolean;
  balanceKiB: number | null;
  bonusKiB: number | null;
  t: number | null;
  nt: Float64Array | null;
  withBonus: Float64Array | null;
  /** idleYield: what each guest's goal gained (+) or gave (-) in the transfer; null when it did not run. */
  yielded: readonly number[] | null;
  /** reserveFirst: this tick's decreases between guests were held (the reserve deficit would swallow them). */
  reserveHold: boolean;
  goals: readonly number[];
  ratios: readonly number[];
  steps: readonly number[];
  bases: readonly number[];
  budgetAfterPending: number;
  dom0Grant: number;
  wanted: readonly number[];
  grants: readonly number[];
  someoneShort: boolean;
  minStep: number;
}

function pagingOf(g: DecideInput['guests'][number], short: boolean): PagingTrace {
  const swapIns = g.swapInsKiB ?? null;
  return {
    psiSomeAvg10: g.psiSomeAvg10 ?? null,
    swapInsKiB: swapIns,
    by: swapIns !== null && swapIns >= SWAPIN_PAGING_KIB ? 'swap-ins' : 'psi',
    short,
  };
}

/**
 * Which bound decide gave the guest in the balance and bonus (decide.ts, the commit cap): H_i with
 * commitCap off; else the working room while paging, when it lies above MC_i; else MC_i, unless
 * that is H_i itself.
 */
function capFrom(f: DecideFigures, m: TracedGuest): GuestTrace['capFrom'] {
  if (!ruleOn(f.input.params, 'commitCap') || m.mcKiB === m.hiKiB) return 'max';
  return m.paging && m.roomKiB > m.mcKiB ? 'room' : 'commit';
}

/** share: tau*A_i + c_i*t, the price share before the clamp (null without a balance or a t). */
function goalSource(f: DecideFigures, m: TracedGuest, k: number, goal: number, committedKiB: number, share: number | null): GoalSource {
  const { decision } = f;
  if (decision.overcommitted) return 'overcommitted';
  if (f.abundant) {
    if ((f.yielded?.[k] ?? 0) < 0) return 'idle yield';
    if (goal > m.mcKiB) return 'room';
    const c = pageUp(committedKiB);
    return m.mcKiB === c ? 'commit' : m.mcKiB === m.loKiB && c < m.loKiB ? 'commit at min' : 'commit at max';
  }
  // The floor held only where the price share fell below it (by more than page rounding): a guest
  // whose share lands on its floor (the one left to take what the others' bounds leave) is priced.
  if (goal <= m.minKiB && (share === null || share < m.minKiB - PAGE_KIB)) return m.minKiB > m.loKiB ? 'short hold' : 'min';
  if (goal < m.maxKiB || goal <= m.minKiB) return 'price';
  const cap = capFrom(f, m);
  return cap === 'room' ? 'room cap' : cap === 'commit' ? 'commit cap' : 'max';
}

export function traceOf(f: DecideFigures): DecisionTrace {
  const { input, decision, managed } = f;
  const { params, host } = input;
  const { tau, eps, upRatio, downRatio } = params;
  const regime: Regime = decision.overcommitted ? 'overcommitted' : decision.dom0.reclaimKiB > 0 ? 'reclaiming for Dom0' : f.abundant ? 'abundant' : 'scarce';
  const freeable = f.sumN - f.sumL;
  const test: RegimeTest = f.liftedOvercommit
    ? { kind: 'minimums vs memory', sumMinKiB: f.sumL, sumCurrentKiB: f.sumN, freeAfterDom0KiB: f.freeAfterDom0 }
    : f.dom0.d > f.usableKiB
      ? { kind: 'Dom0 vs free', dom0NeedKiB: f.dom0.d, usableKiB: f.usableKiB, shortfallKiB: f.dom0.shortfall, freeableKiB: freeable }
      : { kind: 'free vs need', freeAfterDom0KiB: f.freeAfterDom0, guestNeedKiB: f.need };

  const guests: GuestTrace[] = new Array(input.guests.length);
  let wantedSum = 0;
  let grantedSum = 0;
  managed.forEach((m, k) => {
    const g = input.guests[m.index]!;
    const goal = f.goals[k]!;
    const d = decision.guests[m.index]!;
    const ratioStep = f.ratios[k]!;
    const step = f.steps[k]!;
    const pendingKept = f.bases[k]! > m.currentKiB;
    const granted = f.wanted[k]! > 0 ? f.grants[k]! : 0;
    wantedSum += f.wanted[k]!;
    grantedSum += granted;
    const inBalance = f.nt !== null && f.withBonus !== null;
    const w = priceWeight(m, tau, eps);
    const share = inBalance && f.t !== null ? tau * m.activeKiB + w * f.t : null;
    guests[m.index] = {
      id: g.id,
      managed: true,
      currentKiB: m.currentKiB,
      minKiB: m.loKiB,
      maxKiB: m.hiKiB,
      committedKiB: g.committedKiB,
      mcKiB: m.mcKiB,
      freeKiB: m.freeKiB,
      activeKiB: m.activeKiB,
      roomKiB: m.roomKiB,
      capKiB: m.maxKiB,
      capFrom: capFrom(f, m),
      paging: isPaging(g) ? pagingOf(g, m.short) : null,
      goalKiB: goal,
      goalFrom: goalSource(f, m, k, goal, g.committedKiB, share),
      leftoverKiB: f.abundant ? Math.max(0, goal - m.mcKiB - Math.max(0, f.yielded?.[k] ?? 0)) : 0,
      yieldKiB: f.yielded?.[k] ?? 0,
      price: inBalance
        ? {
            swapUsed: m.swapUsed,
            shares: m.shares,
            tauActiveKiB: Math.round(tau * m.activeKiB),
            weight: w,
            shareKiB: share === null ? null : Math.round(share),
            floorKiB: m.minKiB,
            balancedKiB: Math.round(f.nt![k]!),
            bonusKiB: Math.round(f.withBonus![k]! - f.nt![k]!),
          }
        : null,
      step: {
        stepKiB: ratioStep,
        limit: m.currentKiB > m.hiKiB ? 'over max' : f.reserveHold && goal < m.currentKiB ? 'reserve first' : stepLimit(m.currentKiB, goal, upRatio, downRatio, f.minStep),
        ratio: ratioStep > m.currentKiB ? upRatio : ratioStep < m.currentKiB ? downRatio : null,
        idleFirstKiB: step < ratioStep ? idleFreeKiB(m.freeKiB) : null,
        pendingKiB: m.pendingKiB,
        pendingKept,
        wantedKiB: f.wanted[k]!,
        grantedKiB: granted,
        heldBackKiB: f.wanted[k]! - granted,
      },
      targetKiB: d.targetKiB,
    };
  });
  input.guests.forEach((g, i) => {
    if (guests[i] !== undefined) return;
    const d = decision.guests[i]!;
    const [lo, hi] = pageBounds(g.minKiB, g.maxKiB);
    guests[i] = {
      id: g.id,
      managed: false,
      currentKiB: g.currentKiB,
      minKiB: lo,
      maxKiB: hi,
      committedKiB: g.committedKiB,
      mcKiB: d.goalKiB,
      freeKiB: g.freeKiB,
      activeKiB: Math.max(0, g.currentKiB - g.freeKiB),
      roomKiB: d.goalKiB,
      capKiB: d.goalKiB,
      capFrom: 'max',
      paging: null,
      goalKiB: d.goalKiB,
      goalFrom: 'held',
      leftoverKiB: 0,
      yieldKiB: 0,
      price: null,
      step: {
        stepKiB: d.targetKiB,
        limit: d.targetKiB < g.currentKiB ? 'over max' : 'at goal',
        ratio: null,
        idleFirstKiB: null,
        pendingKiB: 0,
        pendingKept: false,
        wantedKiB: 0,
        grantedKiB: 0,
        heldBackKiB: 0,
      },
      targetKiB: d.targetKiB,
    };
  });

  const { n0, l0, h0, want0, d } = f.dom0;
  const dom0Wanted = Math.max(0, f.dom0.step - n0);
  return {
    regime,
    test,
    rulesOff: RULE_NAMES.filter((r) => !ruleOn(params, r)),
    host: { freeKiB: host.freeKiB, reserveKiB: params.reserveKiB, usableKiB: f.usableKiB },
    dom0: {
      currentKiB: n0,
      minKiB: l0,
      maxKiB: h0,
      committedKiB: input.dom0.committedKiB,
      wantKiB: want0,
      needKiB: d,
      servedBy: d <= f.usableKiB ? 'free' : decision.overcommitted && f.dom0.shortfall > freeable ? 'in part' : 'reclaim',
      shortfallKiB: f.dom0.shortfall,
      reclaimKiB: decision.dom0.reclaimKiB,
      goalKiB: decision.dom0.goalKiB,
      stepKiB: f.dom0.step,
      limit: n0 > h0 ? 'over max' : stepLimit(n0, decision.dom0.goalKiB, upRatio, downRatio, f.minStep),
      grantedKiB: f.dom0Grant,
      heldBackKiB: dom0Wanted - f.dom0Grant,
      targetKiB: decision.dom0.targetKiB,
    },
    guestNeedKiB: f.need,
    freeAfterDom0KiB: f.freeAfterDom0,
    freeableKiB: freeable,
    balanceKiB: f.balanceKiB,
    bonusKiB: f.bonusKiB,
    leftoverKiB: f.abundant ? f.freeAfterDom0 - f.need : null,
    price: decision.price,
    t: f.t,
    twoPhase: {
      usableKiB: f.usableKiB,
      pendingPaidKiB: f.usableKiB - f.budgetAfterPending,
      dom0GrantKiB: f.dom0Grant,
      budgetKiB: f.budgetAfterPending - f.dom0Grant,
      wantedKiB: wantedSum,
      grantedKiB: grantedSum,
    },
    someoneShort: f.someoneShort,
    guests,
  };
}
