// The policy's input as the supervisor builds it for a tick, read from its snapshot and its guest
// machines (the same views supervisor.ts builds: lifecycle from each guest's machine, facts from
// the supervisor's context). Read just before a tick is handled, it is exactly what that tick's
// policy is given, so `memcoop explain` recomputes the decision the daemon made. The one place
// that knows how the supervisor keeps its state for this purpose: if that changes, this changes.
import type { AnyActorRef } from 'xstate';
import { participates, type GuestFacts, type GuestStateName, type Lifecycle } from '../machines/facts.ts';
import { guestStateName, type GuestSnapshot } from '../machines/guest.ts';
import { buildDecideInput, type GuestView } from '../machines/plan.ts';
import { guestSystemId, type SupervisorActor, type SupervisorContext } from '../machines/supervisor.ts';
import { withReservation } from '../policy/reservation.ts';
import type { DecideInput } from '../policy/types.ts';

/** One guest as the supervisor sees it: its machine's state and its facts. */
export interface GuestState {
  id: string;
  state: GuestStateName;
  life: Lifecycle;
  facts: GuestFacts;
}

/** Each live guest's lifecycle and facts, in the supervisor's order. */
export function guestStates(actor: Pick<SupervisorActor, 'getSnapshot' | 'system'>): GuestState[] {
  const c: SupervisorContext = actor.getSnapshot().context;
  const out: GuestState[] = [];
  c.guestIds.forEach((id, i) => {
    const ref = actor.system.get(guestSystemId(id)) as AnyActorRef | undefined;
    if (ref === undefined) return;
    const snap = ref.getSnapshot() as GuestSnapshot;
    const life: Lifecycle = { state: guestStateName(snap), unmanagedReason: snap.context.unmanagedReason, agentProtocol: snap.context.agentProtocol };
    out.push({ id, state: life.state, life, facts: c.facts[i]! });
  });
  return out;
}

/** What the policy would be given if a tick were handled now; null before the first host sample. */
export function policyInputNow(actor: Pick<SupervisorActor, 'getSnapshot' | 'system'>): TickInput | null {
  const c: SupervisorContext = actor.getSnapshot().context;
  if (c.host === null) return null;
  const views: GuestView[] = guestStates(actor).map((g) => ({
    id: g.id,
    state: g.state,
    participates: participates(g.life, g.facts),
    agentProtocol: g.life.agentProtocol,
    facts: g.facts,
  }));
  // A reservation is part of what the policy was given (served as Dom0's need).
  const writtenKiB: Record<string, number | null> = {};
  for (const v of views) writtenKiB[v.id] = v.facts.writtenTargetKiB;
  return { input: withReservation(buildDecideInput(c.config, c.host, views), c.reservedKiB), reservedKiB: c.reservedKiB, writtenKiB };
}

/** A tick's policy input, and the reservation it holds in Dom0's need. */
export interface TickInput {
  input: DecideInput;
  reservedKiB: number;
  /** Each guest's target written before this tick (null: none yet): what the deadband compares with. */
  writtenKiB: Record<string, number | null>;
}
