// Replays a journal: a fresh supervisor on a SimulatedClock, fed each recorded input after the
// clock is set to the input's `at`. No effects run (the default writeTarget/writeMode do
// nothing); what comes out is each tick's `decision` event and the final persisted snapshot,
// which for the same journal and policy are the same as the recorded run's.
import { createActor, SimulatedClock } from 'xstate';
import type { Logger } from '../log/logger.ts';
import { parseSupervisorConfig } from '../machines/config.ts';
import type { SupervisorInput } from '../machines/events.ts';
import { createSupervisorMachine } from '../machines/supervisor.ts';
import type { DecisionEvent, HandshakeEvent } from '../machines/writes.ts';
import type { Policy } from '../policy/types.ts';

export interface ReplayOptions {
  /** The policy the run used (default: the paper's). */
  policy?: Policy;
  logger?: Logger;
}

export interface ReplayResult {
  decisions: DecisionEvent[];
  handshakes: HandshakeEvent[];
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
  const actor = createActor(machine, { input: config, clock });
  const decisions: DecisionEvent[] = [];
  const handshakes: HandshakeEvent[] = [];
  actor.on('decision', (e) => decisions.push(e));
  actor.on('handshake', (e) => handshakes.push(e));
  actor.start();
  for (const input of inputs) {
    clock.set(input.at);
    actor.send(input);
  }
  const finalSnapshot = JSON.parse(JSON.stringify(actor.getPersistedSnapshot())) as unknown;
  actor.stop();
  return { decisions, handshakes, finalSnapshot };
}
