// Why decide() decided what it did, in its own figures: the optional `trace` part of a Decision,
// filled only when the input asks for it (DecideInput.trace), so the daemon's tick builds none.
// Pure data, memory in integer KiB (the balance's real-valued shares rounded to the KiB for
// reading; the goals and targets are decide's own). `memcoop explain`, `memcoop replay --explain`
// and `memcoop decide --trace` show it; explain.ts renders it and recomputes nothing.

export type Regime = 'abundant' | 'scarce' | 'reclaiming for Dom0' | 'overcommitted';

/**
 * The inequality that chose the regime (docs/algorithm.md, Definitions 1-2), with both sides:
 * - 'free vs need': F' (free after the reserve and Dom0) against sum(MC_i - N_i); >= is abundant.
 * - 'Dom0 vs free': Dom0's need d > F, and the shortfall d - F against what the guests can give
 *   back at their minimums, sum(N_i - L_i): <= reclaims, > is overcommitted.
 * - 'minimums vs memory': guests below their minimums: sum L_i > sum N_i + F' is overcommitted.
 */
export type RegimeTest =
  | { kind: 'free vs need'; freeAfterDom0KiB: number; guestNeedKiB: number }
  | { kind: 'Dom0 vs free'; dom0NeedKiB: number; usableKiB: number; shortfallKiB: number; freeableKiB: number }
  | { kind: 'minimums vs memory'; sumMinKiB: number; sumCurrentKiB: number; freeAfterDom0KiB: number };

/** Where a guest's goal came from. */
export type GoalSource =
  | 'commit' // abundant: MC_i = Committed_AS within [L_i, H_i] (self adjustment)
  | 'commit at min' // abundant: Committed_AS below L_i, so L_i
  | 'commit at max' // abundant: Committed_AS above H_i, so H_i
  | 'room' // abundant: above MC_i, what was left over (and what guests not paging gave), up to used + working room (workingRoom)
  | 'idle yield' // abundant, not paging: gave what it commits beyond use + working room to paging guests (idleYield)
  | 'price' // scarce: strictly inside its bounds, the equal-price share plus the bonus
  | 'min' // scarce: the floor L_i held
  | 'short hold' // scarce: shortHold raised its floor to what it has, and that floor held
  | 'commit cap' // scarce: MC_i below H_i held (commitCap)
  | 'room cap' // scarce, paging: used + working room above MC_i held (workingRoom)
  | 'max' // scarce: H_i held
  | 'overcommitted' // every guest at L_i
  | 'held'; // no agent (or a silent one): held where it is, outside the balance

/** What bounded this tick's step (steps.ts, stepToward). */
export type StepLimit =
  | 'at goal' // no gap
  | 'snap' // a gap under one page closes at once
  | 'ratio' // Algorithm 2: gap / upRatio or gap / downRatio
  | 'min step' // the ratio step was under MIN_STEP_KIB (minStep): moved the minimum
  | 'whole gap' // the gap was under the minimum step: closed in one step
  | 'over max' // above H_i: brought down to it at once
  | 'reserve first'; // the host is below its reserve: a decrease for another guest it would swallow is not started (reserveFirst)

/** What made a guest count as paging (pressure.ts), with the figures. */
export interface PagingTrace {
  psiSomeAvg10: number | null;
  swapInsKiB: number | null;
  /** Which signal crossed its threshold (swap-ins are checked first). */
  by: 'swap-ins' | 'psi';
  /** Paging with MemFree under SHORT_FREE_KIB. */
  short: boolean;
}

export interface GuestTrace {
  id: string;
  managed: boolean;
  /** N_i, L_i, H_i in whole pages; C_i as reported; MC_i = clamp(C_i, L_i, H_i). */
  currentKiB: number;
  minKiB: number;
  maxKiB: number;
  committedKiB: number;
  mcKiB: number;
  /** F_i as reported, and A_i = max(0, N_i - F_i): what it uses. */
  freeKiB: number;
  activeKiB: number;
  /** Used + working room within [MC_i, H_i] (pressure.ts, pagingCapKiB). */
  roomKiB: number;
  /** The upper bound the balance and bonus used: H_i (commitCap off), MC_i, or roomKiB while paging. */
  capKiB: number;
  /** Which it was: 'room' only where the working room lifted it above MC_i. */
  capFrom: 'max' | 'commit' | 'room';
  /** null: not paging (or no PSI / swap-in figures, or workingRoom off). */
  paging: PagingTrace | null;
  goalKiB: number;
  goalFrom: GoalSource;
  /** Abundant: what the leftover added above MC_i. */
  leftoverKiB: number;
  /** idleYield (abundant): KiB this guest's goal received from guests not paging (+) or gave to paging guests (-). */
  yieldKiB: number;
  /** The scarce balance's price terms; null outside it. */
  price: {
    swapUsed: number;
    shares: number;
    /** tau * A_i. */
    tauActiveKiB: number;
    /** c_i = S_i ((1 - tau) + eps swapUsed_i). */
    weight: number;
    /** tau*A_i + c_i*t before the clamp; null without a t. */
    shareKiB: number | null;
    /** The balance's floor: L_i, or what it has when shortHold raised it. */
    floorKiB: number;
    /** Nt_i = clamp(share, floor, cap), and the bonus on top, before page rounding. */
    balancedKiB: number;
    bonusKiB: number;
  } | null;
  step: {
    /** Algorithm 2's step alone (or H_i when over it). */
    stepKiB: number;
    limit: StepLimit;
    ratio: number | null;
    /** idleFirst: a decrease taken deeper, to leave 16 MiB free, because another guest is short. */
    idleFirstKiB: number | null;
    /** An increase in flight already paid for; kept as the base or replaced by a lower step. */
    pendingKiB: number;
    pendingKept: boolean;
    /** Of an increase beyond what is in flight: asked, granted by the two-phase rule, held back. */
    wantedKiB: number;
    grantedKiB: number;
    heldBackKiB: number;
  };
  targetKiB: number;
}

export interface DecisionTrace {
  regime: Regime;
  test: RegimeTest;
  rulesOff: string[];
  host: { freeKiB: number; reserveKiB: number; usableKiB: number };
  dom0: {
    currentKiB: number;
    minKiB: number;
    maxKiB: number;
    committedKiB: number;
    /** clamp(C_0, L_0, H_0), and want - current (negative: it gives back). */
    wantKiB: number;
    needKiB: number;
    /** Served from host free (need <= F), else from the guests (reclaim), else only in part (overcommitted). */
    servedBy: 'free' | 'reclaim' | 'in part';
    shortfallKiB: number;
    reclaimKiB: number;
    goalKiB: number;
    stepKiB: number;
    limit: StepLimit;
    grantedKiB: number;
    heldBackKiB: number;
    targetKiB: number;
  };
  /** sum(MC_i - N_i), F', sum(N_i - L_i) over the managed guests. */
  guestNeedKiB: number;
  freeAfterDom0KiB: number;
  freeableKiB: number;
  /** Scarce: the balance's total M and the bonus handed out under the caps (after lifting guests to L_i). */
  balanceKiB: number | null;
  bonusKiB: number | null;
  /** Abundant: what was left after every guest's MC_i (workingRoom hands it to room). */
  leftoverKiB: number | null;
  /** 1/t and t; null when no balance ran or no guest sat between its bounds. */
  price: number | null;
  t: number | null;
  /** The two-phase rule: host free F, less increases already in flight, less Dom0's grant, for the guests. */
  twoPhase: { usableKiB: number; pendingPaidKiB: number; dom0GrantKiB: number; budgetKiB: number; wantedKiB: number; grantedKiB: number };
  /** idleFirst was in force: some guest was short. */
  someoneShort: boolean;
  guests: GuestTrace[];
}
