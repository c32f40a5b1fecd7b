// The policy's inputs and outputs. Every memory quantity is an integer number of KiB
// (Xen's memory/target is KiB too); ratios (tau, eps, shares, up/down ratios) are plain numbers.
// This is also the JSON shape of `memcoop decide` (see README), and the interface every peer
// policy (static, selfballoon, qmemman-, squeezed-, MOM-style) implements.
import type { DecisionTrace } from './trace.ts';

export interface PolicyParams {
  /** Idle memory tax (Waldspurger 2002; paper: 0.75). 0 <= tau < 1. */
  tau: number;
  /** Weight of swap use in the price (paper: 0.1). eps >= 0. */
  eps: number;
  /** Host memory kept free for the hypervisor and new domains (beyond the paper). KiB. */
  reserveKiB: number;
  /** Algorithm 2: an increase moves (goal - N) / upRatio per tick. >= 1. */
  upRatio: number;
  /** Algorithm 2: a decrease moves (N - goal) / downRatio per tick. >= 1. */
  downRatio: number;
  /** Rules beyond the paper, each on unless set false (the ablation switches them off; rules.ts). */
  rules?: PolicyRules;
}

/** memcoop's rules beyond the paper (docs/algorithm.md); absent or true: on. */
export interface PolicyRules {
  commitCap?: boolean;
  minStep?: boolean;
  deadband?: boolean;
  promptSelfSteps?: boolean;
  /** pressure.ts: a paging guest's cap is what it uses plus its working room; abundance's left over goes to paging guests. */
  workingRoom?: boolean;
  /** pressure.ts: the scarce balance does not lower a short guest. */
  shortHold?: boolean;
  /** pressure.ts: while a guest is short, a decrease takes idle free memory at once. */
  idleFirst?: boolean;
  /** self-step.ts: with the working room, a prompt step keeps the target the tick wrote unless the commit is above it. */
  keepTickTarget?: boolean;
  /** reserve-deficit.ts: no transfer between guests that the reserve deficit would swallow. */
  reserveFirst?: boolean;
  /** idle-yield.ts: while memory is abundant, guests not paging give what they commit beyond use plus room to paging guests (needs workingRoom). */
  idleYield?: boolean;
}

export interface HostInput {
  /** Memory the hypervisor has free right now, before the reserve is taken off. */
  freeKiB: number;
}

export interface Dom0Input {
  currentKiB: number;
  /** Committed_AS of Dom0 (on KVM: the host's own). */
  committedKiB: number;
  minKiB: number;
  maxKiB: number;
}

export interface GuestInput {
  id: string;
  minKiB: number;
  maxKiB: number;
  /** N_i: current allocation. */
  currentKiB: number;
  /** C_i: Committed_AS as the guest's agent reported it. */
  committedKiB: number;
  /** F_i: MemFree, smoothed (section 5.1). */
  freeKiB: number;
  swapTotalKiB: number;
  swapFreeKiB: number;
  /** S_i: weight; the paper fixes 1. */
  shares: number;
  /**
   * PSI memory "some" avg10 in hundredths of a per cent, when the agent reports it (pressure.ts).
   * Absent: unknown, and the guest is treated as the paper treats every guest.
   */
  psiSomeAvg10?: number;
  /**
   * KiB the guest swapped in since its previous report (from the agent's pswpin), when known:
   * the instant paging signal PSI's ten-second average lags (pressure.ts).
   */
  swapInsKiB?: number;
  /**
   * MemAvailable as the agent reported it, when known: free memory plus what the guest's kernel
   * could reclaim without swapping (idle-yield.ts). Absent: MemFree stands for it.
   */
  availableKiB?: number;
  /**
   * An increase already written and not yet reached (written target - N_i, if positive): its memory
   * is still in the host's free count but spoken for, so it is not granted again. Absent: 0.
   */
  pendingIncreaseKiB?: number;
  /**
   * A decrease already written and not yet reached (N_i - written target, if positive): the guest
   * is heading there, so a new target above it is growth and is granted only from free memory
   * (decide.ts, "Decreases in flight"). Absent: 0.
   */
  pendingDecreaseKiB?: number;
  /** false: no agent (or a silent one); the guest is held where it is, outside the balance. */
  agent: boolean;
}

export interface DecideInput {
  params: PolicyParams;
  host: HostInput;
  dom0: Dom0Input;
  guests: GuestInput[];
  /** When the host sample was taken (virtual or wall ms); peers that keep their own pace read it. */
  atMs?: number;
  /**
   * true: the decision carries its own intermediate figures (Decision.trace; trace.ts) for
   * `memcoop explain`. Off on the daemon's tick, which needs only the decision.
   */
  trace?: boolean;
}

export type GuestMode = 'self' | 'global' | 'held';

export interface GuestDecision {
  id: string;
  mode: GuestMode;
  /** Where the policy wants the guest. */
  goalKiB: number;
  /** The next step toward the goal (what gets written this tick). */
  targetKiB: number;
}

export interface Decision {
  state: 'abundant' | 'scarce';
  /** Even every guest at its minimum cannot cover Dom0's need. */
  overcommitted: boolean;
  /** The common idle-memory price 1/t of the global balance; null when no balance ran. */
  price: number | null;
  /** reclaimKiB: what is being taken back from the guests for Dom0 this tick (0 when host free covers Dom0). */
  dom0: { goalKiB: number; targetKiB: number; reclaimKiB: number };
  guests: GuestDecision[];
  /** Why, in decide's own figures: only when the input asked for it (DecideInput.trace). */
  trace?: DecisionTrace;
}

/** A policy: the paper's (decide) or a peer's. Pure. */
export type Policy = (input: DecideInput) => Decision;
