// Algorithm 2's steps toward a goal, the two-phase rule for increases, and the order in which
// a tick's targets are written.
import { orderByFraction, PAGE_KIB, pageDown } from './pages.ts';

/**
 * One tick toward the goal: up by (goal - N) / upRatio, down by (N - goal) / downRatio, as a
 * whole number of pages, at least one page, never past the goal. A gap under a page snaps to
 * the goal (it could never be closed in whole pages otherwise).
 */
export function stepToward(currentKiB: number, goalKiB: number, upRatio: number, downRatio: number): number {
  const gap = goalKiB - currentKiB;
  const dist = Math.abs(gap);
  if (dist < PAGE_KIB) return goalKiB;
  const ratio = gap > 0 ? upRatio : downRatio;
  let move = pageDown(dist / ratio);
  if (move < PAGE_KIB) move = PAGE_KIB;
  if (move > dist) move = dist;
  return gap > 0 ? currentKiB + move : currentKiB - move;
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
