// Algorithm 2's steps toward a goal, the two-phase rule for increases, and the order in which
// a tick's targets are written.
import { orderByFraction, PAGE_KIB, pageDown } from './pages.ts';
import type { StepLimit } from './trace.ts';

/**
 * The smallest step worth a write (beyond the paper): 4 MiB. Ratio steps close a gap
 * geometrically, so without a floor the last stretch crawls: on the Xen integration run a
 * guest's target crept down for ~70 ticks, ending in 4 KiB steps, each a XenStore write and a
 * balloon wake-up. A balloon moves ~100 MiB/s (docs/measurements.md section 2: 512 -> 256 MiB in
 * 2.0-2.7 s, 256 -> 512 MiB in 0.4 s), so 4 MiB lands in ~40 ms, a small part of the paper's
 * 1 s tick: a smaller step costs a write and a wake-up for memory no workload notices. Peers
 * ignore changes of this size too: qmemman skips a per-domain change under 15 MiB
 * (MIN_MEM_CHANGE_WHEN_UNDER_PREF) and squeezed stops within 512 KiB-1 MiB of its free-memory
 * target (free_memory_tolerance_kib). We stay well under qmemman's 15 MiB because the down
 * ratio's point is to approach a goal below the working set gently (defaults.ts), and the last
 * step is taken whole. Measured in the simulator (the runner on the five paper-* scenarios,
 * seeds 1-8, with the commit cap of decide.ts): tick target writes to guests 44,149 with no
 * minimum, 32,375 at 1 MiB, 31,403 at 2, 30,696 at 4, 30,424 at 8, 30,053 at 16; total runtime
 * 49,633 virtual s with none, 49,673 / 49,673 / 49,633 / 49,630 / 49,580 (within the noise of
 * paper-mono-random, whose ratio to static ranges 0.55-0.81 across seeds). So the writes are
 * what it buys; 4 MiB takes most of them and keeps the last step small. Not free:
 * paper-memory-memory went 0.979 -> 0.987 of static at every minimum from 1 to 16 MiB (the
 * balance's goal is reached sooner, and while its DaCapo phases overlap, the lag had favoured
 * the guest being shrunk).
 */
export const MIN_STEP_KIB = 4 * 1024;

/**
 * One tick toward the goal: up by (goal - N) / upRatio, down by (N - goal) / downRatio, as a
 * whole number of pages, but at least MIN_STEP_KIB (or the whole gap, if that is less), never
 * past the goal: move = max(ratio step, min(gap, MIN_STEP_KIB)). So a remainder under the
 * minimum snaps to the goal in one step, and a gap under a page snaps to it too (it could never
 * be closed in whole pages otherwise). decide() and selfAdjustStep() both step through here, so
 * tick decisions and prompt self steps take the same steps.
 */
export function stepToward(currentKiB: number, goalKiB: number, upRatio: number, downRatio: number, minStepKiB = MIN_STEP_KIB): number {
  const gap = goalKiB - currentKiB;
  const dist = Math.abs(gap);
  if (dist < PAGE_KIB) return goalKiB;
  const ratio = gap > 0 ? upRatio : downRatio;
  let move = pageDown(dist / ratio);
  // Without the minimum (the ablation, the paper's policy) a step is still at least one page.
  const least = Math.max(PAGE_KIB, minStepKiB);
  const floor = dist < least ? dist : least;
  if (move < floor) move = floor;
  if (move > dist) move = dist;
  return gap > 0 ? currentKiB + move : currentKiB - move;
}

/**
 * What bounded stepToward's move, for decide's trace (trace.ts) only: its branches, named. A gap
 * under a page snaps; a ratio step under the floor moves the floor, which is the minimum step
 * ('min step') or the whole gap when that is less ('whole gap'), where that moves more than the
 * one page a step takes without the minimum (else it is Algorithm 2's step, 'ratio').
 */
export function stepLimit(currentKiB: number, goalKiB: number, upRatio: number, downRatio: number, minStepKiB = MIN_STEP_KIB): StepLimit {
  const dist = Math.abs(goalKiB - currentKiB);
  if (dist === 0) return 'at goal';
  if (dist < PAGE_KIB) return 'snap';
  const move = pageDown(dist / (goalKiB > currentKiB ? upRatio : downRatio));
  const least = Math.max(PAGE_KIB, minStepKiB);
  const floor = dist < least ? dist : least;
  // Without the minimum a step is still at least a page: only a floor above that is the minimum's doing.
  if (Math.max(move, PAGE_KIB) >= floor) return 'ratio';
  return floor === dist ? 'whole gap' : 'min step';
}

/**
 * Shares budgetKiB (a page multiple) among wanted increases (page multiples) so that nobody
 * gets more than they want and the grants sum to min(budget, sum wanted): proportional to
 * what each wants, whole pages, odd pages by largest remainder (ties: the later index).
 * Deterministic; O(n log n) only when the budget falls short.
 */
export function shareIncreases(wantedKiB: readonly number[], budgetKiB: number): number[] {
  const n = wantedKiB.length;
  let sumWanted = 0;
  for (const w of wantedKiB) sumWanted += w;
  if (sumWanted <= budgetKiB) return wantedKiB.slice();
  const budgetPages = Math.max(0, Math.floor(budgetKiB / PAGE_KIB));
  const grants = new Array<number>(n);
  const rem = new Float64Array(n);
  let given = 0;
  for (let i = 0; i < n; i++) {
    const exact = (budgetPages * wantedKiB[i]!) / sumWanted; // in pages, < wanted pages
    const whole = Math.floor(exact);
    grants[i] = whole;
    rem[i] = exact - whole;
    given += whole;
  }
  let left = budgetPages - given;
  if (left > 0) {
    const order = orderByFraction(rem);
    for (let k = n - 1; k >= 0 && left > 0; k--) {
      const i = order[k]!;
      if ((grants[i]! + 1) * PAGE_KIB <= wantedKiB[i]!) {
        grants[i]!++;
        left--;
      }
    }
  }
  return grants.map((g) => g * PAGE_KIB);
}

export interface TargetWrite<K> {
  id: K;
  fromKiB: number;
  toKiB: number;
  direction: 'decrease' | 'increase';
}

/**
 * The order to write a tick's targets in: every decrease before any increase, so memory is
 * handed back before it is handed out (each group in the targets' own order, e.g. Dom0 first
 * if it comes first). Unchanged targets are left out. Every id in targets must be in current.
 */
export function orderWrites<K>(current: ReadonlyMap<K, number>, targets: ReadonlyMap<K, number>): TargetWrite<K>[] {
  const decreases: TargetWrite<K>[] = [];
  const increases: TargetWrite<K>[] = [];
  for (const [id, toKiB] of targets) {
    const fromKiB = current.get(id);
    if (fromKiB === undefined) throw new RangeError(`orderWrites: no current allocation for ${String(id)}`);
    if (toKiB < fromKiB) decreases.push({ id, fromKiB, toKiB, direction: 'decrease' });
    else if (toKiB > fromKiB) increases.push({ id, fromKiB, toKiB, direction: 'increase' });
  }
  return [...decreases, ...increases];
}
