// Balloon models, after xapi-project squeezed's simulator (squeezed_test's domain models:
// a well-behaved balloon, one that stops at a hidden floor or ceiling, one that never moves,
// one that moves only now and then). The supervisor never sees which model a guest has; it sees
// only where the allocation gets to.
import { BALLOON_DEFLATE_KIB_PER_S, BALLOON_INFLATE_KIB_PER_S, PAGE_KIB } from './constants.ts';
import { hash01 } from './rng.ts';

export interface BalloonRates {
  /** Shrinking speed (KiB/s); default BALLOON_INFLATE_KIB_PER_S. */
  inflateKiBps?: number;
  /** Growing speed (KiB/s); default BALLOON_DEFLATE_KIB_PER_S. */
  deflateKiBps?: number;
}

export type BalloonModel =
  | ({ kind: 'ideal' } & BalloonRates)
  | ({ kind: 'floor'; floorKiB: number } & BalloonRates)
  | ({ kind: 'ceiling'; ceilingKiB: number } & BalloonRates)
  | { kind: 'stuck' }
  | ({ kind: 'intermittent'; windowMs: number; movingShare: number; seed: number } & BalloonRates);

export const BALLOON_KINDS = ['ideal', 'floor', 'ceiling', 'stuck', 'intermittent'] as const;

/** Milliseconds within [atMs, atMs + dtMs) during which the balloon can move. */
export function movingMs(model: BalloonModel, atMs: number, dtMs: number): number {
  if (model.kind === 'stuck') return 0;
  if (model.kind !== 'intermittent') return dtMs;
  let moving = 0;
  let t = atMs;
  const end = atMs + dtMs;
  while (t < end) {
    const w = Math.floor(t / model.windowMs);
    const next = Math.min(end, (w + 1) * model.windowMs);
    if (hash01(model.seed, w) < model.movingShare) moving += next - t;
    t = next;
  }
  return moving;
}

export interface BalloonMove {
  /** KiB the guest gives back (inflation) or takes (deflation); whole pages. */
  shrinkKiB: number;
  /** What it would take this step if the hypervisor had the memory (before host-free limits). */
  wantGrowKiB: number;
}

const pagesDown = (kib: number): number => Math.floor(kib / PAGE_KIB) * PAGE_KIB;

/** How far the balloon would move toward target in dtMs, before the host's free memory limits growth. */
export function balloonMove(model: BalloonModel, actualKiB: number, targetKiB: number, maxKiB: number, atMs: number, dtMs: number): BalloonMove {
  const ms = movingMs(model, atMs, dtMs);
  if (ms <= 0 || model.kind === 'stuck') return { shrinkKiB: 0, wantGrowKiB: 0 };
  const inflate = model.inflateKiBps ?? BALLOON_INFLATE_KIB_PER_S;
  const deflate = model.deflateKiBps ?? BALLOON_DEFLATE_KIB_PER_S;
  if (targetKiB < actualKiB) {
    const floor = model.kind === 'floor' ? Math.max(targetKiB, model.floorKiB) : targetKiB;
    return { shrinkKiB: Math.max(0, pagesDown(Math.min(actualKiB - floor, (inflate * ms) / 1000))), wantGrowKiB: 0 };
  }
  // Xen never lets a domain past its static maximum.
  let top = Math.min(targetKiB, maxKiB);
  if (model.kind === 'ceiling') top = Math.min(top, model.ceilingKiB);
  return { shrinkKiB: 0, wantGrowKiB: Math.max(0, pagesDown(Math.min(top - actualKiB, (deflate * ms) / 1000))) };
}

/** Time the balloon driver spent inflating to give back shrinkKiB (it takes guest CPU meanwhile). */
export function inflateMs(model: BalloonModel, shrinkKiB: number): number {
  if (shrinkKiB <= 0 || model.kind === 'stuck') return 0;
  return (shrinkKiB * 1000) / (model.inflateKiBps ?? BALLOON_INFLATE_KIB_PER_S);
}
