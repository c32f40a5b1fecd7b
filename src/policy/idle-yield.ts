// Rule "idle commit yields" (beyond the paper). While memory is abundant by the paper's test
// (every guest's Committed_AS fits), each guest's goal is its commit, and a guest that commits
// far more than it touches (a JVM whose -Xms heap is committed at start) keeps that memory idle
// while a neighbour pages for want of it: the paper's self adjustment never takes memory from a
// guest below its commit. Measured on the simulator's realistic-jvm-kbuild at 256 MiB host free
// (seed 1): memcoop held the JVM at its 566-587 MiB commit with 200-350 MiB of it free while the
// kernel build paged (PSI some 45-84 %) at ~400 MiB; the build took 469 s against squeezed's 300 s
// and MOM's 260 s, which share memory by what guests use rather than by what they commit.
// So while a guest is paging and the leftover could not give it its working room, guests that are
// not paging give up what they hold beyond what they use plus the same working room, in
// proportion to that surplus, and it goes to the paging guests, in proportion to what they miss.
// Only guests that report pressure give: a guest whose agent sends no PSI could never say it is
// paging again, so the paper's commit goal stands for it.
import { PAGE_KIB, pageDown, pageUp } from './pages.ts';
import { WORKING_ROOM_KIB } from './pressure.ts';

export interface YieldGuest {
  /** Its PSI or swap-ins say it is paging (pressure.ts). */
  paging: boolean;
  /** Its agent reports PSI, so it can say it is paging if its goal comes to pinch. */
  reportsPressure: boolean;
  /** What it uses plus its working room, within [MC_i, H_i] (pressure.ts). */
  roomKiB: number;
  /** L_i, whole pages. */
  minKiB: number;
  /** N_i, whole pages. */
  currentKiB: number;
  /** F_i, MemFree. */
  freeKiB: number;
  /** MemAvailable when reported: a guest that is not paging can give its reclaimable cache too. */
  availableKiB?: number;
}

/**
 * The least a giving guest keeps: what it uses (N_i less MemAvailable, or less MemFree when
 * MemAvailable is unknown) plus the working room, never below L_i, whole pages. MemAvailable, not
 * MemFree: a guest that is not paging does not need its reclaimable page cache now (in the
 * simulator's JVM run MemFree fell to 4 MiB with 300 MiB available, and MemFree alone left it
 * nothing to give); if it did, it pages, its PSI says so, and it is given room again.
 */
export function keepKiB(g: YieldGuest): number {
  const idle = Math.max(0, g.freeKiB, g.availableKiB ?? 0);
  return Math.max(g.minKiB, pageUp(Math.max(0, g.currentKiB - idle) + WORKING_ROOM_KIB));
}

/**
 * Moves goal memory from guests that are not paging (down to keepKiB) to paging guests (up to
 * their room), in place; the sum of the goals is unchanged and every goal stays whole pages.
 * Returns the KiB moved.
 */
export function yieldToPaging(guests: readonly YieldGuest[], goals: number[]): number {
  const missing = guests.map((g, k) => (g.paging ? Math.max(0, g.roomKiB - goals[k]!) : 0));
  const surplus = guests.map((g, k) => (!g.paging && g.reportsPressure ? Math.max(0, goals[k]! - keepKiB(g)) : 0));
  const sumMissing = missing.reduce((a, b) => a + b, 0);
  const sumSurplus = surplus.reduce((a, b) => a + b, 0);
  const want = pageDown(Math.min(sumMissing, sumSurplus));
  if (want < PAGE_KIB) return 0;
  // Take from the givers in proportion to their surplus, whole pages, rounded down.
  let taken = 0;
  surplus.forEach((s, k) => {
    if (s === 0) return;
    const t = pageDown(Math.floor((want * s) / sumSurplus));
    goals[k] = goals[k]! - t;
    taken += t;
  });
  // Give what was taken in proportion to what each paging guest misses, rounded down; the pages
  // rounding leaves go one at a time to guests still missing some (taken <= sumMissing, so all fit).
  let given = 0;
  const got = missing.map((m) => (m === 0 ? 0 : pageDown(Math.floor((taken * m) / sumMissing))));
  got.forEach((x, k) => {
    goals[k] = goals[k]! + x;
    given += x;
  });
  for (let k = 0; given < taken && k < guests.length; k++) {
    while (given < taken && got[k]! + PAGE_KIB <= missing[k]!) {
      goals[k] = goals[k]! + PAGE_KIB;
      got[k] = got[k]! + PAGE_KIB;
      given += PAGE_KIB;
    }
  }
  return taken;
}
