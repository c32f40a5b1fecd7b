// Rules beyond the paper that use what the agent reports beside meminfo: Linux's pressure stall
// information (/proc/pressure/memory, PSI). The paper sizes a guest at its Committed_AS; on real
// guests (docs/kvm.md, bench:kvm) a guest at exactly its commit still pages, because the kernel
// needs working room above the committed pages, and the memory the commit rule leaves over sat
// idle in the pool while that guest paged. PSI says which guests are paging, so the policy can
// give them the memory nobody else has asked for, and can stop moving memory between guests
// that are all short. A guest whose agent sends no PSI (old kernel, psi=0, the simulator's
// agents unless they model it) is never pressured: the paper's rules apply to it unchanged.
import { pageDown } from './pages.ts';

/**
 * PSI "some" avg10 at or above which a guest counts as paging: 5 % of the last ten seconds with
 * a task stalled on memory, in the agent's hundredths of a per cent. Measured on the KVM testbed
 * (bench:kvm journals, two 512 MiB guests running mono 32-256 MiB in a 640 MiB pool): idle guests
 * reported 0-18, paging ones 1,364-6,793; avg10 lags, so a guest that had just started paging
 * read 163 after 2 s and 930 after 4 s. 5 % is well clear of idle and catches paging about 3 s in
 * (10 % took a second longer, with 76 MiB of the pool unassigned meanwhile).
 */
export const PSI_PAGING_HUNDREDTHS = 500;

/**
 * Working room: a paging guest may be given memory up to what it uses (N_i - F_i) plus 64 MiB,
 * not more. Measured (docs/measurements.md section 2): mono (256 MiB) in a 384 MiB balloon, ~40 MiB
 * above its commit and the kernel's share, ran at 1.15x its time at 512 MiB, in 320 MiB (~0 above)
 * at 2.9x; 64 MiB covers that with margin. The bound is in used memory, which a growing balloon
 * does not change, so a guest given its room holds still instead of being given memory, seen
 * with free memory, and losing it again; and a guest whose PSI still remembers paging that has
 * ended (its free memory large) is given nothing.
 */
export const WORKING_ROOM_KIB = 64 * 1024;

/** The most a paging guest is bounded by: max(MC_i, min(H_i, N_i - F_i + WORKING_ROOM_KIB)), whole pages. */
export function pagingCapKiB(mcKiB: number, hiKiB: number, currentKiB: number, freeKiB: number): number {
  const room = pageDown(Math.max(0, currentKiB - Math.max(0, freeKiB)) + WORKING_ROOM_KIB);
  return Math.max(mcKiB, Math.min(hiKiB, room));
}

/**
 * Free memory inside a guest below which it counts as short (has no room left): 16 MiB. The
 * guest kernel's own free-page watermarks are ~3 MiB at 512 MiB (min_free_kbytes), and a guest
 * that pages on the testbed showed MemFree 4-8 MiB throughout; a guest that has just freed its
 * working set shows tens to hundreds of MiB free even while its PSI average still remembers the
 * paging.
 */
export const SHORT_FREE_KIB = 16 * 1024;

/**
 * What a decrease leaves inside the guest as free memory when it takes the guest's idle free
 * memory at once (see idleFreeKiB): the same 16 MiB, so the step never pushes the guest's free
 * memory below the point where it counts as short.
 */
export const IDLE_FREE_MARGIN_KIB = SHORT_FREE_KIB;

/**
 * Swap-ins since the previous report at or above which a guest counts as paging, whatever its PSI
 * says: 1 MiB. PSI's avg10 lags: on the testbed a guest that swapped in 2,264 and then 9,057 pages
 * in its first two seconds of paging still reported PSI 0 (the kernel updates the average every
 * 2 s), and 45 MiB of the pool stayed unassigned meanwhile. Idle and fitting guests swapped in
 * nothing (0 in every report of the unlimited runs).
 */
export const SWAPIN_PAGING_KIB = 1024;

/** The pressure figures a guest may carry (optional: absent means unknown, never 0). */
export interface PressureInput {
  /** PSI memory "some" avg10, hundredths of a per cent. */
  psiSomeAvg10?: number;
  /** KiB swapped in since the previous report. */
  swapInsKiB?: number;
  /** F_i: MemFree. */
  freeKiB: number;
}

/**
 * Paging: its PSI says a task stalled on memory at least PSI_PAGING_HUNDREDTHS of the time, or it
 * swapped in at least SWAPIN_PAGING_KIB since its previous report.
 */
export function isPaging(g: PressureInput): boolean {
  if (g.swapInsKiB !== undefined && g.swapInsKiB >= SWAPIN_PAGING_KIB) return true;
  return g.psiSomeAvg10 !== undefined && g.psiSomeAvg10 >= PSI_PAGING_HUNDREDTHS;
}

/**
 * Short: paging with no free memory left. Such a guest is not asked to give memory to another
 * guest by the scarce balance (Rule "short guests hold"): moving memory between guests that are
 * all paging only moves the paging (the simulator showed memcoop shuffling 15-20 MiB a tick
 * between two short guests while static held still and was faster).
 */
export function isShort(g: PressureInput): boolean {
  return isPaging(g) && g.freeKiB < SHORT_FREE_KIB;
}

/**
 * The part of a guest's free memory a decrease may take in one step (Rule "idle memory first"),
 * while another guest is short: MemFree beyond IDLE_FREE_MARGIN_KIB, whole pages. Inflating a
 * balloon over free pages costs the guest nothing (no reclaim, no swap), so waiting four ticks
 * for the down ratio only keeps memory from the guest that needs it: on the testbed a guest whose
 * job had ended kept 170 MiB free for six ticks while its neighbour paged. Only while someone is
 * short: otherwise the down ratio's damping stands, because a guest whose commit is low for a
 * moment (a job starting) and is cut to it at once pages when it grows again (bench:kvm: a guest
 * cut from 265 to 127 MiB in 4 s as its job started paged from the sixth second on).
 */
export function idleFreeKiB(freeKiB: number): number {
  return pageDown(Math.max(0, freeKiB - IDLE_FREE_MARGIN_KIB));
}

/**
 * A decrease step, at least the guest's idle free memory (never past the goal): the ratio step
 * from stepToward, or N - idle, whichever goes lower, but not below the goal.
 */
export function deepenDecrease(currentKiB: number, stepKiB: number, goalKiB: number, freeKiB: number): number {
  if (stepKiB >= currentKiB) return stepKiB;
  const lowest = currentKiB - idleFreeKiB(freeKiB);
  const to = Math.min(stepKiB, lowest);
  return to < goalKiB ? goalKiB : to;
}
