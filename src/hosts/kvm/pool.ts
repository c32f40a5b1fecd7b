// What the supervisor is told about a KVM host's memory. There is no hypervisor free count: an
// operator gives memcoop a pool (kvm.poolKiB), the memory it may hand to guests, and the guests'
// balloon sizes come out of it. The host's own need plays Dom0's part ("Dom0 first"): when the
// host's MemAvailable falls under kvm.hostMinAvailableKiB, the shortfall is Dom0's commit, the
// supervisor grants Dom0 memory out of the pool (reclaiming it from guests if it must), and the
// grant is held back from what the guests may have until the host has room again.

export interface PoolInputs {
  poolKiB: number;
  /** Every connected guest's balloon actual, announced or not: all of it is the pool's. */
  actualsKiB: readonly number[];
  /** What the supervisor last granted Dom0 (its written target), KiB. */
  dom0GrantKiB: number;
  /** The host's /proc/meminfo MemAvailable, KiB; null if unreadable (then no shortfall is seen). */
  hostAvailableKiB: number | null;
  hostMinAvailableKiB: number;
}

export interface PoolSample {
  freeKiB: number;
  dom0: { currentKiB: number; committedKiB: number };
  /** How far the guests and Dom0's grant exceed the pool (0 normally). */
  overKiB: number;
}

export function poolSample(p: PoolInputs): PoolSample {
  let used = p.dom0GrantKiB;
  for (const a of p.actualsKiB) used += a;
  const free = p.poolKiB - used;
  // Dom0's commit: its grant, plus what the host lacks (or minus what it has to spare), so the
  // grant follows the host's need up and, as the host recovers, back down.
  const margin = p.hostAvailableKiB === null ? 0 : p.hostAvailableKiB - p.hostMinAvailableKiB;
  return {
    freeKiB: Math.max(0, free),
    dom0: { currentKiB: p.dom0GrantKiB, committedKiB: Math.max(0, p.dom0GrantKiB - margin) },
    overKiB: Math.max(0, -free),
  };
}

/** MemAvailable from /proc/meminfo text (the host's own, trusted), KiB, or null. */
export function memAvailableKiB(meminfo: string): number | null {
  const m = /^MemAvailable:\s+([0-9]+) kB$/m.exec(meminfo);
  if (m === null) return null;
  const v = Number(m[1]);
  return Number.isSafeInteger(v) ? v : null;
}
