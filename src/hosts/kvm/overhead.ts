// Balloon size is not memory a guest can use. QEMU's balloon `actual` counts the guest's whole
// RAM; the guest's MemTotal leaves out what its kernel reserved at boot (kernel image, struct
// pages, firmware): 55 MiB for a 512 MiB Debian 6.1 guest here, on 2,670 of 2,712 settled
// samples, and the same 55 MiB at 128 MiB (MemTotal 73 MiB): a constant per guest, not a ratio.
// The supervisor reasons in usable memory (what the agent's Committed_AS is measured against),
// so the KVM host converts at its boundary: usable = actual - overhead, balloon = usable +
// overhead. The overhead is measured per guest from settled samples (balloon not moving, so
// actual and MemTotal describe the same moment) and kept as the median of the latest ones.

/** Settled samples kept per guest: the median of the last 15 (15 s at one report a second). */
export const OVERHEAD_SAMPLES = 15;

export class OverheadEstimate {
  private readonly samples: number[] = [];

  /**
   * defaultKiB: used until a settled sample arrives. maxKiB: the largest overhead believed; a
   * guest reporting a smaller MemTotal than that would gain balloon memory by lying, so a sample
   * above it (or below 0) is refused (the caller logs it).
   */
  constructor(
    private readonly defaultKiB: number,
    private readonly maxKiB: number,
  ) {}

  /** One settled (balloon actual, MemTotal) pair; false if the difference is out of bounds. */
  add(actualKiB: number, memTotalKiB: number): boolean {
    const d = actualKiB - memTotalKiB;
    if (!Number.isSafeInteger(d) || d < 0 || d > this.maxKiB) return false;
    this.samples.push(d);
    if (this.samples.length > OVERHEAD_SAMPLES) this.samples.shift();
    return true;
  }

  get measured(): boolean {
    return this.samples.length > 0;
  }

  /** The overhead in KiB: the median (lower middle) of the kept samples, else the default. */
  get kib(): number {
    if (this.samples.length === 0) return this.defaultKiB;
    const sorted = [...this.samples].sort((a, b) => a - b);
    return sorted[(sorted.length - 1) >> 1]!;
  }
}

/** Balloon actual to usable memory, never below 0. */
export const usableOf = (actualKiB: number, overheadKiB: number): number => Math.max(0, actualKiB - overheadKiB);
/** A usable-memory target to a balloon size, capped at the guest's boot size (the balloon's ceiling). */
export const balloonOf = (usableKiB: number, overheadKiB: number, baseKiB: number): number => Math.min(baseKiB, usableKiB + overheadKiB);

/**
 * Samples the kernel share is the largest of: 300, five minutes of reports at one a second, so
 * that an idle stretch's measurement outlives a workload run (under load MemAvailable falls and
 * the bound below says less), yet a guest's old peak does not stay forever.
 */
export const KERNEL_SHARE_SAMPLES = 300;

/**
 * Memory inside MemTotal that the guest's kernel holds and Committed_AS does not count: slab,
 * page tables, the initramfs or tmpfs, the free-page watermarks. The paper's policy sizes a guest
 * at its Committed_AS; measured here, a 512 MiB guest ballooned to exactly Committed_AS plus the
 * overhead above ran mono (256 MiB) with 220 MiB in swap while the pool had 170 MiB free, and
 * its idle twin showed why: 64 MiB usable, 30 MiB free, 6 MiB committed. Each report gives a
 * lower bound, MemTotal - MemAvailable - Committed_AS (memory not available is committed memory
 * in RAM, at most Committed_AS, plus the kernel's own); the share is the largest recent bound.
 * It needs the report's optional MemAvailable; without it the share is 0.
 */
export class KernelShare {
  private readonly samples: number[] = [];

  constructor(private readonly maxKiB: number) {}

  add(memTotalKiB: number, memAvailableKiB: number, committedKiB: number): void {
    const b = Math.min(this.maxKiB, Math.max(0, memTotalKiB - memAvailableKiB - committedKiB));
    if (!Number.isSafeInteger(b)) return;
    this.samples.push(b);
    if (this.samples.length > KERNEL_SHARE_SAMPLES) this.samples.shift();
  }

  get kib(): number {
    let m = 0;
    for (const s of this.samples) if (s > m) m = s;
    return m;
  }
}
