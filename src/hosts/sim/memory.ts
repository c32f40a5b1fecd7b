// A guest kernel's view of its memory, as a pure function of its allocation and what its
// workload is doing: what is resident, what went to swap, what page cache is left, MemFree,
// Committed_AS, and the share of page touches that fault.
import {
  BALLOON_MEMTOTAL_GAP_KIB,
  COMMIT_BASELINE_KIB,
  COMMIT_OVERSTATE_RATIO,
  GUEST_KERNEL_KIB,
  GUEST_OVERHEAD_KIB,
  PAGE_CACHE_FLOOR_KIB,
} from './constants.ts';
import type { Phase } from './workload.ts';

export interface GuestMemory {
  /** What the applications can have: the allocation less kernel, page-cache floor, watermark. */
  budgetKiB: number;
  anonResidentKiB: number;
  fileResidentKiB: number;
  /** Page cache left over from earlier phases, after what pressure has taken. */
  staleCacheKiB: number;
  memFreeKiB: number;
  /** Cached in meminfo: floor + file working set + stale cache. */
  cachedKiB: number;
  swapUsedKiB: number;
  committedKiB: number;
  /** Share of this phase's touches that miss (pages in swap or evicted file pages). */
  missFraction: number;
  /** The anonymous overflow does not fit in swap: the kernel's OOM killer would fire. */
  oom: boolean;
}

/** The kernel's Committed_AS for a phase: baseline + anon set (overstated) + reservations. */
export function committedFor(phase: Phase | null): number {
  if (phase === null) return COMMIT_BASELINE_KIB;
  return COMMIT_BASELINE_KIB + phase.anonKiB + Math.floor(phase.anonKiB * COMMIT_OVERSTATE_RATIO) + phase.reservedKiB;
}

/**
 * Residency under Linux's preference: page cache is reclaimed before anonymous memory (stale
 * cache first, then the file working set), anonymous pages over the budget go to swap.
 */
export function guestMemory(allocKiB: number, phase: Phase | null, staleCacheKiB: number, swapTotalKiB: number): GuestMemory {
  const budget = Math.max(0, allocKiB - GUEST_OVERHEAD_KIB);
  const anon = phase?.anonKiB ?? 0;
  const file = phase?.fileKiB ?? 0;
  const anonRes = Math.min(anon, budget);
  const fileRes = Math.min(file, budget - anonRes);
  const stale = Math.max(0, Math.min(staleCacheKiB, budget - anonRes - fileRes));
  const swapNeeded = anon - anonRes;
  const used = GUEST_KERNEL_KIB + PAGE_CACHE_FLOOR_KIB + anonRes + fileRes + stale;
  const touched = anon + file;
  return {
    budgetKiB: budget,
    anonResidentKiB: anonRes,
    fileResidentKiB: fileRes,
    staleCacheKiB: stale,
    memFreeKiB: Math.max(0, allocKiB - used),
    cachedKiB: Math.min(allocKiB, PAGE_CACHE_FLOOR_KIB + fileRes + stale),
    swapUsedKiB: Math.min(swapNeeded, swapTotalKiB),
    committedKiB: committedFor(phase),
    missFraction: touched === 0 ? 0 : (touched - anonRes - fileRes) / touched,
    oom: swapNeeded > swapTotalKiB,
  };
}

/** /proc/meminfo as a Linux 6.1 guest prints it (the fields a reader might use; all kB). */
export function meminfoText(allocKiB: number, m: GuestMemory, swapTotalKiB: number): string {
  const f = (k: string, v: number): string => `${(k + ':').padEnd(16)}${String(Math.max(0, Math.floor(v))).padStart(8)} kB`;
  const available = m.memFreeKiB + m.staleCacheKiB + m.fileResidentKiB;
  // The kernel does not count what it reserved at boot (BALLOON_MEMTOTAL_GAP_KIB, measured).
  const memTotal = Math.max(m.memFreeKiB, allocKiB - BALLOON_MEMTOTAL_GAP_KIB);
  return [
    f('MemTotal', memTotal),
    f('MemFree', m.memFreeKiB),
    f('MemAvailable', Math.min(memTotal, available)),
    f('Buffers', 0),
    f('Cached', m.cachedKiB),
    f('SwapCached', 0),
    f('AnonPages', m.anonResidentKiB),
    f('Shmem', PAGE_CACHE_FLOOR_KIB),
    f('SwapTotal', swapTotalKiB),
    f('SwapFree', swapTotalKiB - m.swapUsedKiB),
    f('CommitLimit', Math.floor(memTotal / 2) + swapTotalKiB),
    f('Committed_AS', m.committedKiB),
  ].join('\n') + '\n';
}
