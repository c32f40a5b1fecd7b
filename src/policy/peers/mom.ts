// oVirt MOM (Memory Overcommitment Manager) auto-balloon rules, as a peer policy. Idea borrowed
// (never code) from oVirt/mom doc/balloon.rules (checked at commit 3de1c8e6), the rules MOM ships
// for ballooning (vdsm's static/etc/vdsm/mom.d/02-balloon.policy is the same policy):
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
//
// Pace and averaging (momMachine): oVirt/mom doc/mom-balloon.conf, the configuration MOM ships
// for ballooning: host-monitor-interval and guest-monitor-interval 5 s, policy-engine-interval
// 10 s, sample-history-length 10; doc/balloon.rules reads Host.StatAvg "mem_free" and each
// guest's StatAvg "balloon_cur" and "mem_unused" (mom/Entity.py StatAvg: the mean of the kept
// samples). vdsm runs the engine every 15 s; we take MOM's own 10 s.
// No reserve and no arbiter: MOM writes balloon targets and the hypervisor grants growth from
// what it has free, first come first served; a breach of the host's reserve is reported by the
// simulator against this peer. The growth rule only runs while host free is above 20 %.
//
// What the simulator cannot model here: KSM (the other MOM controller), the guest agent's
// balloon statistics lag (virtio-balloon stats are polled), libvirt's own dom0 accounting, and
// vdsm's 15 s interval (we use MOM's 10 s).
import type { Decision, DecideInput, GuestDecision, GuestInput, Policy } from '../types.ts';
import { clamp, pageDown } from '../pages.ts';
import { targetsOf, type PeerMachine } from './paced.ts';

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

/** What MOM's rules read of a guest: balloon_cur now, and the averaged used memory. */
export interface MomGuestView {
  currentKiB: number;
  /** StatAvg(balloon_cur) - StatAvg(mem_unused). */
  usedKiB: number;
  minKiB: number;
  maxKiB: number;
}

/** One guest's MOM step (shrink_guest / grow_guest / guest_qos). */
export function momStepKiB(g: MomGuestView, hostFreePercent: number): number {
  const cur = g.currentKiB;
  const used = Math.max(0, g.usedKiB);
  const bigEnough = (size: number): boolean => Math.abs(size - cur) > MIN_BALLOON_CHANGE_PERCENT * cur;
  let size = cur;
  if (hostFreePercent < PRESSURE_THRESHOLD) {
    const ideal = Math.max(g.minKiB, used + guestFreePercent(hostFreePercent) * cur);
    const shrunk = Math.max(cur * (1 - MAX_BALLOON_CHANGE_PERCENT), ideal);
    if (shrunk <= cur && bigEnough(shrunk)) size = shrunk;
  } else if (cur < g.maxKiB) {
    // grow_guest: at least to the guest's desired free memory (min_guest_free_percent).
    const ideal = Math.max(g.minKiB, used + MIN_GUEST_FREE_PERCENT * cur);
    const grown = Math.min(Math.max(cur * (1 + MAX_BALLOON_CHANGE_PERCENT), ideal), g.maxKiB);
    if (bigEnough(grown)) size = grown;
  }
  // guest_qos: never leave a guest below its guaranteed minimum.
  if (size < g.minKiB) size = g.minKiB;
  return size === cur ? cur : clamp(pageDown(size), g.minKiB, g.maxKiB);
}

/** Dom0 (the KVM host's own kernel) goes to its need first, out of what is free. */
function dom0Of(input: DecideInput): { goalKiB: number; takeKiB: number } {
  const d = input.dom0;
  const goalKiB = clamp(pageDown(d.committedKiB), d.minKiB, d.maxKiB);
  return { goalKiB, takeKiB: Math.min(Math.max(0, goalKiB - d.currentKiB), pageDown(Math.max(0, input.host.freeKiB))) };
}

/** Host memory as MOM sees it (HostMemory collector: MemTotal). */
function hostTotalKiB(input: DecideInput): number {
  return input.host.freeKiB + input.dom0.currentKiB + input.guests.reduce((a, g) => a + g.currentKiB, 0);
}

function momDecision(input: DecideInput, hostFreePercent: number, targetOf: (g: GuestInput) => number): Decision {
  const d0 = dom0Of(input);
  const dom0Target = input.dom0.currentKiB + d0.takeKiB;
  const guests: GuestDecision[] = input.guests.map((g) => {
    if (!g.agent) return { id: g.id, mode: 'held', goalKiB: g.currentKiB, targetKiB: g.currentKiB };
    const t = targetOf(g);
    return { id: g.id, mode: 'global', goalKiB: t, targetKiB: t };
  });
  return {
    state: hostFreePercent < PRESSURE_THRESHOLD ? 'scarce' : 'abundant',
    overcommitted: false,
    price: null,
    dom0: { goalKiB: d0.goalKiB, targetKiB: d0.goalKiB < input.dom0.currentKiB ? d0.goalKiB : dom0Target, reclaimKiB: 0 },
    guests,
  };
}

/** MOM deciding on this one sample (no history): a caller without time, the property tests. */
export const mom: Policy = (input: DecideInput): Decision => {
  const total = hostTotalKiB(input);
  const free = Math.max(0, input.host.freeKiB - dom0Of(input).takeKiB);
  const pct = total > 0 ? free / total : 1;
  return momDecision(input, pct, (g) => momStepKiB({ currentKiB: g.currentKiB, usedKiB: g.currentKiB - g.freeKiB, minKiB: g.minKiB, maxKiB: g.maxKiB }, pct));
};

/** mom.conf host-monitor-interval / guest-monitor-interval: a sample every 5 s. */
export const MONITOR_INTERVAL_MS = 5000;
/** mom.conf policy-engine-interval: the rules run every 10 s. */
export const POLICY_INTERVAL_MS = 10_000;
/** mom.conf sample-history-length: StatAvg averages the last 10 samples. */
export const SAMPLE_HISTORY_LENGTH = 10;

interface MomSample {
  hostFreeKiB: number;
  guests: ReadonlyMap<string, { curKiB: number; unusedKiB: number }>;
}

export interface MomState {
  nextSampleMs: number;
  nextPolicyMs: number;
  history: readonly MomSample[];
  targets: ReadonlyMap<string, number>;
}

/** StatAvg of one guest's field over the samples that have it (Entity.StatAvg skips the missing). */
function guestAvg(history: readonly MomSample[], id: string, field: 'curKiB' | 'unusedKiB'): number | null {
  let sum = 0;
  let n = 0;
  for (const s of history) {
    const v = s.guests.get(id);
    if (v === undefined) continue;
    sum += v[field];
    n += 1;
  }
  return n === 0 ? null : sum / n;
}

/**
 * MOM at its own pace: the monitors sample every MONITOR_INTERVAL_MS, the rules run every
 * POLICY_INTERVAL_MS on StatAvg over the last SAMPLE_HISTORY_LENGTH samples (host mem_free,
 * each guest's balloon_cur and mem_unused), and the targets they set hold in between.
 */
export const momMachine: PeerMachine<MomState> = {
  initial: { nextSampleMs: -1, nextPolicyMs: -1, history: [], targets: new Map() },
  step(input, atMs, state) {
    let { nextSampleMs, nextPolicyMs, history, targets } = state;
    if (nextSampleMs < 0) {
      nextSampleMs = atMs;
      nextPolicyMs = atMs + POLICY_INTERVAL_MS;
    }
    if (atMs >= nextSampleMs) {
      const guests = new Map<string, { curKiB: number; unusedKiB: number }>();
      for (const g of input.guests) if (g.agent) guests.set(g.id, { curKiB: g.currentKiB, unusedKiB: g.freeKiB });
      const sample = { hostFreeKiB: Math.max(0, input.host.freeKiB - dom0Of(input).takeKiB), guests };
      history = [...history, sample].slice(-SAMPLE_HISTORY_LENGTH);
      while (nextSampleMs <= atMs) nextSampleMs += MONITOR_INTERVAL_MS;
    }
    let decision: Decision;
    const total = hostTotalKiB(input);
    const avgFree = history.reduce((a, s) => a + s.hostFreeKiB, 0) / Math.max(1, history.length);
    const pct = total > 0 ? avgFree / total : 1;
    if (atMs >= nextPolicyMs) {
      while (nextPolicyMs <= atMs) nextPolicyMs += POLICY_INTERVAL_MS;
      decision = momDecision(input, pct, (g) => {
        const cur = guestAvg(history, g.id, 'curKiB');
        const unused = guestAvg(history, g.id, 'unusedKiB');
        // A guest with no sample yet: MOM has no stats for it and leaves it alone.
        if (cur === null || unused === null) return clamp(targets.get(g.id) ?? g.currentKiB, g.minKiB, g.maxKiB);
        return momStepKiB({ currentKiB: g.currentKiB, usedKiB: cur - unused, minKiB: g.minKiB, maxKiB: g.maxKiB }, pct);
      });
      targets = targetsOf(decision, input);
    } else {
      decision = momDecision(input, pct, (g) => clamp(targets.get(g.id) ?? g.currentKiB, g.minKiB, g.maxKiB));
    }
    return { decision, state: { nextSampleMs, nextPolicyMs, history, targets } };
  },
};
