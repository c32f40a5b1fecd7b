// The hook that turns a safety mechanism off, for the must-fail scenarios: a scenario's
// `unsafe` block wraps whatever policy runs (memcoop's or a peer's) so that the invariant
// checker can show the mechanism is needed. The switches travel in the supervisor's config
// (config.unsafe), so a journal's header names them and a replay wraps the policy the same way. Each switch defeats one rule of invariants.ts:
//   twoPhase: false  every domain jumps straight to its goal in one tick, increases issued
//                    together with the decreases that were to fund them        -> two-phase
//   reserve: false   the policy is told the reserve is 0; the checker still holds it to the
//                    scenario's reserve                                          -> two-phase
//   dom0First: false the policy is shown Dom0 already at its need (committed = current), so
//                    guests may take what Dom0 needed                            -> dom0-first
import type { Decision, DecideInput, Policy } from './types.ts';

export interface UnsafeSwitches {
  twoPhase: boolean;
  reserve: boolean;
  dom0First: boolean;
}

export const SAFE: UnsafeSwitches = Object.freeze({ twoPhase: true, reserve: true, dom0First: true });

export function isSafe(u: UnsafeSwitches): boolean {
  return u.twoPhase && u.reserve && u.dom0First;
}

/** The policy with the switched-off mechanisms defeated (the same policy when all are on). */
export function unsafePolicy(policy: Policy, u: UnsafeSwitches): Policy {
  if (isSafe(u)) return policy;
  return (input: DecideInput): Decision => {
    let seen = input;
    if (!u.reserve) seen = { ...seen, params: { ...seen.params, reserveKiB: 0 } };
    if (!u.dom0First) seen = { ...seen, dom0: { ...seen.dom0, committedKiB: seen.dom0.currentKiB } };
    const d = policy(seen);
    if (u.twoPhase) return d;
    return {
      ...d,
      dom0: { ...d.dom0, targetKiB: d.dom0.goalKiB },
      guests: d.guests.map((g) => (g.mode === 'held' ? g : { ...g, targetKiB: g.goalKiB })),
    };
  };
}
