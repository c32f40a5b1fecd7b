// Every constant of the simulated host, with where it comes from. Memory in KiB (integers),
// time in ms of the virtual clock. "Fitted" constants were fitted to the mono measurements of
// docs/measurements.md section 2 (QEMU TCG guest, Debian 6.1 kernel, 512 MiB swap on virtio-blk); the
// fit and its error are reproduced by test/unit/sim/calibration.test.ts.

import { MIB } from '../../vocabulary/units.ts';

export { MIB, PAGE_KIB } from '../../vocabulary/units.ts';

// ---- guest kernel (memory a guest never gives to its applications) ----

/**
 * Kernel text, data, slab and struct pages of a small Linux 6.1 guest. The three overheads below
 * add up to 90 MiB, which is FITTED (the deficit at which mono starts to slow); the split is an
 * estimate: Debian's 6.1 kernel leaves MemTotal about 40 MiB under a 512 MiB boot size, and slab,
 * page tables and per-cpu data take about 20 MiB more in a busybox guest.
 */
export const GUEST_KERNEL_KIB = 62 * MIB;
/**
 * Page cache the kernel will not give up: the initramfs root (busybox, modules, the agent and the
 * workload binaries live in RAM) and the program text being run. Estimate (see GUEST_KERNEL_KIB).
 */
export const PAGE_CACHE_FLOOR_KIB = 24 * MIB;
/**
 * Free pages the kernel keeps back: min_free_kbytes = sqrt(16 x lowmem KiB) = 2.8 MiB at 512 MiB
 * (mm/page_alloc.c), and kswapd starts reclaiming at the low watermark above it. Estimate.
 */
export const GUEST_MIN_FREE_KIB = 4 * MIB;
/**
 * The part of GUEST_KERNEL_KIB that is not even in the guest's MemTotal (kernel image, struct
 * pages, firmware reservations): balloon size minus MemTotal, MEASURED at 55,884 KiB on 512 MiB
 * and 128 MiB Debian 6.1 guests under QEMU (docs/measurements.md section 2; a constant per guest).
 * The simulated agent's MemTotal is the allocation less this.
 */
export const BALLOON_MEMTOTAL_GAP_KIB = 55_884;
/**
 * Cross-check, not a fit: 55 MiB under MemTotal + the kernel's own share inside it (MemTotal -
 * MemAvailable - Committed_AS, MEASURED about 28 MiB) + min_free (about 4 MiB) = 87 MiB, against
 * GUEST_OVERHEAD_KIB's fitted 90 MiB.
 */
/** What a guest's applications can never have: the three above together (90 MiB, fitted). */
export const GUEST_OVERHEAD_KIB = GUEST_KERNEL_KIB + PAGE_CACHE_FLOOR_KIB + GUEST_MIN_FREE_KIB;

// ---- Committed_AS: why it overstates the working set ----

/**
 * Committed_AS of an idle guest: every private writable mapping of every process (shell, agent,
 * daemons, libc arenas, thread stacks) is counted at mmap time whether touched or not
 * (Documentation/mm/overcommit-accounting.rst). Estimate for a small Debian guest.
 */
export const COMMIT_BASELINE_KIB = 64 * MIB;
/**
 * Extra commitment per KiB of anonymous working set: malloc rounds and keeps arenas, and
 * programs reserve more than they touch. Estimate; the paper (figure 5) shows committed memory
 * running above what mono and random touch.
 */
export const COMMIT_OVERSTATE_RATIO = 0.1;

// ---- cost of running: page touches and faults ----

/**
 * Cost of one page touch in memory: 4.7 s for the 1,048,576 touches of mono 32->256->32 MiB in
 * 32 MiB steps, two passes per step, at 512 MiB where nothing faults (docs/measurements.md section 2,
 * TCG). In ns.
 */
export const PAGE_TOUCH_NS = 4482;
/**
 * Cost of a major fault (swap in, and the write-out of the page it displaces) when few pages are
 * missing. FITTED to mono at 384/320/288/256 MiB. In ns.
 */
export const FAULT_NS = 575_000;
/**
 * A fault costs more the more of the working set is out (the swap device queues, every eviction
 * is dirty): per-fault cost = FAULT_NS x (1 + FAULT_CONTENTION x missFraction). FITTED with
 * FAULT_NS.
 */
export const FAULT_CONTENTION = 0.5;

// ---- balloons ----

/**
 * Inflating (the guest shrinking): 512 -> 256 MiB landed in 2.0-2.7 s under TCG (docs/measurements.md
 * section 2); 256 MiB / 2.35 s.
 */
export const BALLOON_INFLATE_KIB_PER_S = 111_550;
/** Deflating (the guest growing): 256 -> 512 MiB landed in 0.4 s (docs/measurements.md section 2). */
export const BALLOON_DEFLATE_KIB_PER_S = 655_360;
/**
 * Share of the guest's CPU the balloon driver takes while it inflates (it allocates, zeroes and
 * hands back every page). FITTED: it is what makes mono 15 % slower at 384 MiB (5.4 s against
 * 4.7 s) where the working set still fits.
 */
export const BALLOON_INFLATE_CPU_SHARE = 0.6;
/**
 * The Linux balloon driver gives up growing after about five failed tries and only a changed
 * target wakes it (docs/measurements.md section 3, Linux 6.1 on Xen).
 */
export const BALLOON_GIVE_UP_TRIES = 5;
/** One failed try per second of growing that the hypervisor could not fund (balloon worker backoff). */
export const BALLOON_RETRY_MS = 1000;

// ---- agents and the host ----

/** The paper's agent reports once per second (section 4.3: the daemon's loop). */
export const AGENT_REPORT_INTERVAL_MS = 1000;
/** The host samples free memory and allocations at the paper's tick. */
export const HOST_SAMPLE_INTERVAL_MS = 1000;
/** A swap device the size of docs/measurements.md section 2's (512 MiB raw image). */
export const DEFAULT_SWAP_KIB = 512 * MIB;

// ---- KVM guests under a controller (the realistic scenarios) ----

/**
 * A virtio balloon giving memory back, two 512 MiB TCG guests under one controller: median
 * 31-43 MiB/s (docs/measurements.md section 2), so 37 MiB/s. MEASURED. (The single-guest
 * 111 MiB/s of BALLOON_INFLATE_KIB_PER_S was one balloon alone, unloaded.)
 */
export const KVM_INFLATE_KIB_PER_S = 37 * MIB;
/** The same guests taking memory: median 83-138 MiB/s, so 110 MiB/s. MEASURED. */
export const KVM_DEFLATE_KIB_PER_S = 110 * MIB;
