// memcoop status [--json] [--watch] [--control PATH]: what the running daemon knows, from its
// control socket.
import { ask, ControlClient, resolveControlPath } from '../control/client.ts';
import { commandArgs } from './command-args.ts';
import { statusTable, type Status } from '../control/status.ts';

const USAGE = `usage: memcoop status [--json] [--watch] [--control PATH]

Asks the running daemon (memcoop run) what it knows: the host (total, free, reserve, regime,
price), Dom0, and every guest: its machine state, the mode written to its agent, allocation,
target, goal, Committed_AS, MemFree, bounds, the pressure figures its agent sends (PSI,
MemAvailable, major faults) and how long since its last report. Memory in MiB.
  --json          one JSON object (the daemon's answer as it is; memory in KiB)
  --watch         redraw after every tick (on a terminal: in place; with --json: one object per tick)
  --control PATH  the daemon's control socket (default: MEMCOOP_CONTROL, else the one socket in
                  /run/memcoop/)
Exit: 0; 1 when no daemon answers; 2 for bad options.`;

export async function run(argv: string[]): Promise<number> {
  const v = commandArgs('status', USAGE, argv, { json: { type: 'boolean' }, watch: { type: 'boolean' }, control: { type: 'string' } });
  if (typeof v === 'number') return v;
  const where = resolveControlPath(v.values.control);
  if ('error' in where) {
    console.error(`memcoop status: ${where.error}`);
    return 1;
  }
  const json = v.values.json === true;
  const show = (s: Status) => (json ? JSON.stringify(s) : statusTable(s));
  try {
    if (!v.values.watch) {
      console.log(show((await ask(where.path, 'status')) as Status));
      return 0;
    }
    const c = await ControlClient.connect(where.path);
    const tty = process.stdout.isTTY === true && !json;
    let stopped = false;
    const stop = () => {
      stopped = true;
      c.close();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const why = await c.stream('watch', (r) => {
      const text = show(r as Status);
      process.stdout.write(tty ? `\x1b[H\x1b[2J${text}\n` : `${text}\n`);
    });
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    if (!stopped) {
      console.error(`memcoop status: ${why === 'the daemon closed the connection' ? 'the daemon stopped' : why}`);
      return 1;
    }
    return 0;
  } catch (e) {
    console.error(`memcoop status: ${(e as Error).message}`);
    return 1;
  }
}
