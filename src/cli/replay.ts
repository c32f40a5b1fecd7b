// memcoop replay FILE [--json] [--self-steps]: feeds a recorded journal into a fresh supervisor
// on a SimulatedClock and prints its decisions, one line per tick (or one JSON object per tick);
// with --self-steps, also each prompt self step, in order.
import { readJournalFile } from '../journal/format.ts';
import { replay } from '../journal/replay.ts';
import type { DecisionEvent, SelfStepEvent } from '../vocabulary/writes.ts';
import type { InspectionEvent, Observer } from 'xstate';
import { journalReadFailed } from './journal-read-error.ts';
import { INSPECT_HELP, withInspection } from './inspect-flags.ts';
import { isPolicyName, POLICY_NAMES, policyByName, type PolicyName } from '../policy/registry.ts';

const USAGE = `usage: memcoop replay FILE [--json] [--self-steps] [--policy NAME]

Feeds the journal FILE (written by 'memcoop sim' or 'memcoop run') into a fresh supervisor on a
simulated clock, with the policy the journal's header names (config.policy; --policy NAME
overrides it: one of ${POLICY_NAMES.join(', ')}), and prints each tick's decision:
  t=<ms>  <abundant|scarce>[ OVERCOMMITTED]  price=<1/t or ->  dom0=<target>  <guest>=<target>/<mode> ...
With --self-steps, also each prompt self step (reports between ticks moving self-adjusting
guests at once, while memory is abundant), in order with the decisions:
  t=<ms>  self-step  <guest>=<target> ...  budget=<KiB left for increases>
(targets in KiB; mode: self, global or held). With --json, one JSON object per line:
  {"type":"decision","at","decision":{...},"writes":[...]}
  {"type":"selfStep","at","guests":[...],"writes":[...],"budgetKiB"}   (with --self-steps)
Inspection (the supervisor's and each guest machine's transitions, as the run made them):
${INSPECT_HELP}
A journal that fails its checks is refused with the line and field named (exit 2). A last line
cut off mid-write, and gaps where the daemon's disk refused lines, are named on stderr.
With --explain --at TIME [--guest ID]: why the tick at TIME decided what it did (memcoop replay
--explain --help).`;

export function formatDecision(e: DecisionEvent): string {
  const d = e.decision;
  const parts = [
    `t=${e.at}`,
    d.state + (d.overcommitted ? ' OVERCOMMITTED' : ''),
    `price=${d.price === null ? '-' : d.price.toPrecision(6)}`,
    `dom0=${d.dom0.targetKiB}` + (d.dom0.reclaimKiB > 0 ? `(reclaim ${d.dom0.reclaimKiB})` : ''),
    ...d.guests.map((g) => `${g.id}=${g.targetKiB}/${g.mode}`),
  ];
  return parts.join('  ');
}

export function formatSelfStep(e: SelfStepEvent): string {
  const written = new Set(e.writes.map((w) => w.id));
  const moved = e.guests.filter((g) => written.has(g.id)).map((g) => `${g.id}=${g.targetKiB}`);
  return [`t=${e.at}`, 'self-step', ...moved, `budget=${e.budgetKiB}`].join('  ');
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--explain')) {
    const explain = await import('./replay-explain.ts');
    if (argv.includes('--help') || argv.includes('-h')) {
      console.log(explain.EXPLAIN_USAGE);
      return 0;
    }
    return explain.run(argv);
  }
  return withInspection('replay', argv, replayCommand);
}

async function replayCommand(argv: string[], inspect: Observer<InspectionEvent> | undefined): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const json = argv.includes('--json');
  const withSelfSteps = argv.includes('--self-steps');
  let rest = argv.filter((a) => a !== '--json' && a !== '--self-steps');
  const p = rest.indexOf('--policy');
  let policyName: PolicyName | undefined;
  if (p >= 0) {
    const named = rest[p + 1];
    if (named === undefined || !isPolicyName(named)) {
      console.error(`memcoop replay: --policy needs one of ${POLICY_NAMES.join(', ')}\n\n${USAGE}`);
      return 2;
    }
    policyName = named;
    rest = rest.filter((_, i) => i !== p && i !== p + 1);
  }
  const unknown = rest.filter((a) => a.startsWith('-'));
  if (unknown.length > 0 || rest.length !== 1) {
    console.error(unknown.length > 0 ? `memcoop replay: unknown option ${unknown[0]}\n\n${USAGE}` : USAGE);
    return 2;
  }
  const file = rest[0]!;
  let steps: (DecisionEvent | SelfStepEvent)[];
  try {
    const journal = await readJournalFile(file, { allowTruncatedTail: true });
    if (journal.truncatedLine !== null) {
      console.error(`memcoop replay: ${file} line ${journal.truncatedLine} was cut off (the writer stopped mid-line); it is not replayed`);
    }
    for (const g of journal.gaps) {
      console.error(
        `memcoop replay: ${file} line ${g.line}: ${g.missing} input(s) before t=${g.at} were not recorded (the disk refused them)` +
          (g.tornLine !== null ? `, and line ${g.tornLine} is the fragment of one` : '') +
          '; decisions after it may differ from the run\'s',
      );
    }
    ({ steps } = replay(journal.header, journal.inputs, { ...(policyName ? { policy: policyByName(policyName) } : {}), ...(inspect ? { inspect } : {}) }));
  } catch (err) {
    return journalReadFailed(err, file);
  }
  if (!withSelfSteps) steps = steps.filter((d) => d.type === 'decision');
  const out = steps.map((d) => (json ? JSON.stringify(d) : d.type === 'decision' ? formatDecision(d) : formatSelfStep(d)));
  if (out.length > 0) process.stdout.write(out.join('\n') + '\n');
  if (!json) {
    const decisions = steps.filter((d) => d.type === 'decision').length;
    console.error(`${decisions} decision(s) and ${steps.length - decisions} self step(s) replayed from ${file}`);
  }
  return 0;
}
