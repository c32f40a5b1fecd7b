// The invariants every scenario is checked against, once per tick, as a pure function of two
// consecutive snapshots (the one before this tick's requests were applied, and the one after).
//   over-allocated  Dom0 + every guest's actual allocation <= host total.
//   guest-bounds    no guest's target or actual allocation outside [min, max].
//   dom0-bounds     Dom0's target inside [min, max].
//   dom0-first      no guest's target rises while Dom0 is below its need (clamped Committed_AS)
//                   and what is free after the reserve and those increases cannot cover it.
//   two-phase       the increases requested this tick fit in what is free at that instant after
//                   the reserve: decreases must land before the memory they release is handed
//                   out (a decrease requested in the same tick frees nothing yet).
// A scenario that turns a safety mechanism off (scenario `unsafe`, see src/policy/unsafe.ts) must make one
// of these fail; `expect.violations` names which.
import { PAGE_KIB } from '../hosts/sim/constants.ts';
import { hostFreeKiB, type SimState } from '../hosts/sim/state.ts';

export const INVARIANT_RULES = ['over-allocated', 'guest-bounds', 'dom0-bounds', 'dom0-first', 'two-phase'] as const;
export type InvariantRule = (typeof INVARIANT_RULES)[number];

export interface Violation {
  at: number;
  rule: InvariantRule;
  /** The guest (or 'dom0') concerned, when one is. */
  id?: string;
  detail: string;
}

export interface DomainSnapshot {
  id: string;
  actualKiB: number;
  /** null: no target written yet. */
  targetKiB: number | null;
  minKiB: number;
  maxKiB: number;
}

/** What the checker needs of the host at one instant. */
export interface Snapshot {
  at: number;
  hostTotalKiB: number;
  dom0: DomainSnapshot & { committedKiB: number };
  /** Live guests only. */
  guests: DomainSnapshot[];
}

export interface InvariantOptions {
  /** Host memory the policy must leave free (the policy's reserveKiB). */
  reserveKiB: number;
}

export function snapshotOf(s: SimState): Snapshot {
  return {
    at: s.atMs,
    hostTotalKiB: s.hostTotalKiB,
    dom0: {
      id: 'dom0',
      actualKiB: s.dom0.balloon.actualKiB,
      targetKiB: s.dom0.balloon.targetKiB,
      minKiB: s.dom0.config.minKiB,
      maxKiB: s.dom0.config.maxKiB,
      committedKiB: s.dom0.committedKiB,
    },
    guests: s.guests
      .filter((g) => g.status === 'running')
      .map((g) => ({ id: g.config.id, actualKiB: g.balloon.actualKiB, targetKiB: g.balloon.targetKiB, minKiB: g.config.minKiB, maxKiB: g.config.maxKiB })),
  };
}

export function freeOf(s: Snapshot): number {
  return s.hostTotalKiB - s.dom0.actualKiB - s.guests.reduce((a, g) => a + g.actualKiB, 0);
}

/** Dom0's need: its Committed_AS clamped to its bounds, whole pages (as the policy reads it). */
function dom0Need(d: Snapshot['dom0']): number {
  const c = Math.ceil(d.committedKiB / PAGE_KIB) * PAGE_KIB;
  return Math.min(Math.max(c, d.minKiB), d.maxKiB);
}

/** How much a domain's request this tick asks the hypervisor for: target above actual, if the target rose. */
function raise(prev: DomainSnapshot | undefined, cur: DomainSnapshot): number {
  if (cur.targetKiB === null) return 0;
  const before = prev?.targetKiB ?? prev?.actualKiB ?? cur.actualKiB;
  if (cur.targetKiB <= before) return 0;
  return Math.max(0, cur.targetKiB - cur.actualKiB);
}

/**
 * Checks `cur` (after this tick's requests) against the rules; `prev` is the previous tick's
 * `cur` (null on the first tick). Pure.
 */
export function checkInvariants(prev: Snapshot | null, cur: Snapshot, opts: InvariantOptions): Violation[] {
  const out: Violation[] = [];
  const at = cur.at;
  const free = freeOf(cur);
  if (free < 0) {
    out.push({ at, rule: 'over-allocated', detail: `Dom0 ${cur.dom0.actualKiB} + guests ${cur.hostTotalKiB - cur.dom0.actualKiB - free} KiB > host ${cur.hostTotalKiB} KiB` });
  }
  for (const g of cur.guests) {
    if (g.actualKiB < g.minKiB || g.actualKiB > g.maxKiB) {
      out.push({ at, rule: 'guest-bounds', id: g.id, detail: `allocation ${g.actualKiB} KiB outside [${g.minKiB}, ${g.maxKiB}]` });
    }
    if (g.targetKiB !== null && (g.targetKiB < g.minKiB || g.targetKiB > g.maxKiB)) {
      out.push({ at, rule: 'guest-bounds', id: g.id, detail: `target ${g.targetKiB} KiB outside [${g.minKiB}, ${g.maxKiB}]` });
    }
  }
  const d = cur.dom0;
  if (d.targetKiB !== null && (d.targetKiB < d.minKiB || d.targetKiB > d.maxKiB)) {
    out.push({ at, rule: 'dom0-bounds', id: 'dom0', detail: `target ${d.targetKiB} KiB outside [${d.minKiB}, ${d.maxKiB}]` });
  }

  const prevGuests = new Map((prev?.guests ?? []).map((g) => [g.id, g]));
  const guestRaises = cur.guests.map((g) => ({ id: g.id, kib: raise(prevGuests.get(g.id), g) })).filter((r) => r.kib > 0);
  const dom0Raise = raise(prev?.dom0, d);
  const raised = guestRaises.reduce((a, r) => a + r.kib, 0) + dom0Raise;
  const spare = free - opts.reserveKiB;
  if (raised > 0 && raised > spare) {
    out.push({
      at,
      rule: 'two-phase',
      detail: `increases of ${raised} KiB requested (${[...guestRaises.map((r) => `${r.id} +${r.kib}`), ...(dom0Raise > 0 ? [`dom0 +${dom0Raise}`] : [])].join(', ')}) with ${free} KiB free and a ${opts.reserveKiB} KiB reserve`,
    });
  }
  if (guestRaises.length > 0) {
    const unmet = dom0Need(d) - (d.targetKiB ?? d.actualKiB);
    const guestSum = raised - dom0Raise;
    if (unmet > 0 && spare - guestSum < unmet) {
      out.push({ at, rule: 'dom0-first', id: 'dom0', detail: `guests raised by ${guestSum} KiB while Dom0 is ${unmet} KiB short of its need and ${spare} KiB is spare` });
    }
  }
  return out;
}
