// Linux's Xen self-ballooning driver, as a peer policy: every guest steers its own balloon by
// its own Committed_AS, with no controller in Dom0. Idea borrowed (never code) from Linux
// drivers/xen/xen-selfballoon.c (Dan Magenheimer, 2011; removed in Linux 5.x with tmem),
// selfballoon_process():
//   - in the pages the kernel manages (totalram: the balloon less what the kernel reserved at
//     boot, BALLOON_OVERHEAD_KIB), goal = Committed_AS + totalreserve_pages +
//     selfballoon_reserved_mb, the last a tenth of totalram at boot (xen_selfballoon_init, the
//     driver's last form before its removal; checked against the kernel source);
//   - above the goal the guest gives back 1/DOWN_HYSTERESIS of the gap per step; below it, it
//     asks for 1/UP_HYSTERESIS of the gap, i.e. all of it at once;
//   - never below a floor: a piecewise-linear function of the guest's memory (ending in a ~3%
//     slope), with no ballooning at all for a guest under 16 MiB.
// Page arithmetic is integer, as in the driver. Pace: selfballoonMachine runs each guest's
// driver every selfballoon_interval (SELFBALLOON_INTERVAL_S, 5 s), staggered per guest.
//
// Dom0: self-ballooning "is disallowed in domain0 and force-disabled" (xen-selfballoon.c header)
// and no controller runs in Dom0, so Dom0 is held where it is: we keep what the peer does.
// A guest without an agent stands for a guest without the driver: held.
// No arbiter and no reserve: each driver sets its own balloon target, and the (simulated)
// hypervisor hands a growing balloon whatever it has free, first come first served (the
// simulator grows balloons in order within each step, src/hosts/sim/step.ts). So a driver can
// take the host's last free pages: the simulator's invariant checker then reports the breach
// (two-phase: an increase larger than host free less the host's reserve) against this peer.
//
// What the simulator cannot model here: frontswap/tmem (the driver's other half, gone from
// Linux with tmem), the driver's own re-kick of a balloon that gave up (here a balloon that gave
// up waits for its target to change), the guest's boot time (the stagger is a hash of its id),
// selfballoon_min_usable_mb (left at its default, 0), lowmem_reserve in totalreserve_pages, and
// each guest's own balloon overhead (one measured constant stands for all: DecideInput has no
// MemTotal).
import type { Decision, DecideInput, GuestInput, Policy } from '../types.ts';
import { clamp, PAGE_KIB } from '../pages.ts';
import type { GuestDecision } from '../types.ts';
import { FALLBACK_TICK_MS, idSlot, targetsOf, type PeerMachine } from './paced.ts';

/** xen-selfballoon.c selfballoon_downhysteresis default: give back 1/8 of the gap per step. */
export const DOWN_HYSTERESIS = 8;
/** xen-selfballoon.c selfballoon_uphysteresis default: take the whole gap at once. */
export const UP_HYSTERESIS = 1;
/** xen-selfballoon.c selfballoon_interval default, seconds between steps (see header). */
export const SELFBALLOON_INTERVAL_S = 5;

const PAGES_PER_MIB = 1024 / PAGE_KIB;
/** xen-selfballoon.c floor: below 16 MiB of useful memory, do not balloon at all. */
const FLOOR_NONE_BELOW_MIB = 16;
/** xen-selfballoon.c floor, first piece: 16 MiB + 1/2 of useful memory above 16 MiB, up to 64. */
const FLOOR_SMALL_BELOW_MIB = 64;
/** xen-selfballoon.c floor, second piece: 40 MiB + 1/8 above 40 MiB, up to 512 MiB. */
const FLOOR_MEDIUM_BELOW_MIB = 512;
const FLOOR_MEDIUM_BASE_MIB = 40;
/** xen-selfballoon.c floor, last piece: 99 MiB + 1/32 above 99 MiB. */
const FLOOR_LARGE_BASE_MIB = 99;

/** Linux mm/page_alloc.c min_free_kbytes = sqrt(16 x lowmem KiB), clamped to [128, 65536]. */
const MIN_FREE_KBYTES_LOW = 128;
const MIN_FREE_KBYTES_HIGH = 65536;

/**
 * totalreserve_pages, estimated: the kernel's high watermark, min_free_kbytes x 3/2 (Linux
 * mm/page_alloc.c __setup_per_zone_wmarks, high = min + min/2 before 4.6), computed as the
 * kernel does at boot from the guest's memory (its max here). lowmem_reserve is left out.
 */
export function totalReservePages(g: GuestInput): number {
  const minFree = clamp(Math.floor(Math.sqrt(16 * Math.max(0, g.maxKiB))), MIN_FREE_KBYTES_LOW, MIN_FREE_KBYTES_HIGH);
  return Math.floor((minFree + Math.floor(minFree / 2)) / PAGE_KIB);
}

/** The driver's floor, in pages, when selfballoon_min_usable_mb is 0 (its default). */
export function floorPages(maxPfn: number, reservePages: number): number {
  const useful = maxPfn - reservePages;
  const mib = (n: number): number => n * PAGES_PER_MIB;
  if (useful < mib(FLOOR_NONE_BELOW_MIB)) return maxPfn;
  if (useful < mib(FLOOR_SMALL_BELOW_MIB)) {
    return reservePages + mib(FLOOR_NONE_BELOW_MIB) + Math.floor((useful - mib(FLOOR_NONE_BELOW_MIB)) / 2);
  }
  if (useful < mib(FLOOR_MEDIUM_BELOW_MIB)) {
    return reservePages + mib(FLOOR_MEDIUM_BASE_MIB) + Math.floor((useful - mib(FLOOR_MEDIUM_BASE_MIB)) / 8);
  }
  return reservePages + mib(FLOOR_LARGE_BASE_MIB) + Math.floor((useful - mib(FLOOR_LARGE_BASE_MIB)) / 32);
}

/**
 * What a guest's balloon holds beyond the memory its kernel manages (balloon_stats.current_pages
 * - totalram_pages, which the driver adds back to its target): DecideInput carries no MemTotal,
 * so we take the 55,884 KiB measured on real 128-512 MiB guests (docs/measurements.md section 2).
 */
export const BALLOON_OVERHEAD_KIB = 55_884;
/** xen_selfballoon_init: selfballoon_reserved_mb = PAGES2MB(totalram_pages / 10) at boot. */
export const RESERVED_SHARE = 10;

/**
 * selfballoon_reserved_mb in pages: a tenth of the memory the kernel managed at boot (totalram),
 * rounded down to whole MiB as PAGES2MB does.
 */
export function reservedPages(bootKiB: number): number {
  const totalram = Math.max(0, Math.floor((bootKiB - BALLOON_OVERHEAD_KIB) / PAGE_KIB));
  return Math.floor(Math.floor(totalram / RESERVED_SHARE) / PAGES_PER_MIB) * PAGES_PER_MIB;
}

/**
 * The driver's goal and this step's target for one guest, in KiB of balloon, within [min, max].
 * As selfballoon_process: in pages the kernel manages (totalram = balloon - overhead),
 * goal = Committed_AS + totalreserve_pages + selfballoon_reserved_mb; never below the floor; the
 * target handed to the balloon is the step plus the overhead. `bootKiB`: the guest's allocation
 * when its driver started (sets selfballoon_reserved_mb).
 */
export function selfballoonStep(g: GuestInput, bootKiB: number = g.currentKiB): { goalKiB: number; stepKiB: number } {
  const reserve = totalReservePages(g);
  const overhead = Math.floor(BALLOON_OVERHEAD_KIB / PAGE_KIB);
  const cur = Math.floor(g.currentKiB / PAGE_KIB) - overhead;
  const goal = Math.floor(Math.max(0, g.committedKiB) / PAGE_KIB) + reserve + reservedPages(bootKiB);
  let tgt = cur;
  if (cur > goal) tgt = cur - Math.floor((cur - goal) / DOWN_HYSTERESIS);
  else if (cur < goal) tgt = cur + Math.floor((goal - cur) / UP_HYSTERESIS);
  const floor = floorPages(Math.floor(g.maxKiB / PAGE_KIB), reserve);
  const inBounds = (pages: number): number => clamp((Math.max(pages, floor) + overhead) * PAGE_KIB, g.minKiB, g.maxKiB);
  // An unchanged page count leaves the allocation exactly where it is (no sub-page rounding).
  const stepKiB = tgt === cur && cur >= floor ? clamp(g.currentKiB, g.minKiB, g.maxKiB) : inBounds(tgt);
  return { goalKiB: inBounds(goal), stepKiB };
}

/** Each guest's driver, as one step: its target straight from its own arithmetic, unfunded. */
function driverDecision(input: DecideInput, acting: (g: GuestInput) => boolean, last: ReadonlyMap<string, number>, boot: ReadonlyMap<string, number>): Decision {
  const { dom0 } = input;
  let need = 0;
  const guests: GuestDecision[] = input.guests.map((g) => {
    if (!g.agent) return { id: g.id, mode: 'held', goalKiB: g.currentKiB, targetKiB: g.currentKiB };
    const st = selfballoonStep(g, boot.get(g.id) ?? g.currentKiB);
    need += Math.max(0, st.goalKiB - g.currentKiB);
    const held = last.get(g.id) ?? g.currentKiB;
    return { id: g.id, mode: 'self', goalKiB: st.goalKiB, targetKiB: acting(g) ? st.stepKiB : clamp(held, g.minKiB, g.maxKiB) };
  });
  // Definitions 1-2 over the drivers' own goals, for the tables: host free covers every rise.
  return {
    state: Math.max(0, input.host.freeKiB) >= need ? 'abundant' : 'scarce',
    overcommitted: false,
    price: null,
    dom0: { goalKiB: dom0.currentKiB, targetKiB: dom0.currentKiB, reclaimKiB: 0 },
    guests,
  };
}

/** Every driver acting at once (a caller without time: memcoop decide, the property tests). */
export const selfballoon: Policy = (input: DecideInput): Decision => driverDecision(input, () => true, new Map(), new Map());

export interface SelfballoonState {
  /** When each guest's driver next runs (virtual ms). */
  nextMs: ReadonlyMap<string, number>;
  /** The target each driver last set. */
  targets: ReadonlyMap<string, number>;
  /** Each guest's allocation when first seen: its boot size, for selfballoon_reserved_mb. */
  boot: ReadonlyMap<string, number>;
}

/**
 * The drivers at their own pace: each guest's driver runs every SELFBALLOON_INTERVAL_S, the
 * first time 1-5 s after the guest is first seen (staggered by its id: guests do not boot in
 * step), and holds its target in between.
 */
export const selfballoonMachine: PeerMachine<SelfballoonState> = {
  initial: { nextMs: new Map(), targets: new Map(), boot: new Map() },
  step(input, atMs, state) {
    const nextMs = new Map<string, number>();
    const boot = new Map<string, number>();
    const acting = new Set<string>();
    for (const g of input.guests) {
      if (!g.agent) continue;
      let next = state.nextMs.get(g.id) ?? atMs + FALLBACK_TICK_MS * (1 + idSlot(g.id, SELFBALLOON_INTERVAL_S));
      if (atMs >= next) {
        acting.add(g.id);
        while (next <= atMs) next += SELFBALLOON_INTERVAL_S * 1000;
      }
      nextMs.set(g.id, next);
      boot.set(g.id, state.boot.get(g.id) ?? g.currentKiB);
    }
    const decision = driverDecision(input, (g) => acting.has(g.id), state.targets, boot);
    return { decision, state: { nextMs, targets: targetsOf(decision, input), boot } };
  },
};
