// Records a running supervisor: every input goes to the journal first and only then to the
// actor, so the journal holds everything the supervisor saw, in the order it saw it, and a
// replay of it (replay.ts) makes the same decisions. Everything the shell sends goes through
// here, its own effect.failed reports included.
import type { SupervisorInput } from '../vocabulary/events.ts';
import type { SupervisorActor } from '../machines/supervisor.ts';
import type { JournalWriter } from './writer.ts';

export interface Recorder {
  /**
   * Journals the input, then sends it. An input the journal refuses as malformed is not sent (it
   * throws); one the disk refuses is sent and counted in a gap.
   */
  send(input: SupervisorInput): void;
  readonly actor: SupervisorActor;
  readonly writer: JournalWriter;
}

export function createRecorder(actor: SupervisorActor, writer: JournalWriter): Recorder {
  return {
    actor,
    writer,
    send(input) {
      // false: the disk refused the line. The input still goes to the supervisor (balancing
      // must not stop when /var fills up); the writer counts it and records the gap.
      writer.append(input);
      actor.send(input);
    },
  };
}
