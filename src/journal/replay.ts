// Replays a journal: a fresh supervisor on a SimulatedClock, fed each recorded input after the
// clock is set to the input's `at`. No effects run (the default writeTarget/writeMode do
// nothing); what comes out is each tick's `decision` event, each prompt `selfStep`, and the final
// persisted snapshot, which for the same journal are the same as the recorded run's. The policy
// is the one the header's config names (config.policy), unless the caller gives one.
import { createActor, SimulatedClock, type InspectionEvent, type Observer } from 'xstate';
import type { Logger } from '../log/logger.ts';
import { parseSupervisorConfig } from '../vocabulary/config.ts';
import type { SupervisorInput } from '../vocabulary/events.ts';
import { createSupervisorMachine } from '../machines/supervisor.ts';
import type { DecisionEvent, HandshakeEvent, SelfStepEvent } from '../vocabulary/writes.ts';
import type { Policy } from '../policy/types.ts';

export interface ReplayOptions {
  /** The policy the run used (default: the one header.config.policy names). */
  policy?: Policy;
  logger?: Logger;
  /** The actor system's inspection events (--inspect): the same transitions the run made. */
  inspect?: Observer<InspectionEvent>;
}

export interface ReplayResult {
  decisions: DecisionEvent[];
  selfSteps: SelfStepEvent[];
  handshakes: HandshakeEvent[];
  /** Decisions and self steps together, in the order the supervisor emitted them. */
  steps: (DecisionEvent | SelfStepEvent)[];
  /** actor.getPersistedSnapshot() after the last input: plain JSON. */
  finalSnapshot: unknown;
}

/**
 * Feeds `inputs` into a fresh supervisor configured by `header.config` (checked by
 * parseSupervisorConfig: throws InputError naming the field when it is bad).
 */
export function replay(
  header: { startedAt?: number; config: unknown },
  inputs: readonly SupervisorInput[],
  opts: ReplayOptions = {},
): ReplayResult {
  const config = parseSupervisorConfig(header.config, 'header.config');
  const clock = new SimulatedClock();
  clock.set(header.startedAt ?? 0);
  const machine = createSupervisorMachine({
    ...(opts.policy ? { policy: opts.policy } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
  const actor = createActor(machine, { input: config, clock, ...(opts.inspect ? { inspect: opts.inspect } : {}) });
  const decisions: DecisionEvent[] = [];
  const handshakes: HandshakeEvent[] = [];
  const selfSteps: SelfStepEvent[] = [];
  const steps: (DecisionEvent | SelfStepEvent)[] = [];
  actor.on('decision', (e) => (decisions.push(e), steps.push(e)));
  actor.on('selfStep', (e) => (selfSteps.push(e), steps.push(e)));
  actor.on('handshake', (e) => handshakes.push(e));
  actor.start();
  for (const input of inputs) {
    clock.set(input.at);
    actor.send(input);
  }
  const finalSnapshot = JSON.parse(JSON.stringify(actor.getPersistedSnapshot())) as unknown;
  actor.stop();
  return { decisions, selfSteps, handshakes, steps, finalSnapshot };
}
