// Memory reserved for a domain about to start (memcoop reserve; squeezed's reserve-memory,
// qmemman's request), as Dom0's need: the policy serves it first and reclaims it from the guests
// in the two-phase way, as it would for a growing Dom0. Only the need is Dom0's: the memory stays
// free for the new domain, so the decision's Dom0 goal and target are brought back to what Dom0
// itself wants. Pure; the supervisor applies both around whatever policy runs.
import { clamp, pageBounds, pageDown, pageUp } from './pages.ts';
import type { DecideInput, Decision } from './types.ts';

/** The policy's input with the reservation added to Dom0's need (its commit and its ceiling). */
export function withReservation(input: DecideInput, reservedKiB: number): DecideInput {
  if (reservedKiB <= 0) return input;
  const r = pageUp(reservedKiB);
  const dom0 = input.dom0;
  const [lo, hi] = pageBounds(dom0.minKiB, dom0.maxKiB);
  // Dom0's own want, then the reservation on top of it (so a Dom0 committing below its floor
  // does not swallow the reservation in the clamp).
  const want = clamp(pageUp(dom0.committedKiB), lo, hi);
  return { ...input, dom0: { ...dom0, committedKiB: want + r, minKiB: lo, maxKiB: hi + r } };
}

/**
 * The decision with Dom0's goal and target back at what Dom0 itself wants: never above its own
 * want (the reserved part is left free), never above what the policy granted it.
 */
export function releaseReservedToFree(decision: Decision, input: DecideInput, reservedKiB: number): Decision {
  if (reservedKiB <= 0) return decision;
  const dom0 = input.dom0;
  const [lo, hi] = pageBounds(dom0.minKiB, dom0.maxKiB);
  const want = clamp(pageUp(dom0.committedKiB), lo, hi);
  const n0 = pageDown(dom0.currentKiB);
  const own = Math.max(want, n0);
  return {
    ...decision,
    dom0: {
      ...decision.dom0,
      goalKiB: Math.min(decision.dom0.goalKiB, want),
      targetKiB: decision.dom0.targetKiB > n0 ? Math.min(decision.dom0.targetKiB, own) : decision.dom0.targetKiB,
    },
  };
}
