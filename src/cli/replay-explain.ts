// memcoop replay JOURNAL --explain --at TIME [GUEST]: the journal fed to a fresh supervisor (as
// `memcoop replay` does) up to the first tick at or after TIME, and that tick's decision
// explained with the same text as `memcoop explain`.
import { parseArgs } from 'node:util';
import { createActor, SimulatedClock } from 'xstate';
import { explainTick, type ExplainResult } from '../control/explain-text.ts';
import { policyInputNow } from '../control/policy-input.ts';
import { readJournalFile } from '../journal/format.ts';
import { parseSupervisorConfig } from '../vocabulary/config.ts';
import { createSupervisorMachine } from '../machines/supervisor.ts';
import type { SupervisorInput } from '../vocabulary/events.ts';
import type { DecisionEvent } from '../vocabulary/writes.ts';
import { journalReadFailed } from './journal-read-error.ts';

export const EXPLAIN_USAGE = `usage: memcoop replay JOURNAL --explain --at TIME [--guest ID] [--json]

Replays JOURNAL up to the first tick at or after TIME (ms, the t= of 'memcoop replay'; 'last' for
the last tick) and explains that tick's decision as 'memcoop explain' does, in the policy's own
figures: the regime and its inequality, the price and price terms, where each goal came from,
each step and what sized it, what the two-phase rule held back, and each rule beyond the paper
where it acted. --guest ID: only that guest. --json: the explanation as data (the decision and
its trace, memory in KiB).`;

/** The explanation of the first tick at or after `at` (null: the last tick), or why there is none. */
export function explainJournalAt(header: { startedAt?: number; config: unknown }, inputs: readonly SupervisorInput[], at: number | null, guest: string | null): ExplainResult | string {
  const config = parseSupervisorConfig(header.config, 'header.config');
  const clock = new SimulatedClock();
  clock.set(header.startedAt ?? 0);
  const actor = createActor(createSupervisorMachine(), { input: config, clock });
  let decided: DecisionEvent | null = null;
  actor.on('decision', (e) => (decided = e));
  actor.start();
  let found: ExplainResult | string | null = null;
  let lastTickIndex = -1;
  if (at === null) inputs.forEach((x, i) => x.type === 'tick' && (lastTickIndex = i));
  try {
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i]!;
      clock.set(input.at);
      const chosen = input.type === 'tick' && (at === null ? i === lastTickIndex : input.at >= at);
      const policyInput = chosen ? policyInputNow(actor) : null;
      decided = null;
      actor.send(input);
      if (!chosen) continue;
      const d = decided as DecisionEvent | null;
      if (policyInput === null || d === null) {
        if (at === null) return `the last tick (t=${input.at}) ran no policy (no host sample yet)`;
        continue; // a tick before any host sample decides nothing: the next one
      }
      found = explainTick(config, policyInput, d.at, guest, d.writes);
      break;
    }
  } finally {
    actor.stop();
  }
  return found ?? (at === null ? 'the journal has no tick' : `no tick at or after t=${at} in the journal`);
}

export async function run(argv: string[]): Promise<number> {
  let v;
  try {
    v = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { explain: { type: 'boolean' }, at: { type: 'string' }, guest: { type: 'string' }, json: { type: 'boolean' } } });
  } catch (e) {
    console.error(`memcoop replay: ${(e as Error).message}\n\n${EXPLAIN_USAGE}`);
    return 2;
  }
  const { at, guest, json } = v.values;
  if (v.positionals.length !== 1 || at === undefined || !(at === 'last' || /^[0-9]+$/.test(at))) {
    console.error(`memcoop replay: --explain needs one JOURNAL and --at TIME (ms, or last)\n\n${EXPLAIN_USAGE}`);
    return 2;
  }
  const file = v.positionals[0]!;
  let r: ExplainResult | string;
  try {
    const journal = await readJournalFile(file, { allowTruncatedTail: true });
    r = explainJournalAt(journal.header, journal.inputs, at === 'last' ? null : Number(at), guest ?? null);
  } catch (err) {
    return journalReadFailed(err, file);
  }
  if (typeof r === 'string') {
    console.error(`memcoop replay: ${r}`);
    return 1;
  }
  console.log(json ? JSON.stringify(r.explanation) : r.text);
  return 0;
}
