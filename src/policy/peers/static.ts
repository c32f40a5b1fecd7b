// The static allocation, the baseline every runtime is compared with: no balancing at all. Every
// guest and Dom0 stay where they are (as on a Xen host with no balloon daemon, each domain at the
// memory it was created with). Dom0 is not served either: there is nothing that would serve it.
// The state is reported for the comparison tables only, by the paper's Definitions 1-2 over
// the guests' adjusted commits; nothing acts on it.
import type { Decision, DecideInput, Policy } from '../types.ts';
import { clamp } from '../pages.ts';
import { spareKiB } from './safety.ts';

export const staticPolicy: Policy = (input: DecideInput): Decision => {
  const need = input.guests
    .filter((g) => g.agent)
    .reduce((a, g) => a + Math.max(0, clamp(g.committedKiB, g.minKiB, g.maxKiB) - g.currentKiB), 0);
  return {
    state: spareKiB(input) >= need ? 'abundant' : 'scarce',
    overcommitted: false,
    price: null,
    dom0: { goalKiB: input.dom0.currentKiB, targetKiB: input.dom0.currentKiB, reclaimKiB: 0 },
    guests: input.guests.map((g) => ({ id: g.id, mode: 'held', goalKiB: g.currentKiB, targetKiB: g.currentKiB })),
  };
};
