// XenServer / XCP-ng squeezed, as a peer policy. Idea borrowed (never code) from
// xapi-project/squeezed lib/squeeze.ml ("Proportional" policy, "Squeezer.one_iteration"):
//   - surplus = host free memory + what every balloonable domain would free going down to its
//     dynamic-min, less the host free-memory target (our reserve);
//   - gamma = surplus / sum of (dynamic-max - dynamic-min), clamped to [0, 1];
//   - every domain's target = dynamic-min + gamma x (dynamic-max - dynamic-min): all domains sit
//     at the same fraction of their range;
//   - two phases: while any domain still has to free memory, only the freeing targets are set;
//     the raising targets wait until no domain is freeing.
// squeezed reads no guest data at all ("There is no direct attempt to respond to distress or
// memory pressure information from within the guest"), so Committed_AS, MemFree and swap are
// ignored here. Our [minKiB, maxKiB] plays dynamic-min/dynamic-max.
//
// Dom0: squeezed does not manage Dom0 by default (squeeze.ml: manage_domain_zero = false; Dom0's
// memory is fixed in XenServer), so Dom0 is held where it is. A guest without an agent is held
// too, as squeezed leaves out a domain that cannot balloon (can_balloon = false).
// Reserve: squeezed's own host free target, target_host_free_mem_kib = low_mem_emergency_pool
// (64 MiB, Xen's low_mem_virq_limit) + extra_mem_to_keep (8 MiB): 72 MiB (xapi-project/xen-api
// ocaml/squeezed/src/squeeze_xen.ml, checked at commit e2ee48d6), not memcoop's reserve.
// Pace (squeezedMachine): the balance thread wakes every balance-check-interval (10 s,
// ocaml/squeezed/scripts/squeezed.conf and squeezed.ml), and if the host is unbalanced runs
// change_host_free_memory, which iterates (one_iteration) until the host's free memory is at the
// target; we iterate once a tick while any balanced domain is more than a tolerance from its
// target, for at most EPISODE_LIMIT_MS, and then sleep the interval again.
//
// What the simulator cannot model here: the balloon-inaccuracy allowance (inaccuracy_kib), the
// stuck-domain detection and its per-domain timeouts, memory-offset accounting (xen_max_offset_kib),
// and reservations for domain creation (the simulator creates no domains mid-run through squeezed).
import type { Decision, DecideInput, Policy } from '../types.ts';
import { clamp, pageDown } from '../pages.ts';
import { targetsOf, holdGuests, type PeerMachine } from './paced.ts';
import { fund, guestDecisions, type Want } from './safety.ts';

const MIB = 1024;
/** squeeze_xen.ml target_host_free_mem_kib: low_mem_emergency_pool 64 MiB + extra_mem_to_keep 8 MiB. */
export const TARGET_HOST_FREE_KIB = 64 * MIB + 8 * MIB;
/** squeezed.conf balance-check-interval: 10 s between checks. */
export const BALANCE_CHECK_INTERVAL_MS = 10_000;
/** A domain within this of its target is done (squeeze.ml's per-domain tolerance is ~1 MiB). */
export const DOMAIN_TOLERANCE_KIB = 1 * MIB;
/** How long one change_host_free_memory keeps iterating before it gives up (estimate: 10 s). */
export const EPISODE_LIMIT_MS = 10_000;

/** Host free less squeezed's own target: what may be handed out. */
function spareOf(input: DecideInput): number {
  return Math.max(0, input.host.freeKiB - TARGET_HOST_FREE_KIB);
}

/** The fraction gamma of [dynamic-min, dynamic-max] every balanced domain gets (squeeze.ml). */
export function squeezedGamma(input: DecideInput): number {
  const balanced = input.guests.filter((g) => g.agent);
  // squeeze.ml compute_target_adjustments: host free + min_freeable - host target.
  const freeable = balanced.reduce((a, g) => a + Math.max(0, g.currentKiB - g.minKiB), 0);
  const surplus = Math.max(0, input.host.freeKiB - TARGET_HOST_FREE_KIB + freeable);
  const totalRange = balanced.reduce((a, g) => a + Math.max(0, g.maxKiB - g.minKiB), 0);
  // squeeze.ml constrain: clamp to [0, 1]; a zero range leaves every domain at dynamic-min.
  return totalRange > 0 ? clamp(surplus / totalRange, 0, 1) : 0;
}

export const squeezed: Policy = (input: DecideInput): Decision => {
  const { dom0 } = input;
  const gamma = squeezedGamma(input);
  const balanced = input.guests.filter((g) => g.agent);
  const goals = balanced.map((g) => g.minKiB + pageDown(gamma * Math.max(0, g.maxKiB - g.minKiB)));

  // Two phases (squeeze.ml one_iteration): freeing first, raising only once nothing frees.
  const freeing = balanced.some((g, i) => (goals[i] ?? g.currentKiB) < g.currentKiB);
  const wants: Want[] = balanced.map((g, i) => {
    const goal = goals[i] ?? g.currentKiB;
    return {
      currentKiB: g.currentKiB,
      minKiB: g.minKiB,
      maxKiB: g.maxKiB,
      wantKiB: freeing && goal > g.currentKiB ? g.currentKiB : goal,
    };
  });
  const held: Want = { currentKiB: dom0.currentKiB, minKiB: dom0.minKiB, maxKiB: dom0.maxKiB, wantKiB: dom0.currentKiB };
  const funded = fund(spareOf(input), held, wants);

  const guests = guestDecisions(input, 'global', goals, funded.guestTargetsKiB);
  // Even every domain at dynamic-min cannot restore the host's free-memory target.
  const freeable = balanced.reduce((a, g) => a + Math.max(0, g.currentKiB - g.minKiB), 0);
  const short = input.host.freeKiB - TARGET_HOST_FREE_KIB + freeable < 0;
  return {
    // gamma = 1: every domain can sit at dynamic-max, nobody competes.
    state: gamma >= 1 ? 'abundant' : 'scarce',
    overcommitted: short,
    price: null,
    dom0: { goalKiB: funded.dom0TargetKiB, targetKiB: funded.dom0TargetKiB, reclaimKiB: 0 },
    guests,
  };
};

export interface SqueezedState {
  /** When the balance thread next wakes. */
  nextCheckMs: number;
  /** When the running change_host_free_memory gives up; null: none running. */
  episodeEndMs: number | null;
  targets: ReadonlyMap<string, number>;
}

/** Whether every balanced guest is within tolerance of where squeezed wants it. */
function balanced(input: DecideInput, d: Decision): boolean {
  return input.guests.every((g, i) => !g.agent || Math.abs((d.guests[i]?.goalKiB ?? g.currentKiB) - g.currentKiB) <= DOMAIN_TOLERANCE_KIB);
}

/** squeezed at its own pace (see the header). */
export const squeezedMachine: PeerMachine<SqueezedState> = {
  initial: { nextCheckMs: -1, episodeEndMs: null, targets: new Map() },
  step(input, atMs, state) {
    let { nextCheckMs, episodeEndMs } = state;
    if (nextCheckMs < 0) nextCheckMs = atMs + BALANCE_CHECK_INTERVAL_MS;
    const want = squeezed(input);
    if (episodeEndMs === null && atMs >= nextCheckMs && !balanced(input, want)) episodeEndMs = atMs + EPISODE_LIMIT_MS;
    if (episodeEndMs !== null) {
      if (balanced(input, want) || atMs >= episodeEndMs) {
        // Done (or given up): sleep the interval from here.
        episodeEndMs = null;
        nextCheckMs = atMs + BALANCE_CHECK_INTERVAL_MS;
      } else {
        return { decision: want, state: { nextCheckMs, episodeEndMs, targets: targetsOf(want, input) } };
      }
    }
    while (nextCheckMs <= atMs) nextCheckMs += BALANCE_CHECK_INTERVAL_MS;
    const hold: Decision = { ...want, guests: holdGuests(input, 'global', state.targets) };
    return { decision: hold, state: { nextCheckMs, episodeEndMs, targets: state.targets } };
  },
};
