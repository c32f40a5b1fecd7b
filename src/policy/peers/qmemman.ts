// Qubes OS qmemman, as a peer policy. Idea borrowed (never code) from QubesOS/qubes-core-admin
// qubes/qmemman/algo.py and systemstate.py:
//   - every domain that reports its memory use has a preferred size, pref = used x CACHE_FACTOR
//     (Dom0 also gets DOM0_MEM_BOOST; a domU never less than MIN_PREFMEM), capped at its max;
//   - when free memory covers every domain's pref ("balance_when_enough_mem"), each domain gets
//     pref plus a share of what is left in proportion to its pref; what a max cuts off is split
//     equally among the domains still below their max, again and again;
//   - otherwise ("balance_when_low_on_mem") every domain above its pref (a donor) is set to pref,
//     except one that is within DONOR_MIN_SURPLUS of it, and free memory plus what the donors give
//     is shared among the others (acceptors) in proportion to their pref;
//   - nothing is written unless the change is significant ("is_balance_req_significant").
//
// Dom0: qmemman does NOT serve Dom0 first. Dom0 is one of the balanced domains, favoured by its
// 350 MiB boost but competing with the rest; we keep that. The common safety step still funds
// Dom0's increase first within the tick's free memory, as it does for every peer.
//
// What "used" is: qmemman's agent (qubes-linux-utils qmemman/meminfo-writer.c) reports
// MemTotal - MemFree - Buffers - Cached + SwapTotal - SwapFree. DecideInput carries no Buffers or
// Cached, so we use the tighter of two upper bounds on it: N - MemFree + swap used (which counts
// page cache as used) and Committed_AS (which counts commitments never touched). For Dom0 only
// Committed_AS is known. Guests without an agent report nothing: qmemman skips a domain whose
// mem_used is unknown, so they are held.
import type { Decision, DecideInput, GuestInput, Policy } from '../types.ts';
import { clamp, pageDown } from '../pages.ts';
import { dom0Overcommitted, fund, guestDecisions, spareKiB, type Want } from './safety.ts';

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

export function guestPrefKiB(g: GuestInput): number {
  const pref = Math.max(Math.min(guestUsedKiB(g) * CACHE_FACTOR, g.maxKiB), MIN_PREFMEM_KIB);
  return clamp(pageDown(pref), g.minKiB, g.maxKiB);
}

export function dom0PrefKiB(input: DecideInput): number {
  const d = input.dom0;
  const pref = Math.min(Math.max(0, d.committedKiB) * CACHE_FACTOR + DOM0_MEM_BOOST_KIB, d.maxKiB);
  return clamp(pageDown(pref), d.minKiB, d.maxKiB);
}

/** balance_when_enough_mem: pref plus a pref-proportional share; a max's overflow split equally. */
function balanceEnough(doms: readonly Dom[], available: number): number[] {
  const totalPref = doms.reduce((a, d) => a + d.pref, 0);
  let left = 0;
  let acceptors = 0;
  const targets = doms.map((d) => {
    const t = pageDown(d.pref + (totalPref > 0 ? (d.pref / totalPref) * available : 0));
    if (t > d.max) {
      left += t - d.max;
      return d.max;
    }
    acceptors += 1;
    return t;
  });
  // Each round either caps at least one more domain or hands out everything: at most n rounds.
  while (left > 0 && acceptors > 0) {
    const bonus = pageDown(left / acceptors);
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

/**
 * balance_when_low_on_mem: donors to pref, the freed memory and host free memory shared among
 * acceptors by pref. Deliberate deviation: upstream subtracts each donor's surplus from the
 * amount to share ("squeezed_mem -= avail"), while its own comment says "redistribute anything
 * left between acceptors"; we follow the comment and add it. The safety step caps what acceptors
 * actually get this tick at the free memory anyway.
 */
function balanceLow(doms: readonly Dom[], xenFree: number): number[] {
  const isDonor = (d: Dom): boolean => d.pref - d.actual < 0 || d.actual >= d.max;
  let squeezed = xenFree;
  const targets = doms.map((d) => {
    if (!isDonor(d)) return d.actual;
    const avail = d.actual - d.pref;
    if (avail < DONOR_MIN_SURPLUS_KIB) return d.actual;
    squeezed += avail;
    return d.pref;
  });
  if (squeezed < 0) return targets;
  const prefAcceptors = doms.reduce((a, d) => a + (isDonor(d) ? 0 : d.pref), 0);
  doms.forEach((d, i) => {
    if (isDonor(d) || prefAcceptors <= 0) return;
    const t = pageDown(d.actual + (d.pref / prefAcceptors) * squeezed);
    targets[i] = Math.min(t, d.max);
  });
  return targets;
}

/** is_balance_req_significant: small reshuffles are not worth a balloon operation. */
function significant(doms: readonly Dom[], targets: readonly number[], hostFree: number, freeLeft: number): boolean {
  if (freeLeft - hostFree > MIN_MEM_CHANGE_WHEN_UNDER_PREF_KIB) return true;
  let transfer = 0;
  for (const [i, d] of doms.entries()) {
    const change = (targets[i] ?? d.actual) - d.actual;
    transfer += Math.abs(change);
    if (d.actual > 0 && d.actual < d.pref && change > MIN_MEM_CHANGE_WHEN_UNDER_PREF_KIB) return true;
  }
  return transfer + Math.abs(hostFree - freeLeft) > MIN_TOTAL_MEMORY_TRANSFER_KIB;
}

export const qmemman: Policy = (input: DecideInput): Decision => {
  const { dom0 } = input;
  // systemstate.py balances over xen free - XEN_FREE_MEM_LEFT; our reserve plays that part, and,
  // as in qmemman, it may be negative (the balance then takes memory back).
  const xenFree = input.host.freeKiB - input.params.reserveKiB;
  const managed = input.guests.filter((g) => g.agent);
  const doms: Dom[] = [
    { actual: dom0.currentKiB, min: dom0.minKiB, max: dom0.maxKiB, pref: dom0PrefKiB(input) },
    ...managed.map((g) => ({ actual: g.currentKiB, min: g.minKiB, max: g.maxKiB, pref: guestPrefKiB(g) })),
  ];
  const totalNeeded = doms.reduce((a, d) => a + (d.pref - d.actual), 0);
  const available = xenFree - totalNeeded;
  const enough = available > 0;
  const goals = (enough ? balanceEnough(doms, available) : balanceLow(doms, xenFree)).map((t, i) => {
    const d = doms[i];
    return d === undefined ? t : clamp(t, d.min, d.max);
  });
  // Below the threshold the goals still say where qmemman would go, but nothing is written.
  const act = significant(doms, goals, input.host.freeKiB, input.params.reserveKiB);

  const wants: Want[] = doms.map((d, i) => ({
    currentKiB: d.actual,
    minKiB: d.min,
    maxKiB: d.max,
    wantKiB: act ? (goals[i] ?? d.actual) : d.actual,
  }));
  const [dom0Want, ...guestWants] = wants;
  if (dom0Want === undefined) throw new Error('unreachable: Dom0 is always balanced');
  const spare = spareKiB(input);
  const funded = fund(spare, dom0Want, guestWants);

  // Managed guests are doms[1..], in input order.
  const guests = guestDecisions(input, 'global', goals.slice(1), funded.guestTargetsKiB);
  const dom0Goal = goals[0] ?? dom0.currentKiB;
  return {
    state: enough ? 'abundant' : 'scarce',
    overcommitted: dom0Overcommitted(spare, dom0Goal - dom0.currentKiB, guestWants),
    price: null,
    dom0: { goalKiB: dom0Goal, targetKiB: funded.dom0TargetKiB, reclaimKiB: 0 },
    guests,
  };
};
