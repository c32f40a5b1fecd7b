// One tick of Algorithm 1 around the policy, pure: what the policy is asked (from the latest host
// sample and each guest's facts) and what follows from its answer (each guest's new mode, and the
// mode and target writes, decreases before increases). The supervisor reads its facts and the
// guests' lifecycles, calls these and enqueues the result.
import type { Mode } from '../vocabulary/mode.ts';
import { orderWrites } from '../policy/steps.ts';
import type { DecideInput, Decision, GuestDecision, GuestInput as PolicyGuest, Policy } from '../policy/types.ts';
import type { SupervisorConfig } from '../vocabulary/config.ts';
import { PROTOCOL_VERSION } from '../vocabulary/events.ts';
import { modeOfState, type GuestFacts, type GuestStateName, type TickOutcome } from './facts.ts';
import { DOM0_ID, type Write } from '../vocabulary/writes.ts';

/**
 * The write deadband: a target that moves less than 1 MiB from the last one written is not
 * written (beyond the paper). In the scarce state the balance's goals shift by a few pages every
 * tick as the guests' commits do, and each such write is a XenStore write (or a QMP balloon
 * command) that wakes the guest's balloon driver for memory no workload notices: on paper-4vm
 * 84 % of the tick's target writes moved a guest by less than 1 MiB. 1 MiB is the balloon's
 * own slack (DEFAULT_BALLOON_SLACK_KIB, config.ts: Xen caps a domain at its creation size +
 * 1 MiB, docs/measurements.md section 3), so a target within it of the last one is as close as a balloon
 * lands anyway. Peers ignore more: qmemman skips per-domain changes under 15 MiB, squeezed
 * stops within 512 KiB-1 MiB of its target. We stay at the slack, and Dom0 while it is served is
 * always written. A change that lands on the goal is held back too: in the scarce state the
 * goals themselves drift by a few pages a tick, and a guest within the balloon's own slack of its
 * goal is there. Measured (simulator, --fast, seed 1), tick target writes and runtime: paper-4vm
 * 1,342 -> 239, 1928.2 -> 1916.1 s; paper-memory-memory 232 -> 206, 416.7 -> 416.8 s. (Exempting
 * a change that reaches the goal kept 704 sub-MiB writes on paper-4vm, all onto drifting goals.)
 */
export const MIN_TARGET_CHANGE_KIB = 1024;

/**
 * Whether a target change is too small to write (the deadband, MIN_TARGET_CHANGE_KIB). Held back
 * only when leaving the last written target in place is safe: it is within [minKiB, maxKiB],
 * and it would not grow the guest past this tick's target (a target above the allocation and
 * above the new one would take memory the policy did not grant; such a change is written). Never
 * held back: a first target.
 */
export function withinDeadband(
  targetKiB: number,
  goalKiB: number,
  writtenKiB: number | null,
  currentKiB: number,
  minKiB: number,
  maxKiB: number,
  deadbandKiB: number = MIN_TARGET_CHANGE_KIB,
): boolean {
  if (writtenKiB === null) return false;
  if (Math.abs(targetKiB - writtenKiB) >= deadbandKiB) return false;
  if (writtenKiB < minKiB || writtenKiB > maxKiB) return false;
  return !(writtenKiB > targetKiB && writtenKiB > currentKiB);
}

/** Dom0 and host free memory, from the latest host.sample. */
export interface HostFacts {
  at: number;
  freeKiB: number;
  dom0: { currentKiB: number; committedKiB: number };
}

/** What the tick needs to know of one guest: its lifecycle (from its machine) and its facts. */
export interface GuestView {
  id: string;
  state: GuestStateName;
  /** Registered, managed, with a report: takes part in the balance (agent: true). */
  participates: boolean;
  /** The protocol the agent announced; null before any hello (no mode is written before one). */
  agentProtocol: number | null;
  facts: GuestFacts;
}

/** The policy's input: guests that do not take part are held (agent: false) and counted as fully used. */
export function buildDecideInput(config: SupervisorConfig, host: HostFacts, guests: readonly GuestView[]): DecideInput {
  return {
    params: config.params,
    host: { freeKiB: host.freeKiB },
    atMs: host.at,
    dom0: {
      currentKiB: host.dom0.currentKiB,
      committedKiB: host.dom0.committedKiB,
      minKiB: config.dom0.minKiB,
      maxKiB: config.dom0.maxKiB,
    },
    guests: guests.map((g): PolicyGuest => {
      const c = g.facts;
      const r = g.participates ? c.report : null;
      return {
        id: g.id,
        minKiB: c.minKiB,
        maxKiB: c.maxKiB,
        currentKiB: c.currentKiB,
        committedKiB: r?.committedKiB ?? c.currentKiB,
        freeKiB: r?.freeKiB ?? 0,
        swapTotalKiB: r?.swapTotalKiB ?? 0,
        swapFreeKiB: r?.swapFreeKiB ?? 0,
        shares: c.shares,
        agent: g.participates,
        ...(r?.psiSomeAvg10 === undefined ? {} : { psiSomeAvg10: r.psiSomeAvg10 }),
        ...(r?.swapInsKiB === undefined ? {} : { swapInsKiB: r.swapInsKiB }),
        ...(r?.availableKiB === undefined ? {} : { availableKiB: r.availableKiB }),
        ...(g.participates && c.writtenTargetKiB !== null && c.writtenTargetKiB > c.currentKiB ? { pendingIncreaseKiB: c.writtenTargetKiB - c.currentKiB } : {}),
        ...(g.participates && c.writtenTargetKiB !== null && c.writtenTargetKiB < c.currentKiB ? { pendingDecreaseKiB: c.currentKiB - c.writtenTargetKiB } : {}),
      };
    }),
  };
}

export interface TickPlan {
  /** Mode writes first, then target writes: decreases, holds, increases (Dom0 first within each). */
  writes: Write[];
  /** One per guest, in the order of the `guests` given. */
  outcomes: TickOutcome[];
  /** Dom0's target written this tick, or null if unchanged. */
  dom0TargetKiB: number | null;
}

/** The mode a participating guest takes from the decision; null: it stays as it is. */
export function decidedMode(d: GuestDecision, decision: Decision): Exclude<Mode, 'held'> | null {
  if (d.mode === 'held') return null;
  if (d.mode === 'global' && decision.dom0.reclaimKiB > 0) return 'reclaim';
  return d.mode;
}

/**
 * From a decision to writes. Modes: written whenever the mode the guest should have (from the
 * decision if it took part, else from its state) differs from the last one written, and only to
 * guests whose agent has said hello. Targets: written when they differ from the last written
 * by the deadband or more (withinDeadband), only to guests that take part or that memcoop has
 * managed before (a guest never touched is left alone); Dom0's likewise, but whenever it changes
 * while Dom0 is served (growing, or reclaiming from the guests): its own growth is never delayed.
 */
export function planTick(
  decision: Decision,
  guests: readonly GuestView[],
  host: HostFacts,
  dom0WrittenTargetKiB: number | null,
  deadbandKiB: number = MIN_TARGET_CHANGE_KIB,
): TickPlan {
  const byId = new Map(decision.guests.map((d) => [d.id, d]));
  const modeWrites: Write[] = [];
  const outcomes: TickOutcome[] = new Array(guests.length);
  const moves: TargetMove<string>[] = [];

  let dom0TargetKiB: number | null = null;
  const d0 = decision.dom0;
  const dom0Served = d0.targetKiB > host.dom0.currentKiB || d0.reclaimKiB > 0 || decision.overcommitted;
  if (
    d0.targetKiB !== dom0WrittenTargetKiB &&
    // Not served, Dom0 is held back only where it would shrink less than asked (the last written
    // target between the new one and its allocation): never below the policy's target, so never
    // below its minimum, which planTick does not see.
    (dom0Served || !withinDeadband(d0.targetKiB, d0.goalKiB, dom0WrittenTargetKiB, host.dom0.currentKiB, d0.targetKiB, Number.MAX_SAFE_INTEGER, deadbandKiB))
  ) {
    dom0TargetKiB = decision.dom0.targetKiB;
    moves.push({ id: DOM0_ID, fromKiB: host.dom0.currentKiB, toKiB: dom0TargetKiB });
  }

  for (let i = 0; i < guests.length; i++) {
    const g = guests[i]!;
    const c = g.facts;
    const d: GuestDecision = byId.get(g.id) ?? { id: g.id, mode: 'held', goalKiB: c.currentKiB, targetKiB: c.currentKiB };
    const mode = g.participates ? decidedMode(d, decision) : null;
    const shouldHave = mode ?? modeOfState(g.state);
    let wroteMode: Mode | null = null;
    if (g.agentProtocol !== null && shouldHave !== null && shouldHave !== c.writtenMode) {
      wroteMode = shouldHave;
      modeWrites.push({ kind: 'mode', id: g.id, mode: shouldHave, protocol: PROTOCOL_VERSION });
    }
    let wroteTargetKiB: number | null = null;
    if (
      // A guest left out of the balance (stuck, unmanaged) is held where it is once; if even
      // that write failed, it is not pressed again every tick (it will be when it takes part).
      (g.participates || (c.touched && !c.targetWriteFailed)) &&
      d.targetKiB !== c.writtenTargetKiB &&
      !withinDeadband(d.targetKiB, d.goalKiB, c.writtenTargetKiB, c.currentKiB, c.minKiB, c.maxKiB, deadbandKiB)
    ) {
      wroteTargetKiB = d.targetKiB;
      moves.push({ id: g.id, fromKiB: c.currentKiB, toKiB: d.targetKiB });
    }
    outcomes[i] = { mode, goalKiB: d.goalKiB, targetKiB: d.targetKiB, wroteMode, wroteTargetKiB };
  }

  const targetWrites: Write[] = orderTargetWrites(moves).map((w) => ({ kind: 'target', id: w.id, targetKiB: w.toKiB, fromKiB: w.fromKiB }));

  return { writes: [...modeWrites, ...targetWrites], outcomes, dom0TargetKiB };
}

/** A target to write: `id` moves from its allocation fromKiB to toKiB. */
export interface TargetMove<K> {
  id: K;
  fromKiB: number;
  toKiB: number;
}

/**
 * The order target writes go out in, for the tick and the prompt self step alike: decreases
 * before increases (the policy's own ordering, orderWrites), so memory is handed back before it
 * is handed out; a hold (target = allocation: stop a balloon where it is) gives nothing and takes
 * nothing, so it goes between. Each group keeps the order of `moves` (Dom0 first if it is first).
 */
export function orderTargetWrites<K>(moves: readonly TargetMove<K>[]): TargetMove<K>[] {
  const current = new Map<K, number>();
  const targets = new Map<K, number>();
  for (const m of moves) {
    current.set(m.id, m.fromKiB);
    targets.set(m.id, m.toKiB);
  }
  const moving = orderWrites(current, targets);
  const firstIncrease = moving.findIndex((w) => w.direction === 'increase');
  const split = firstIncrease < 0 ? moving.length : firstIncrease;
  const holds = moves.filter((m) => m.toKiB === m.fromKiB).map((m) => ({ id: m.id, fromKiB: m.toKiB, toKiB: m.toKiB }));
  return [...moving.slice(0, split), ...holds, ...moving.slice(split)].map((w) => ({ id: w.id, fromKiB: w.fromKiB, toKiB: w.toKiB }));
}

/** Runs the policy; a policy that throws costs this tick, not the daemon. */
export function runPolicy(policy: Policy, input: DecideInput): { decision: Decision } | { error: string } {
  try {
    return { decision: policy(input) };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}
