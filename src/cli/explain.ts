// memcoop explain [GUEST] [--json] [--control PATH]: why the running daemon's last tick gave each
// guest its goal and step.
import { ask, resolveControlPath } from '../control/client.ts';
import type { ExplainResult } from '../control/explain-text.ts';
import { commandArgs } from './command-args.ts';

const USAGE = `usage: memcoop explain [GUEST] [--json] [--control PATH]

Asks the running daemon why its last tick decided what it did, in the policy's own figures
(decide's trace, not a recomputation): the regime and the inequality that chose it (Dom0's need
against host free; free after Dom0 against the guests' need), how Dom0 was served, the price 1/t
and each guest's price terms (tau*A_i, c_i, tau*A_i + c_i*t), where its goal came from (its
Committed_AS, the price share, its minimum or maximum, the commit cap, the working room, a short
guest's hold), its step and what sized it, and what the two-phase rule held back. A rule beyond
the paper is named in parentheses where it acted (commitCap, minStep, workingRoom, shortHold,
idleFirst, idleYield, reserveFirst, deadband). GUEST: only that guest.
The same text for a recorded decision: memcoop replay JOURNAL --explain --at TIME.
  --json          the explanation as data: params, the decision and its trace, the deadband notes (KiB)
  --control PATH  the daemon's control socket (default: MEMCOOP_CONTROL, else the one in /run/memcoop/)
Exit: 0; 1 when no daemon answers or it cannot explain (a peer policy, no tick yet, no such guest); 2 for bad options.`;

export async function run(argv: string[]): Promise<number> {
  const v = commandArgs('explain', USAGE, argv, { json: { type: 'boolean' }, control: { type: 'string' } }, true);
  if (typeof v === 'number') return v;
  if (v.positionals.length > 1) {
    console.error(`memcoop explain: at most one GUEST\n\n${USAGE}`);
    return 2;
  }
  const where = resolveControlPath(v.values.control);
  if ('error' in where) {
    console.error(`memcoop explain: ${where.error}`);
    return 1;
  }
  try {
    const r = (await ask(where.path, 'explain', v.positionals[0] !== undefined ? { guest: v.positionals[0] } : {})) as ExplainResult;
    console.log(v.values.json ? JSON.stringify(r.explanation) : r.text);
    return 0;
  } catch (e) {
    console.error(`memcoop explain: ${(e as Error).message}`);
    return 1;
  }
}
