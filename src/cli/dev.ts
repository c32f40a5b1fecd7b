// memcoop dev xenstored [--kind oxenstored|cxenstored] [--dir PARENT]: a real xenstored to try
// memcoop against without Xen (src/dev/xenstored.ts), with the commands that make two guests and
// play their agents, until Ctrl-C.
import { resolve } from 'node:path';
import { formatHello } from '../hosts/xen/agent-protocol.ts';
import { helloPath, meminfoPath, namePath, staticMaxPath, targetPath } from '../hosts/xen/layout.ts';
import { PROTOCOL_VERSION } from '../vocabulary/events.ts';
import { commandArgs } from './command-args.ts';

const USAGE = `usage: memcoop dev xenstored [--kind oxenstored|cxenstored] [--dir PARENT]

Starts a real xenstored (Xen's own daemon, from xen-utils-4.17) with no hypervisor under it, in a
fresh folder under PARENT (default: the system's temporary folder), prints its socket and the
commands that create two guests' keys, run memcoop against it and play the guests' agents, and
runs until Ctrl-C (SIGINT or SIGTERM), which stops it and removes the folder.
  --kind   oxenstored (default when root: it needs a private mount namespace) or cxenstored
           (the C daemon; memcoop's shim stands in for the hypervisor devices either needs)
Needs: apt-get install --no-install-recommends xen-utils-4.17 xenstore-utils libxen-dev gcc.
Exit: 0 after Ctrl-C; 1 if xenstored cannot start or dies; 2 for bad options.`;

const MIB = 1024;

/** What to type in another shell, for a xenstored at `socket`. */
export function walkthrough(socket: string, dir: string): string {
  const guest = (d: number) => `xenstore-write ${namePath(d)} guest${d} ${staticMaxPath(d)} ${1024 * MIB} ${targetPath(d)} ${512 * MIB}`;
  const hello = (d: number) => `xenstore-write ${helloPath(d)} '${formatHello({ protocol: PROTOCOL_VERSION, selfAdjust: true })}'`;
  const report = (d: number, committedMiB: number) =>
    `xenstore-write ${meminfoPath(d)} "$(printf 'MemTotal: ${512 * MIB} kB\\nMemFree: ${32 * MIB} kB\\nSwapTotal: 0 kB\\nSwapFree: 0 kB\\nCommitted_AS: ${committedMiB * MIB} kB\\n')"`;
  return [
    `In another shell, as root (the xenstore-* tools come with xenstore-utils):`,
    `  export XENSTORED_PATH=${socket}`,
    `  # two guests, as a toolstack writes them: 512 MiB each, up to 1 GiB`,
    `  ${guest(1)}`,
    `  ${guest(2)}`,
    `  # the daemon (its own shell; without --config the host is a 2 GiB stand-in with a 512 MiB Dom0)`,
    `  memcoop run --host xen --socket ${socket}`,
    `  # each guest's agent: its hello, then a report every second (what memcoop-agent does)`,
    `  ${hello(1)}`,
    `  ${hello(2)}`,
    `  while sleep 1; do`,
    `    ${report(1, 700)}`,
    `    ${report(2, 300)}`,
    `  done &`,
    `  xenstore-read ${targetPath(1)}    # ${700 * MIB}: guest 1 grows toward its Committed_AS`,
    `  memcoop status --control ${dir}/memcoop.sock`,
    `  memcoop explain --control ${dir}/memcoop.sock`,
    `  kill %1    # the agents stop reporting: after 10 s memcoop holds both guests where they are`,
    `Ctrl-C here stops xenstored and removes ${dir}.`,
  ].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const v = commandArgs('dev', USAGE, argv, { kind: { type: 'string' }, dir: { type: 'string' } }, true);
  if (typeof v === 'number') return v;
  if (v.positionals[0] !== 'xenstored' || v.positionals.length !== 1) {
    console.error(`memcoop dev: the one dev command is 'xenstored'\n\n${USAGE}`);
    return 2;
  }
  const kind = v.values.kind ?? (process.getuid?.() === 0 ? 'oxenstored' : 'cxenstored');
  if (kind !== 'oxenstored' && kind !== 'cxenstored') {
    console.error(`memcoop dev: --kind must be oxenstored or cxenstored, got ${JSON.stringify(kind)}`);
    return 2;
  }
  const { startDevXenstored } = await import('../dev/xenstored.ts');
  let xs;
  try {
    xs = await startDevXenstored(kind, v.values.dir === undefined ? undefined : resolve(v.values.dir));
  } catch (e) {
    console.error(`memcoop dev: ${(e as Error).message}`);
    return 1;
  }
  console.log(`${kind} (pid ${xs.pid}) is answering on ${xs.socketPath}\n\n${walkthrough(xs.socketPath, xs.dir)}`);
  const outcome = await new Promise<'signal' | 'died'>((resolve) => {
    const on = () => resolve('signal');
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
    void xs.exited.then(() => resolve('died'));
  });
  await xs.stop();
  if (outcome === 'died') {
    console.error(`memcoop dev: ${kind} exited on its own; its folder is removed`);
    return 1;
  }
  console.log(`${kind} stopped; ${xs.dir} removed`);
  return 0;
}
