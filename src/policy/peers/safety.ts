// Funding increases from what is free now: squeezed's two-phase step (it raises a domain only
// out of host free memory above its own target, once nothing is still freeing) goes through
// here. The other peers fund themselves as their real systems do (selfballoon and MOM: the
// hypervisor grants growth from what it has, first come first served; qmemman: its own
// do_balance order), and the simulator's invariant checker reports whatever breach follows.
//
// Increases are funded from a spare amount as it is NOW. Memory that this tick's decreases
// release is only counted once it has landed (it shows up in the next tick's host free), so a
// balloon that never lets go cannot make the host over-allocated. Within the spare memory, Dom0's
// increase is funded first; the guests' increases share what is left in proportion to what each
// asked for (shareIncreases, as decide.ts does).
import type { DecideInput, GuestDecision, GuestMode } from '../types.ts';
import { clamp, pageDown } from '../pages.ts';
import { shareIncreases } from '../steps.ts';

/** F: what may be handed out this tick, host free memory less the configured reserve. */
export function spareKiB(input: DecideInput): number {
  return Math.max(0, input.host.freeKiB - input.params.reserveKiB);
}

export interface Want {
  currentKiB: number;
  minKiB: number;
  maxKiB: number;
  /** Where the peer wants the domain this tick (clamped to [min, max] here). */
  wantKiB: number;
}

export interface Funded {
  dom0TargetKiB: number;
  guestTargetsKiB: number[];
}

/**
 * Targets for this tick: decreases as wanted; Dom0's increase first, capped at F; the guests'
 * increases shared by shareIncreases (as decide.ts does) when they ask for more than F has
 * left. Increases move whole pages, so a page-aligned allocation stays page-aligned.
 */
export function fund(spare: number, dom0: Want, guests: readonly Want[]): Funded {
  const want = (w: Want): number => clamp(w.wantKiB, w.minKiB, w.maxKiB);
  const up = (w: Want): number => pageDown(Math.max(0, want(w) - w.currentKiB));

  const budget = pageDown(spare);
  const dom0Granted = Math.min(up(dom0), budget);
  const dom0TargetKiB = want(dom0) <= dom0.currentKiB ? want(dom0) : dom0.currentKiB + dom0Granted;

  const ups = guests.map(up);
  const grants = shareIncreases(ups, budget - dom0Granted);
  const guestTargetsKiB = guests.map((g, i) => {
    const w = want(g);
    return w <= g.currentKiB ? w : g.currentKiB + (grants[i] ?? 0);
  });
  return { dom0TargetKiB, guestTargetsKiB };
}

/**
 * The decision's guest list: the managed guests (agent: true), in input order, take goalsKiB[i]
 * and the funded targetsKiB[i] (i counting managed guests only); a guest without an agent is
 * held where it is.
 */
export function guestDecisions(
  input: DecideInput,
  mode: GuestMode,
  goalsKiB: readonly (number | undefined)[],
  targetsKiB: readonly (number | undefined)[],
): GuestDecision[] {
  let k = 0;
  return input.guests.map((g) => {
    if (!g.agent) return { id: g.id, mode: 'held', goalKiB: g.currentKiB, targetKiB: g.currentKiB };
    const i = k++;
    return { id: g.id, mode, goalKiB: goalsKiB[i] ?? g.currentKiB, targetKiB: targetsKiB[i] ?? g.currentKiB };
  });
}
