// Peers at their own pace. The real peers do not decide once a second: the Linux self-balloon
// driver acts every 5 s in each guest, MOM's policy engine every 10 s on 10-sample moving
// averages, qmemman whenever a guest's meminfo-writer reports a large enough change, squeezed
// every 10 s. So a peer is a machine: a PURE step from (input, time, its state) to (decision,
// next state), and pacedPolicy() turns it into the supervisor's Policy by carrying the state from
// one call to the next. The supervisor makes one instance per run (supervisor.ts policyOf), so a
// replay of the journal, which feeds the same inputs to a fresh supervisor, makes the same
// decisions. The time is the host sample's (DecideInput.atMs); the policy never reads a clock.
import type { Decision, DecideInput, GuestDecision, GuestMode, Policy } from '../types.ts';

export interface PeerMachine<S> {
  /** The state before the first call. */
  initial: S;
  /** One supervisor tick. Pure: the same input, time and state give the same answer. */
  step(input: DecideInput, atMs: number, state: S): { decision: Decision; state: S };
}

/** A caller that gives no time (memcoop decide, a test) gets one tick per call at the paper's 1 s. */
export const FALLBACK_TICK_MS = 1000;

/** The machine as a Policy that keeps its state between calls: make one per run. */
export function pacedPolicy<S>(m: PeerMachine<S>): Policy {
  let state = m.initial;
  let calls = 0;
  return (input: DecideInput): Decision => {
    const atMs = input.atMs ?? calls * FALLBACK_TICK_MS;
    calls += 1;
    const r = m.step(input, atMs, state);
    state = r.state;
    return r.decision;
  };
}

/** A small deterministic hash of a guest id into [0, n): staggers per-guest timers. */
export function idSlot(id: string, n: number): number {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  return (h >>> 0) % n;
}

/**
 * The guests' part of a decision on a tick the peer does not act: every managed guest stays at
 * the target the peer last set (or where it is, if it never set one), so nothing is written.
 */
export function holdGuests(input: DecideInput, mode: GuestMode, lastTargets: ReadonlyMap<string, number>): GuestDecision[] {
  return input.guests.map((g) => {
    if (!g.agent) return { id: g.id, mode: 'held', goalKiB: g.currentKiB, targetKiB: g.currentKiB };
    const t = lastTargets.get(g.id) ?? g.currentKiB;
    const within = Math.min(Math.max(t, g.minKiB), g.maxKiB);
    return { id: g.id, mode, goalKiB: within, targetKiB: within };
  });
}

/** Targets the decision set for managed guests, to hold them there until the peer acts again. */
export function targetsOf(decision: Decision, input: DecideInput): Map<string, number> {
  const out = new Map<string, number>();
  decision.guests.forEach((d, i) => {
    if (input.guests[i]?.agent) out.set(d.id, d.targetKiB);
  });
  return out;
}
