// Qubes OS qmemman, as a peer policy. Idea borrowed (never code) from QubesOS/qubes-core-admin
// qubes/qmemman/algo.py and systemstate.py (checked at commit 1ad5f9b8) and the guests' writer,
// QubesOS/qubes-linux-utils qmemman/meminfo-writer.c (commit 25063069):
//   - every domain that reports its memory use has a preferred size, pref = used x CACHE_FACTOR
//     (Dom0 also gets DOM0_MEM_BOOST; a domU never less than MIN_PREFMEM), capped at its max;
//   - the balance runs over xen free - XEN_FREE_MEM_LEFT, where xen free already leaves out
//     memory assigned but not yet taken (targets above a domain's allocation);
//   - when free memory covers every domain's pref ("balance_when_enough_mem"), each domain gets
//     pref plus a share of what is left in proportion to its pref; what a max cuts off is split
//     equally among the domains still below their max, again and again;
//   - otherwise ("balance_when_low_on_mem") every donor (above its pref, or at its max) is set to
//     pref, except one within DONOR_MIN_SURPLUS of it; upstream then SUBTRACTS the donors'
//     surplus from the free memory to share ("squeezed_mem -= avail"; its comment says
//     "redistribute anything left"), and shares among the acceptors only if that stays >= 0. We
//     follow the code, not the comment;
//   - nothing is written unless the change is significant ("is_balance_req_significant");
//   - do_balance sets donors first, then each acceptor once free memory (less the assigned but
//     unused) covers its increase with 0.9 x XEN_FREE_MEM_LEFT to spare; an acceptor it cannot
//     cover gets what is free above XEN_FREE_MEM_LEFT and the round stops there.
// Pace (qmemmanMachine): qmemman balances when a domain's meminfo key changes (qmemmand.py
// XSWatcher.meminfo_changed -> do_balance) or the domain list does, never on a timer. The
// meminfo-writer in each domain writes "used" only when it moved by more than
// MEMINFO_THRESHOLD_KIB (30,000 KiB, qubes-meminfo-writer.service), or by half that while
// rising above 10/13 of MemTotal.
//
// Dom0: qmemman does NOT serve Dom0 first. Dom0 is one of the balanced domains, favoured by its
// 350 MiB boost but competing with the rest; we keep that.
//
// What "used" is: the writer reports MemTotal - MemFree - Buffers - Cached + SwapTotal - SwapFree
// (page cache not counted). DecideInput carries no Buffers or Cached, so we use the tighter of two
// upper bounds on it: N - MemFree + swap used (which counts page cache as used) and Committed_AS
// (which counts commitments never touched). For Dom0 only Committed_AS is known. Guests without an
// agent report nothing: qmemman skips a domain whose mem_used is unknown, so they are held.
//
// What the simulator cannot model here: Cached and Buffers (see "used"), do_balance's 0.1 s
// waits for donors within one balance (here a balance happens at a tick, and memory a donor frees
// reaches acceptors at the next meminfo event), the writer's 0.1 s polling (it is seen at the 1 s
// tick), MEM_OVERHEAD_FACTOR (Xen's per-page structures), and the no_progress/slow_memset_react
// markers for domains that do not follow their targets.
import type { Decision, DecideInput, GuestDecision, GuestInput, Policy } from '../types.ts';
import { clamp, pageDown } from '../pages.ts';
import type { PeerMachine } from './paced.ts';

const MIB = 1024;

/** qmemman algo.py CACHE_FACTOR: pref = used x 1.3, room for the page cache. */
export const CACHE_FACTOR = 1.3;
/** qmemman algo.py MIN_PREFMEM: a domU's pref is never below 200 MiB. */
export const MIN_PREFMEM_KIB = 200 * MIB;
/** qmemman algo.py DOM0_MEM_BOOST: Dom0 needs a large cache for the guests' block devices. */
export const DOM0_MEM_BOOST_KIB = 350 * MIB;
/** qmemman algo.py balance_when_low_on_mem: a donor this close to its pref is left alone. */
export const DONOR_MIN_SURPLUS_KIB = 10 * MIB;
/** qmemman systemstate.py is_balance_req_significant MIN_TOTAL_MEMORY_TRANSFER. */
export const MIN_TOTAL_MEMORY_TRANSFER_KIB = 150 * MIB;
/** qmemman systemstate.py is_balance_req_significant MIN_MEM_CHANGE_WHEN_UNDER_PREF. */
export const MIN_MEM_CHANGE_WHEN_UNDER_PREF_KIB = 15 * MIB;

/** A domain as qmemman sees it. */
interface Dom {
  /** The target qmemman last set (last_target); the allocation if it never set one. */
  lastTarget: number;
  actual: number;
  min: number;
  max: number;
  pref: number;
}

/** qmemman's used for a guest (see the header for why this proxy). */
export function guestUsedKiB(g: GuestInput): number {
  const swapUsed = Math.max(0, g.swapTotalKiB - g.swapFreeKiB);
  const resident = Math.max(0, g.currentKiB - g.freeKiB) + swapUsed;
  return Math.max(0, Math.min(g.committedKiB, resident));
}

/** pref_mem of a domU from its used: used x CACHE_FACTOR, at most max, at least MIN_PREFMEM. */
export function prefOfGuest(usedKiB: number, minKiB: number, maxKiB: number): number {
  const pref = Math.max(Math.min(usedKiB * CACHE_FACTOR, maxKiB), MIN_PREFMEM_KIB);
  return clamp(pageDown(pref), minKiB, maxKiB);
}

/** pref_mem of Dom0: used x CACHE_FACTOR + DOM0_MEM_BOOST, at most max. */
export function prefOfDom0(usedKiB: number, minKiB: number, maxKiB: number): number {
  const pref = Math.min(usedKiB * CACHE_FACTOR + DOM0_MEM_BOOST_KIB, maxKiB);
  return clamp(pageDown(pref), minKiB, maxKiB);
}

export function guestPrefKiB(g: GuestInput): number {
  return prefOfGuest(guestUsedKiB(g), g.minKiB, g.maxKiB);
}

export function dom0PrefKiB(input: DecideInput): number {
  return prefOfDom0(Math.max(0, input.dom0.committedKiB), input.dom0.minKiB, input.dom0.maxKiB);
}

/** balance_when_enough_mem: pref plus a pref-proportional share; a max's overflow split equally. */
function balanceEnough(doms: readonly Dom[], available: number): number[] {
  const totalPref = doms.reduce((a, d) => a + d.pref, 0);
  let left = 0;
  let acceptors = 0;
  const targets = doms.map((d) => {
    const t = pageDown(0.999 * (d.pref + (totalPref > 0 ? (d.pref / totalPref) * available : 0)));
    if (t > d.max) {
      left += t - d.max;
      return d.max;
    }
    acceptors += 1;
    return t;
  });
  // Each round either caps at least one more domain or hands out everything: at most n rounds.
  while (left > 0 && acceptors > 0) {
    const bonus = pageDown(0.999 * (left / acceptors));
    if (bonus === 0) break;
    let nextLeft = 0;
    let nextAcceptors = acceptors;
    doms.forEach((d, i) => {
      const t = targets[i] ?? d.actual;
      if (t >= d.max) return;
      if (t + bonus >= d.max) {
        nextLeft += t + bonus - d.max;
        targets[i] = d.max;
        nextAcceptors -= 1;
      } else {
        targets[i] = t + bonus;
      }
    });
    left = nextLeft;
    acceptors = nextAcceptors;
  }
  return targets;
}

/** mem_info's donors: below pref's need (actual > pref) or at max. */
const isDonor = (d: Dom): boolean => d.pref - d.actual < 0 || d.actual >= d.max;

/** balance_when_low_on_mem, as upstream computes it (see the header). */
function balanceLow(doms: readonly Dom[], xenFree: number): number[] {
  let squeezed = xenFree;
  const targets = doms.map((d) => {
    if (!isDonor(d)) return d.actual;
    const avail = d.actual - d.pref;
    if (avail < DONOR_MIN_SURPLUS_KIB) return d.actual;
    squeezed -= avail;
    return d.pref;
  });
  if (squeezed < 0) return targets;
  const prefAcceptors = doms.reduce((a, d) => a + (isDonor(d) ? 0 : d.pref), 0);
  doms.forEach((d, i) => {
    if (isDonor(d) || prefAcceptors <= 0) return;
    const t = pageDown(0.999 * (d.actual + (d.pref / prefAcceptors) * squeezed));
    targets[i] = Math.min(t, d.max);
  });
  return targets;
}

/** is_balance_req_significant: small reshuffles are not worth a balloon operation. */
function significant(doms: readonly Dom[], targets: readonly number[], hostFree: number, freeLeft: number): boolean {
  if (freeLeft - hostFree > MIN_MEM_CHANGE_WHEN_UNDER_PREF_KIB) return true;
  let transfer = 0;
  for (const [i, d] of doms.entries()) {
    const change = (targets[i] ?? d.lastTarget) - d.lastTarget;
    transfer += Math.abs(change);
    if (d.lastTarget > 0 && d.lastTarget < d.pref && change > MIN_MEM_CHANGE_WHEN_UNDER_PREF_KIB) return true;
  }
  return transfer + Math.abs(hostFree - freeLeft) > MIN_TOTAL_MEMORY_TRANSFER_KIB;
}

/** systemstate.py XEN_FREE_MEM_LEFT: host memory qmemman keeps free (its own reserve). */
export const XEN_FREE_MEM_LEFT_KIB = 50 * MIB;
/** systemstate.py do_balance: an acceptor is raised once free covers it with 0.9 x the reserve left. */
export const ACCEPTOR_MARGIN = 0.9;
/** qubes-meminfo-writer.service: meminfo-writer 30000 (KiB) 100000 (us). */
export const MEMINFO_THRESHOLD_KIB = 30_000;

/**
 * One do_balance over the domains as qmemman knows them (used as last written, last targets).
 * Returns the targets to set (null: nothing significant, nothing written) and the state label.
 */
function doBalance(input: DecideInput, doms: readonly Dom[]): { targets: number[] | null; goals: number[]; enough: boolean } {
  // get_free_xen_mem: free less what was assigned and not yet taken.
  const assignedUnused = doms.reduce((a, d) => a + Math.max(0, d.lastTarget - d.actual), 0);
  const xenFree = input.host.freeKiB - assignedUnused;
  const balanceFree = xenFree - XEN_FREE_MEM_LEFT_KIB;
  const totalNeeded = doms.reduce((a, d) => a + (d.pref - d.actual), 0);
  const available = balanceFree - totalNeeded;
  const enough = available > 0;
  const goals = (enough ? balanceEnough(doms, available) : balanceLow(doms, balanceFree)).map((t, i) => {
    const d = doms[i]!;
    return clamp(t, d.min, d.max);
  });
  if (!significant(doms, goals, xenFree, XEN_FREE_MEM_LEFT_KIB)) return { targets: null, goals, enough };
  // Donors first (their decreases are set at once), then acceptors in order while free lasts.
  const targets = doms.map((d, i) => Math.min(goals[i]!, Math.max(d.actual, d.lastTarget)));
  let free = xenFree;
  for (const [i, d] of doms.entries()) {
    const goal = goals[i]!;
    if (goal <= d.actual) continue;
    const inc = goal - d.actual;
    if (free - inc >= ACCEPTOR_MARGIN * XEN_FREE_MEM_LEFT_KIB) {
      targets[i] = goal;
      free -= inc;
      continue;
    }
    // Waiting did not help: what is free above the reserve, and the round ends.
    targets[i] = clamp(pageDown(d.actual + Math.max(0, free - XEN_FREE_MEM_LEFT_KIB)), d.min, d.max);
    break;
  }
  return { targets, goals, enough };
}

function domsOf(input: DecideInput, usedOf: (id: string, fallback: number) => number, lastTargets: ReadonlyMap<string, number>): Dom[] {
  const { dom0 } = input;
  const d0Used = usedOf(DOM0_KEY, Math.max(0, dom0.committedKiB));
  return [
    { lastTarget: lastTargets.get(DOM0_KEY) ?? dom0.currentKiB, actual: dom0.currentKiB, min: dom0.minKiB, max: dom0.maxKiB, pref: prefOfDom0(d0Used, dom0.minKiB, dom0.maxKiB) },
    ...input.guests
      .filter((g) => g.agent)
      .map((g) => ({
        lastTarget: lastTargets.get(g.id) ?? g.currentKiB,
        actual: g.currentKiB,
        min: g.minKiB,
        max: g.maxKiB,
        pref: prefOfGuest(usedOf(g.id, guestUsedKiB(g)), g.minKiB, g.maxKiB),
      })),
  ];
}

const DOM0_KEY = '\u0000dom0';

function decisionOf(input: DecideInput, doms: readonly Dom[], set: readonly number[], goals: readonly number[], enough: boolean): Decision {
  let k = 1;
  const guests: GuestDecision[] = input.guests.map((g) => {
    if (!g.agent) return { id: g.id, mode: 'held', goalKiB: g.currentKiB, targetKiB: g.currentKiB };
    const i = k++;
    return { id: g.id, mode: 'global', goalKiB: goals[i] ?? g.currentKiB, targetKiB: set[i] ?? g.currentKiB };
  });
  return {
    state: enough ? 'abundant' : 'scarce',
    overcommitted: false,
    price: null,
    dom0: { goalKiB: goals[0] ?? input.dom0.currentKiB, targetKiB: set[0] ?? input.dom0.currentKiB, reclaimKiB: 0 },
    guests,
  };
}

/** One balance on this input alone, as if every domain had just written its meminfo. */
export const qmemman: Policy = (input: DecideInput): Decision => {
  const doms = domsOf(input, (_id, used) => used, new Map());
  const r = doBalance(input, doms);
  return decisionOf(input, doms, r.targets ?? doms.map((d) => d.actual), r.goals, r.enough);
};

export interface QmemmanState {
  /** "used" as each domain's meminfo-writer last wrote it. */
  written: ReadonlyMap<string, number>;
  /** The targets qmemman last set (last_target). */
  targets: ReadonlyMap<string, number>;
}

/** meminfo-writer.c: whether a new "used" is written (a change big enough, or the first one). */
export function writerWrites(prev: number | undefined, used: number, memTotalKiB: number): boolean {
  if (prev === undefined || prev === 0) return true;
  const diff = Math.abs(used - prev);
  if (diff > MEMINFO_THRESHOLD_KIB) return true;
  return used > prev && used / 10 > (memTotalKiB + 12) / 13 && diff > MEMINFO_THRESHOLD_KIB / 2;
}

/**
 * qmemman driven by events: a balance runs only on a tick where some domain's writer wrote a new
 * "used" or a domain came or went; otherwise every target stays where qmemman last set it.
 */
export const qmemmanMachine: PeerMachine<QmemmanState> = {
  initial: { written: new Map(), targets: new Map() },
  step(input, _atMs, state) {
    const written = new Map<string, number>();
    let event = false;
    const see = (id: string, used: number, memTotal: number): void => {
      const prev = state.written.get(id);
      if (writerWrites(prev, used, memTotal)) {
        written.set(id, used);
        event = true;
      } else written.set(id, prev ?? used);
    };
    see(DOM0_KEY, Math.max(0, input.dom0.committedKiB), input.dom0.currentKiB);
    for (const g of input.guests) if (g.agent) see(g.id, guestUsedKiB(g), g.currentKiB);
    // A domain gone (or no longer reporting) is a domain-list change too.
    for (const id of state.written.keys()) if (!written.has(id)) event = true;
    const doms = domsOf(input, (id, used) => written.get(id) ?? used, state.targets);
    const r = event ? doBalance(input, doms) : null;
    const set = r?.targets ?? doms.map((d) => Math.min(Math.max(d.lastTarget, d.min), d.max));
    const targets = new Map<string, number>([[DOM0_KEY, set[0]!]]);
    input.guests.filter((g) => g.agent).forEach((g, k) => targets.set(g.id, set[k + 1]!));
    const decision = decisionOf(input, doms, set, r?.goals ?? set, r?.enough ?? true);
    return { decision, state: { written, targets } };
  },
};
