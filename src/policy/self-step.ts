// Prompt self adjustment (paper Algorithm 2): while memory is abundant, a self-adjusting guest's
// goal is its own Committed_AS within its bounds, MC_i = clamp(C_i, L_i, H_i), and needs no
// other guest's data. So when reports arrive between ticks, the reporting guests can step toward
// their goals at once rather than waiting up to a tick for the global decision. The same rules
// as decide(): steps by the up and down ratios with the same minimum step (stepToward, so a
// self step and a tick take the same step), whole pages, decreases freely, and increases only
// out of memory known to be free (the two-phase rule), here the budget the last host sample and
// tick left over (promptBudgetKiB). Pure.
import { clamp, pageBounds, pageDown, pageUp } from './pages.ts';
import { ruleOn } from './rules.ts';
import { MIN_STEP_KIB, shareIncreases, stepToward } from './steps.ts';
import type { PolicyParams } from './types.ts';

export interface SelfStepGuest {
  id: string;
  minKiB: number;
  maxKiB: number;
  /** N_i: the allocation at the last host sample. */
  currentKiB: number;
  /** C_i from the report just received. */
  committedKiB: number;
  /**
   * The increase already issued and not yet seen landed (written target - N_i, if positive):
   * charged to the budget when it was issued, so only growth beyond it is charged now.
   */
  pendingIncreaseKiB: number;
  /**
   * A decrease already issued and not yet reached (N_i - written target, if positive; absent: 0).
   * With the working room a prompt step keeps the written target unless the commit is above it
   * (see selfAdjustStep).
   */
  pendingDecreaseKiB?: number;
  /**
   * The guest is paging (pressure.ts): the tick may have given it memory beyond its commit, so a
   * prompt step never takes it back below what it has (only the tick does, with every guest's
   * need in view).
   */
  paging?: boolean;
}

export interface SelfStepInput {
  params: PolicyParams;
  /** Free memory not yet spoken for (page multiple, >= 0). */
  budgetKiB: number;
  guests: readonly SelfStepGuest[];
}

export interface SelfStepResult {
  /** Same order as the input. */
  guests: { id: string; goalKiB: number; targetKiB: number }[];
  /** What is left of the budget after this step's increases. */
  budgetKiB: number;
}

/**
 * What free memory is not yet spoken for: host free after the reserve (as decide() takes it),
 * less what Dom0 still needs to reach its goal (Dom0 is served first), less the increases
 * issued to guests that have not landed yet.
 */
export function freeBudget(params: PolicyParams, hostFreeKiB: number, dom0NeedKiB: number, pendingIncreasesKiB: number): number {
  const F = pageDown(Math.max(0, hostFreeKiB - params.reserveKiB));
  return pageDown(Math.max(0, F - Math.max(0, dom0NeedKiB) - Math.max(0, pendingIncreasesKiB)));
}

export function selfAdjustStep(input: SelfStepInput): SelfStepResult {
  const { upRatio, downRatio } = input.params;
  const n = input.guests.length;
  const goals = new Array<number>(n);
  const steps = new Array<number>(n);
  const bases = new Array<number>(n);
  const wanted = new Array<number>(n);
  for (let k = 0; k < n; k++) {
    const g = input.guests[k]!;
    const [lo, hi] = pageBounds(g.minKiB, g.maxKiB);
    const cur = pageDown(g.currentKiB);
    const mc = clamp(pageUp(g.committedKiB), lo, hi);
    // Working room (pressure.ts): the tick may have given the guest room above its commit, so a
    // prompt step never takes it back (only the tick does, with every guest's need in view):
    // prompt steps grow guests to their commits at once and leave decreases to the tick.
    const room = ruleOn(input.params, 'workingRoom');
    // Keep the tick's target (rule keepTickTarget, beyond the paper): the prompt step's floor is
    // the target the tick wrote, not the allocation. A hold at the allocation, written at each
    // report between ticks, undid whatever the tick had written and the balloon had not reached
    // yet, down or up: the churn the working room was blamed for. Measured with `memcoop sim`
    // (churn.ts, seed 1, off -> on): fault-stuck-balloon 513 -> 20 guest target writes, decreases
    // reversed before landing 255 of 257 -> 9 (the holds of its stuck spells), and the stuck
    // balloon found stuck, which the reversals had hidden (its target never stayed put for the
    // five ticks); paper-4vm 111 -> 75 writes, 12 of 41 decreases reversed -> none;
    // kvm-mem-mem-out 62 -> 34, 11 -> none; realistic-mixed 278 -> 234, 10 -> none; runtimes
    // equal to 0.1 s. So unless the guest's commit asks for more than the written target, the
    // prompt step keeps that target and writes nothing; a commit above the target but within the
    // allocation ends a decrease under way at the commit.
    const pendingUp = pageDown(Math.max(0, g.pendingIncreaseKiB));
    const pendingDown = pageDown(Math.max(0, g.pendingDecreaseKiB ?? 0));
    const keepTick = room && ruleOn(input.params, 'keepTickTarget');
    const written = clamp(cur + pendingUp - pendingDown, lo, hi);
    const keep = keepTick && mc <= written;
    goals[k] = keep ? written : keepTick ? mc : room ? Math.max(mc, Math.min(cur, hi)) : mc;
    const direct = keep || (keepTick && mc <= cur);
    // No "idle memory first" here (pressure.ts): it acts only while a guest is short, and a
    // prompt step sees only the guests reporting now; the tick applies it.
    steps[k] = direct ? goals[k]! : stepToward(cur, goals[k]!, upRatio, downRatio, ruleOn(input.params, 'minStep') ? MIN_STEP_KIB : 0);
    // Growth already paid for: up to the pending target, whole pages. A guest with a decrease
    // under way is heading to its written target (its balloon may be there already), so a step
    // above that target is growth from it, paid from the budget (decide.ts, "Decreases in flight").
    bases[k] = pendingDown > 0 ? cur - pendingDown : cur + pageDown(Math.max(0, g.pendingIncreaseKiB));
    wanted[k] = Math.max(0, steps[k]! - bases[k]!);
  }
  const budget = pageDown(Math.max(0, input.budgetKiB));
  const grants = shareIncreases(wanted, budget);
  let spent = 0;
  const guests = input.guests.map((g, k) => {
    spent += grants[k]!;
    const targetKiB = wanted[k]! > 0 ? bases[k]! + grants[k]! : steps[k]!;
    return { id: g.id, goalKiB: goals[k]!, targetKiB };
  });
  return { guests, budgetKiB: budget - spent };
}
