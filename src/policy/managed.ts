// A guest as decide keeps it while deciding (decide.ts), and as its trace reads it
// (decide-trace.ts): one shape for both.
import type { BalanceGuest } from './balance.ts';

/**
 * A guest in the balance. Its bounds (BalanceGuest's minKiB, maxKiB) are [L_i, MC_i], not the
 * paper's [L_i, H_i]: see "Commit cap" in decide.ts. H_i itself only bounds MC_i.
 */
export interface ManagedGuest extends BalanceGuest {
  index: number;
  /** L_i in whole pages (minKiB above may be raised by shortHold). */
  loKiB: number;
  /** N_i, page-aligned (a sub-page remainder is not memory the policy can move). */
  currentKiB: number;
  /** MC_i = clamp(C_i, L_i, H_i). */
  mcKiB: number;
  /** H_i in whole pages (maxKiB above is the commit cap, not H_i). */
  hiKiB: number;
  /** F_i as reported (MemFree). */
  freeKiB: number;
  /** Its PSI says it is paging (pressure.ts). */
  paging: boolean;
  /** Paging with no free memory left (pressure.ts). */
  short: boolean;
  /** What it uses plus its working room, within [MC_i, H_i] (pressure.ts). */
  roomKiB: number;
  /** An increase written earlier and not yet reached (whole pages, >= 0). */
  pendingKiB: number;
  /** A decrease written earlier and not yet reached (N_i - written target, whole pages, >= 0). */
  pendingDownKiB: number;
  /** Its agent reports PSI (idle-yield.ts: only such guests give up committed memory). */
  reportsPressure: boolean;
  /** MemAvailable, when reported (idle-yield.ts). */
  availableKiB?: number;
}
