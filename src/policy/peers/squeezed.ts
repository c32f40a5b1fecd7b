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
// squeezed's balloon-inaccuracy allowance (inaccuracy_kib) and stuck-domain detection need
// state across ticks and are not modelled; the simulator's balloon models test stuck guests.
import type { Decision, DecideInput, Policy } from '../types.ts';
import { clamp, pageDown } from '../pages.ts';
import { fund, guestDecisions, spareKiB, type Want } from './safety.ts';

/** The fraction gamma of [dynamic-min, dynamic-max] every balanced domain gets (squeeze.ml). */
export function squeezedGamma(input: DecideInput): number {
  const balanced = input.guests.filter((g) => g.agent);
  // squeeze.ml compute_target_adjustments: host free + min_freeable - host target.
  const freeable = balanced.reduce((a, g) => a + Math.max(0, g.currentKiB - g.minKiB), 0);
  const surplus = Math.max(0, input.host.freeKiB - input.params.reserveKiB + freeable);
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
  const funded = fund(spareKiB(input), held, wants);

  const guests = guestDecisions(input, 'global', goals, funded.guestTargetsKiB);
  // Even every domain at dynamic-min cannot restore the host's free-memory target.
  const freeable = balanced.reduce((a, g) => a + Math.max(0, g.currentKiB - g.minKiB), 0);
  const short = input.host.freeKiB - input.params.reserveKiB + freeable < 0;
  return {
    // gamma = 1: every domain can sit at dynamic-max, nobody competes.
    state: gamma >= 1 ? 'abundant' : 'scarce',
    overcommitted: short,
    price: null,
    dom0: { goalKiB: funded.dom0TargetKiB, targetKiB: funded.dom0TargetKiB, reclaimKiB: 0 },
    guests,
  };
};
