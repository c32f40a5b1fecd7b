// A real QEMU with no guest kernel, stopped before its first instruction (-S): its QMP is real
// (greeting, query-balloon, balloon accepted), and its virtio-balloon device has no driver behind
// it, so a balloon target is accepted but never moves: the "balloon not moving" case. Started
// with a known pid and stopped by it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

/** Why QEMU cannot run here (null when it can): the only reason the kvm tier skips. */
export function qemuSkipReason(): string | null {
  const r = spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `qemu-system-x86_64 cannot run here (${r.error?.message ?? `exit ${r.status}`}); install qemu-system-x86`;
  return null;
}

export interface PausedQemu {
  pid: number;
  dir: string;
  qmp: string;
  exited: Promise<void>;
  stop(): Promise<void>;
}

/** Boots nothing: QEMU -S with a 512 MiB (or memMiB) machine, balloon0, QMP at dir/qmp.sock. */
export async function startPausedQemu(dir: string, memMiB = 512): Promise<PausedQemu> {
  mkdirSync(dir, { recursive: true });
  const qmp = join(dir, 'qmp.sock');
  const child: ChildProcess = spawn(
    'qemu-system-x86_64',
    ['-S', '-machine', 'q35', '-accel', 'tcg', '-m', `${memMiB}M`, '-nodefaults', '-display', 'none',
      '-device', 'virtio-balloon-pci,id=balloon0', '-qmp', `unix:${qmp},server=on,wait=off`],
    { stdio: 'ignore' },
  );
  if (child.pid === undefined) throw new Error('qemu-system-x86_64 did not start');
  const pid = child.pid;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    await exited;
  };
  for (let i = 0; i < 100 && !existsSync(qmp); i++) await new Promise((r) => setTimeout(r, 50));
  if (!existsSync(qmp)) {
    await stop();
    throw new Error('QEMU made no QMP socket within 5 s');
  }
  return { pid, dir, qmp, exited, stop };
}

/** A unix socket that is not QMP: it says nothing, or `garbage` on connect. */
export async function startNotQmp(path: string, garbage: string | null): Promise<Server> {
  const held: Socket[] = [];
  const srv = createServer((s) => {
    held.push(s);
    s.on('error', () => {});
    if (garbage !== null) s.write(garbage);
  });
  await new Promise<void>((r) => srv.listen(path, r));
  srv.on('close', () => held.forEach((s) => s.destroy()));
  const close = srv.close.bind(srv);
  srv.close = (cb?: (err?: Error) => void) => {
    held.forEach((s) => s.destroy());
    return close(cb);
  };
  return srv;
}
