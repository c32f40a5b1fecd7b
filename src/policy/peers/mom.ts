// oVirt MOM (Memory Overcommitment Manager) auto-balloon rules, as a peer policy. Idea borrowed
// (never code) from oVirt/vdsm static/etc/vdsm/mom.d/02-balloon.policy, the rules oVirt ships
// (the older oVirt/mom doc/balloon.rules is the same policy but floors with min() where vdsm
// corrected it to max(), and leaves guest_free_percent unset when growing):
//   - host_free_percent = host free memory / host memory;
//   - below PRESSURE_THRESHOLD every guest shrinks by MAX_BALLOON_CHANGE_PERCENT of its current
//     size, but not below its ideal size, used + guest_free_percent x current, where
//     guest_free_percent scales MIN_GUEST_FREE_PERCENT with the host's free percent (at or below
//     PRESSURE_CRITICAL it goes negative, CRITICAL_FREE_OFFSET: the guest is made to swap);
//   - otherwise every guest below its max grows by MAX_BALLOON_CHANGE_PERCENT (at least to its
//     ideal size, at most to its max);
//   - a change smaller than MIN_BALLOON_CHANGE_PERCENT of the current size is not made.
// MOM has no goal beyond the step: it re-decides every tick, so goal = this tick's step.
// A guest whose memory stats are missing is skipped by MOM ("ballooning for guest disabled"):
// guests without an agent are held.
//
// Dom0: MOM runs on a KVM host, where "Dom0" is the host itself, and the host kernel's own
// allocations are served before any guest's balloon is deflated. So Dom0 goes to its goal first,
// clamp(Committed_AS, min, max) as in memcoop (this is how we compare like with like), taking
// only what is free; MOM then sees the host free memory that is left. MOM has no explicit reclaim
// for the host: its pressure rule does that by shrinking the guests (reclaimKiB is 0).
import type { Decision, DecideInput, GuestInput, Policy } from '../types.ts';
import { clamp, pageDown } from '../pages.ts';
import { dom0Overcommitted, fund, guestDecisions, spareKiB, type Want } from './safety.ts';

/** 02-balloon.policy pressure_threshold: host free below 20% is memory pressure. */
export const PRESSURE_THRESHOLD = 0.2;
/** 02-balloon.policy pressure_critical: host free at or below 5% is critical. */
export const PRESSURE_CRITICAL = 0.05;
/** 02-balloon.policy shrink_guest: under critical pressure guest free % = host free % - 0.05. */
export const CRITICAL_FREE_OFFSET = -0.05;
/** 02-balloon.policy min_guest_free_percent: free memory an unconstrained guest keeps. */
export const MIN_GUEST_FREE_PERCENT = 0.2;
/** 02-balloon.policy max_balloon_change_percent: at most 5% of the guest per step. */
export const MAX_BALLOON_CHANGE_PERCENT = 0.05;
/** 02-balloon.policy min_balloon_change_percent: smaller changes are not worth a balloon op. */
export const MIN_BALLOON_CHANGE_PERCENT = 0.0025;

/** guest_free_percent of 02-balloon.policy, from the host's free fraction. */
export function guestFreePercent(hostFreePercent: number): number {
  return hostFreePercent <= PRESSURE_CRITICAL
    ? hostFreePercent + CRITICAL_FREE_OFFSET
    : MIN_GUEST_FREE_PERCENT * (hostFreePercent / PRESSURE_THRESHOLD);
}

/** One guest's MOM step (shrink_guest / grow_guest / guest_qos), before the safety step. */
export function momStepKiB(g: GuestInput, hostFreePercent: number): number {
  const cur = g.currentKiB;
  const used = Math.max(0, cur - g.freeKiB);
  const ideal = Math.max(g.minKiB, used + guestFreePercent(hostFreePercent) * cur);
  const bigEnough = (size: number): boolean => Math.abs(size - cur) > MIN_BALLOON_CHANGE_PERCENT * cur;
  let size = cur;
  if (hostFreePercent < PRESSURE_THRESHOLD) {
    const shrunk = Math.max(cur * (1 - MAX_BALLOON_CHANGE_PERCENT), ideal);
    if (shrunk <= cur && bigEnough(shrunk)) size = shrunk;
  } else if (cur < g.maxKiB) {
    const grown = Math.min(Math.max(cur * (1 + MAX_BALLOON_CHANGE_PERCENT), ideal), g.maxKiB);
    if (bigEnough(grown)) size = grown;
  }
  // guest_qos: never leave a guest below its guaranteed minimum.
  if (size < g.minKiB) size = g.minKiB;
  return size === cur ? cur : clamp(pageDown(size), g.minKiB, g.maxKiB);
}

export const mom: Policy = (input: DecideInput): Decision => {
  const { dom0 } = input;
  const spare = spareKiB(input);
  const dom0Goal = clamp(pageDown(dom0.committedKiB), dom0.minKiB, dom0.maxKiB);
  const dom0Take = Math.min(Math.max(0, dom0Goal - dom0.currentKiB), pageDown(spare));

  // Host memory as MOM sees it (HostMemory collector: MemTotal), and free once Dom0 has its share.
  const total = input.host.freeKiB + dom0.currentKiB + input.guests.reduce((a, g) => a + g.currentKiB, 0);
  const hostFree = Math.max(0, input.host.freeKiB - dom0Take);
  const hostFreePercent = total > 0 ? hostFree / total : 1;

  const managed = input.guests.filter((g) => g.agent);
  const steps = managed.map((g) => momStepKiB(g, hostFreePercent));
  const wants: Want[] = managed.map((g, i) => ({
    currentKiB: g.currentKiB,
    minKiB: g.minKiB,
    maxKiB: g.maxKiB,
    wantKiB: steps[i] ?? g.currentKiB,
  }));
  const dom0Want: Want = { currentKiB: dom0.currentKiB, minKiB: dom0.minKiB, maxKiB: dom0.maxKiB, wantKiB: dom0Goal };
  const funded = fund(spare, dom0Want, wants);

  const guests = guestDecisions(input, 'global', steps, funded.guestTargetsKiB);
  return {
    state: hostFreePercent < PRESSURE_THRESHOLD ? 'scarce' : 'abundant',
    overcommitted: dom0Overcommitted(spare, dom0Goal - dom0.currentKiB, wants),
    price: null,
    dom0: { goalKiB: dom0Goal, targetKiB: funded.dom0TargetKiB, reclaimKiB: 0 },
    guests,
  };
};
