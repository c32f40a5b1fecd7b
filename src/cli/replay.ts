// memcoop replay FILE [--json]: feeds a recorded journal into a fresh supervisor on a
// SimulatedClock and prints its decisions, one line per tick (or one JSON object per tick).
import { readJournalFile } from '../journal/format.ts';
import { replay } from '../journal/replay.ts';
import type { DecisionEvent } from '../machines/writes.ts';
import { InputError } from '../util/validate.ts';
import { POLICY_NAMES, policyByName } from '../sim/policies.ts';

const USAGE = `usage: memcoop replay FILE [--json] [--policy NAME]

Feeds the journal FILE (written by 'memcoop sim' or 'memcoop run') into a fresh supervisor on a
simulated clock, with the paper's policy (or --policy NAME, the one the run used: one of
${POLICY_NAMES.join(', ')}), and prints each tick's decision:
  t=<ms>  <abundant|scarce>[ OVERCOMMITTED]  price=<1/t or ->  dom0=<target>  <guest>=<target>/<mode> ...
(targets in KiB; mode: self, global or held). With --json, one JSON object per decision:
  {"type":"decision","at","decision":{...},"writes":[...]}
A journal that fails its checks is refused with the line and field named (exit 2).`;

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

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const json = argv.includes('--json');
  let rest = argv.filter((a) => a !== '--json');
  const p = rest.indexOf('--policy');
  const policyName = p >= 0 ? rest[p + 1] : undefined;
  if (p >= 0) {
    if (policyName === undefined || !POLICY_NAMES.includes(policyName)) {
      console.error(`memcoop replay: --policy needs one of ${POLICY_NAMES.join(', ')}\n\n${USAGE}`);
      return 2;
    }
    rest = rest.filter((_, i) => i !== p && i !== p + 1);
  }
  const unknown = rest.filter((a) => a.startsWith('-'));
  if (unknown.length > 0 || rest.length !== 1) {
    console.error(unknown.length > 0 ? `memcoop replay: unknown option ${unknown[0]}\n\n${USAGE}` : USAGE);
    return 2;
  }
  const file = rest[0]!;
  let decisions: DecisionEvent[];
  try {
    const journal = await readJournalFile(file);
    ({ decisions } = replay(journal.header, journal.inputs, policyName ? { policy: policyByName(policyName) } : {}));
  } catch (err) {
    if (err instanceof InputError) {
      console.error(`memcoop replay: ${err.message}`);
      return 2;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
      console.error(`memcoop replay: cannot read ${file}: ${(err as Error).message}`);
      return 2;
    }
    throw err;
  }
  const out = decisions.map((d) => (json ? JSON.stringify(d) : formatDecision(d)));
  if (out.length > 0) process.stdout.write(out.join('\n') + '\n');
  if (!json) console.error(`${decisions.length} decision(s) replayed from ${file}`);
  return 0;
}
