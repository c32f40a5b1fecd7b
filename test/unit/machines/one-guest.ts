// One guest as the supervisor drives it, as a pure step (not a test file itself): its facts
// (src/machines/facts.ts) and its machine's snapshot, moved by the supervisor's own per-guest
// handlers (helloGuest, reportGuest, planTick, tickGuest; facts.ts's applyAllocation and
// applyEffectFailed) and by xstate's pure `transition` for the events those send the machine. The supervisor
// itself is tested in supervisor.test.ts; this isolates one guest for unit and model-based tests.
import { initialTransition, transition } from 'xstate';
import {
  applyAllocation,
  applyEffectFailed,
  newFacts,
  participates,
  tickGuest,
  type GuestFacts,
  type GuestLimits,
  type Lifecycle,
} from '../../../src/machines/facts.ts';
import { createGuestMachine, guestStateName, type GuestEvent, type GuestSnapshot } from '../../../src/machines/guest.ts';
import { PROTOCOL_VERSION, type ReportFields } from '../../../src/vocabulary/events.ts';
import { planTick } from '../../../src/machines/plan.ts';
import { helloGuest, reportGuest, withAt } from '../../../src/machines/handlers.ts';
import type { Decision } from '../../../src/policy/types.ts';
import type { Mode } from '../../../src/vocabulary/mode.ts';

export const MIB = 1024;

export interface OneGuest {
  snap: GuestSnapshot;
  facts: GuestFacts;
  /** The supervisor's tick count. */
  ticks: number;
}

export type Step =
  | { type: 'hello'; selfAdjust: boolean; protocol?: number }
  | { type: 'report'; report: ReportFields }
  | { type: 'allocation'; currentKiB: number }
  /** A tick whose decision gives this guest `mode` and `targetKiB` if it takes part (else it is held). */
  | { type: 'tick'; mode: Exclude<Mode, 'held'>; targetKiB: number }
  | { type: 'effectFailed'; effect: 'setTarget' | 'setMode' }
  | { type: 'left' };

export const machine = createGuestMachine();

export function lifecycle(s: GuestSnapshot): Lifecycle {
  return { state: guestStateName(s), unmanagedReason: s.context.unmanagedReason, agentProtocol: s.context.agentProtocol };
}

export function start(g: { id: string; domid: number; minKiB: number; maxKiB: number; currentKiB: number; shares: number }): OneGuest {
  const [snap] = initialTransition(machine, { id: g.id, domid: g.domid });
  return { snap, facts: newFacts(g, 0), ticks: 0 };
}

/** One input for this guest; `sent` lists the events its machine got (only lifecycle changes). */
export function step(s: OneGuest, e: Step, limits: GuestLimits): { next: OneGuest; sent: GuestEvent[] } {
  const life = lifecycle(s.snap);
  const sent: GuestEvent[] = [];
  let facts = s.facts;
  let ticks = s.ticks;
  switch (e.type) {
    case 'hello': {
      const out = helloGuest(facts, life, { at: 0, id: facts.id, protocol: e.protocol ?? PROTOCOL_VERSION, selfAdjust: e.selfAdjust }, ticks);
      sent.push(out.event);
      facts = out.facts;
      break;
    }
    case 'report': {
      const out = reportGuest(facts, life, e.report, 0, ticks);
      facts = out.facts;
      if (out.event) sent.push(out.event);
      break;
    }
    case 'allocation':
      facts = applyAllocation(facts, e.currentKiB);
      break;
    case 'effectFailed':
      facts = applyEffectFailed(facts, e.effect);
      break;
    case 'left':
      sent.push({ type: 'left', at: 0 });
      break;
    case 'tick': {
      const takesPart = participates(life, facts);
      const target = takesPart ? e.targetKiB : facts.currentKiB; // a held guest is held where it is
      const decision: Decision = {
        state: e.mode === 'self' ? 'abundant' : 'scarce',
        overcommitted: false,
        price: null,
        dom0: { goalKiB: 0, targetKiB: 0, reclaimKiB: e.mode === 'reclaim' ? 4 : 0 },
        guests: [{ id: facts.id, mode: takesPart ? (e.mode === 'self' ? 'self' : 'global') : 'held', goalKiB: target, targetKiB: target }],
      };
      const view = { id: facts.id, state: life.state, participates: takesPart, agentProtocol: life.agentProtocol, facts };
      const plan = planTick(decision, [view], { at: 0, freeKiB: 0, dom0: { currentKiB: 0, committedKiB: 0 } }, 0);
      ticks += 1;
      const out = tickGuest(facts, life, plan.outcomes[0]!, ticks, limits);
      facts = out.facts;
      for (const sig of out.signals) sent.push(withAt(sig, 0));
      break;
    }
  }
  let snap = s.snap;
  for (const ev of sent) [snap] = transition(machine, snap, ev);
  return { next: { snap, facts, ticks }, sent };
}
