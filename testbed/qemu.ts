// Boots N real Linux guests under QEMU for memcoop's KVM host tests and benchmarks. Each guest
// gets its own directory with its sockets (QMP, the agent's virtio-serial port, the testbed's
// control port), a swap disk and a console log. QEMU runs with a known pid and is stopped by that
// pid: stop(), and a process exit hook for runs that fail. See docs/testbed.md.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, ftruncateSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { chooseAccel, type Accel } from './accel.ts';
import { addToCgroup, createPoolCgroup, removeCgroup, type PoolCgroup } from './cgroup.ts';
import { ControlChannel, CONTROL_PORT_NAME } from './control.ts';
import { buildInitramfs, type Initramfs } from './initramfs.ts';
import { killOnExit } from './kill-on-exit.ts';

/** The agent's default port name (docs/agent-protocol.md). */
export const AGENT_PORT_NAME = 'org.memcoop.agent.0';
/** QOM path of the balloon device, for QMP qom-get/qom-set (its id is balloon0). */
export const BALLOON_QOM_PATH = '/machine/peripheral/balloon0';
/** Swap per guest (MiB): the measurements behind docs/testbed.md used 512 MiB. */
export const DEFAULT_SWAP_MIB = 512;
/** Boot to /init took 5-7 s for one guest, 12-15 s for four at once under TCG here; 4x margin. */
export const DEFAULT_BOOT_TIMEOUT_MS = 120_000;
/** After poweroff, SIGTERM and SIGKILL: how long each step waits for QEMU to exit. */
const STOP_GRACE_MS = 3_000;

export interface GuestSpec {
  /** Directory and log name: letters, digits, '-'. */
  name: string;
  /** Boot memory (-m), MiB: the ceiling a balloon can deflate to. */
  memMiB: number;
  swapMiB?: number;
  cpus?: number;
  /** deflate-on-oom=on on the balloon (off by default: an OOM kill is then visible, not hidden). */
  deflateOnOom?: boolean;
  /** Appended to the kernel command line. */
  cmdline?: string;
}

export interface TestbedOptions {
  /** Parent of the run directory (default out/testbed/runs). */
  runsDir?: string;
  initramfs?: Initramfs;
  accel?: Accel;
  /** memory.max of the run's cgroup (KiB), where cgroup v2 allows one. Default: no cgroup. */
  poolKiB?: number;
  /** Add a second QMP monitor, qmp-observer.sock, for a watcher beside memcoop's own QMP client. */
  observerQmp?: boolean;
  /** Wait for every guest's `ready` on its control port (default true). */
  waitReady?: boolean;
  bootTimeoutMs?: number;
}

export interface Guest {
  spec: GuestSpec;
  name: string;
  dir: string;
  pid: number;
  /** memcoop's QMP socket: the testbed never connects to it. */
  qmpSocket: string;
  observerQmpSocket?: string;
  /** Host end of the agent's virtio-serial port (org.memcoop.agent.0). */
  agentSocket: string;
  controlSocket: string;
  consoleLog: string;
  swapImage: string;
  /** The testbed's control connection (connected, ready once booted). */
  control: ControlChannel;
  /** Spawn to `ready` on the control port, ms (host clock); undefined until ready. */
  bootMs?: number;
  /** Resolves with QEMU's exit code (or signal name) when the process has gone. */
  exited: Promise<number | string>;
  console(): string;
  /** OOM kills the guest kernel logged on its console. */
  oomKills(): number;
  stop(): Promise<void>;
}

export interface Testbed {
  runDir: string;
  accel: Accel;
  cgroup: PoolCgroup;
  initramfs: Initramfs;
  guests: Guest[];
  stop(): Promise<void>;
}

let hooksInstalled = false;

/**
 * Last resort for a run that is interrupted: on a signal, exit through process.exit so that every
 * 'exit' hook runs (killOnExit's, which kills the QEMUs, and a caller's, e.g. a benchmark
 * stopping its daemon); 128 + signal number, as a shell reports it.
 */
function installSignalExit(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const SIGNAL_EXIT = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => process.exit(SIGNAL_EXIT[sig]));
  }
}

export function qemuArgs(spec: GuestSpec, dir: string, initramfs: Initramfs, accel: Accel, observerQmp: boolean): string[] {
  const swap = join(dir, 'swap.img');
  const balloon = ['virtio-balloon-pci', 'id=balloon0', 'free-page-reporting=on', ...(spec.deflateOnOom ? ['deflate-on-oom=on'] : [])].join(',');
  return [
    ...accel.args,
    '-machine', 'q35',
    '-nodefaults',
    '-display', 'none',
    '-no-reboot',
    '-m', `${spec.memMiB}M`,
    '-smp', String(spec.cpus ?? 1),
    '-kernel', initramfs.kernel.vmlinux,
    '-initrd', initramfs.path,
    '-append', `console=ttyS0 loglevel=4 panic=1 memcoop.guest=${spec.name} ${spec.cmdline ?? ''}`.trim(),
    '-serial', `file:${join(dir, 'console.log')}`,
    '-qmp', `unix:${join(dir, 'qmp.sock')},server=on,wait=off`,
    ...(observerQmp ? ['-qmp', `unix:${join(dir, 'qmp-observer.sock')},server=on,wait=off`] : []),
    '-device', balloon,
    '-device', 'virtio-serial-pci,id=vser0',
    '-chardev', `socket,id=agent,path=${join(dir, 'agent.sock')},server=on,wait=off`,
    '-device', `virtserialport,bus=vser0.0,chardev=agent,name=${AGENT_PORT_NAME}`,
    '-chardev', `socket,id=control,path=${join(dir, 'control.sock')},server=on,wait=off`,
    '-device', `virtserialport,bus=vser0.0,chardev=control,name=${CONTROL_PORT_NAME}`,
    '-drive', `if=none,id=swap,file=${swap},format=raw,cache=unsafe,discard=unmap`,
    '-device', 'virtio-blk-pci,drive=swap',
    '-pidfile', join(dir, 'qemu.pid'),
  ];
}

/** Starts one QEMU per spec (all at once), connects each control port, and waits for the boots. */
export async function startTestbed(specs: GuestSpec[], opts: TestbedOptions = {}): Promise<Testbed> {
  installSignalExit();
  for (const s of specs) if (!/^[A-Za-z0-9-]+$/.test(s.name)) throw new Error(`bad guest name ${s.name}`);
  const initramfs = opts.initramfs ?? (await buildInitramfs());
  const accel = opts.accel ?? chooseAccel();
  const runId = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(2).toString('hex')}`;
  let runDir = join(opts.runsDir ?? resolve(import.meta.dirname, '..', 'out', 'testbed', 'runs'), runId);
  // A unix socket path is limited to 107 bytes; fall back to /tmp for a deep checkout.
  if (runDir.length + 40 > 107) runDir = join('/tmp', `memcoop-testbed-${runId}`);
  mkdirSync(runDir, { recursive: true });
  const cgroup = opts.poolKiB !== undefined ? createPoolCgroup(`memcoop-testbed-${runId}`, opts.poolKiB) : { ok: false as const, reason: 'no pool limit asked for' };

  const guests: Guest[] = [];
  const testbed: Testbed = {
    runDir, accel, cgroup, initramfs, guests,
    async stop() {
      await Promise.all(guests.map((g) => g.stop()));
      removeCgroup(cgroup);
    },
  };
  try {
    for (const spec of specs) guests.push(spawnGuest(spec, runDir, initramfs, accel, cgroup, opts.observerQmp ?? false));
    await Promise.all(guests.map((g) => g.control.connect()));
    if (opts.waitReady ?? true) await waitBooted(guests, opts.bootTimeoutMs ?? DEFAULT_BOOT_TIMEOUT_MS);
  } catch (e) {
    await testbed.stop();
    throw e;
  }
  return testbed;
}

/** Waits until every guest said ready; a guest whose QEMU exits first fails the wait with its console's tail. */
export async function waitBooted(guests: Guest[], timeoutMs: number): Promise<void> {
  await Promise.all(guests.map((g) => Promise.race([
    g.control.waitReady(timeoutMs),
    g.exited.then((code) => {
      throw new Error(`guest ${g.name}: QEMU exited (${code}) before ready: ${tail(g.console())}`);
    }),
  ])));
}

function spawnGuest(spec: GuestSpec, runDir: string, initramfs: Initramfs, accel: Accel, cgroup: PoolCgroup, observerQmp: boolean): Guest {
  const dir = join(runDir, spec.name);
  mkdirSync(dir, { recursive: true });
  const swapImage = join(dir, 'swap.img');
  const fd = openSync(swapImage, 'w');
  ftruncateSync(fd, (spec.swapMiB ?? DEFAULT_SWAP_MIB) * 1024 * 1024);
  closeSync(fd);
  const consoleLog = join(dir, 'console.log');
  const errFd = openSync(join(dir, 'qemu.stderr'), 'w');
  const started = Date.now();
  const child = spawn('qemu-system-x86_64', qemuArgs(spec, dir, initramfs, accel, observerQmp), { stdio: ['ignore', 'ignore', errFd] });
  closeSync(errFd);
  if (child.pid === undefined) throw new Error('qemu-system-x86_64 could not be started (is qemu-system-x86 installed?)');
  const pid = child.pid;
  killOnExit(child);
  addToCgroup(cgroup, pid);
  let running = true;
  const exited = new Promise<number | string>((res) => {
    child.once('exit', (code, signal) => {
      running = false;
      res(code ?? signal ?? 'unknown');
    });
    child.once('error', (e) => { running = false; res(e.message); });
  });
  const control = new ControlChannel(join(dir, 'control.sock'));
  const guest: Guest = {
    spec, name: spec.name, dir, pid,
    qmpSocket: join(dir, 'qmp.sock'),
    ...(observerQmp ? { observerQmpSocket: join(dir, 'qmp-observer.sock') } : {}),
    agentSocket: join(dir, 'agent.sock'),
    controlSocket: join(dir, 'control.sock'),
    consoleLog, swapImage, control, exited,
    console: () => (existsSync(consoleLog) ? readFileSync(consoleLog, 'utf8') : ''),
    oomKills: () => (guest.console().match(/Out of memory: Killed process|oom-kill:/g) ?? []).filter((m) => m.startsWith('Out of memory')).length,
    stop: () => stopGuest(guest, child, () => running),
  };
  control.waitReady(DEFAULT_BOOT_TIMEOUT_MS * 10).then(() => { guest.bootMs = Date.now() - started; }, () => undefined);
  return guest;
}

async function stopGuest(guest: Guest, child: ChildProcess, running: () => boolean): Promise<void> {
  if (!running()) { guest.control.close(); return; }
  const gone = (ms: number) => Promise.race([guest.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
  if (guest.control.ready) {
    try { await guest.control.poweroff(STOP_GRACE_MS); } catch { /* port already closed */ }
    if (await gone(STOP_GRACE_MS)) { guest.control.close(); return; }
  }
  child.kill('SIGTERM');
  if (!(await gone(STOP_GRACE_MS))) {
    child.kill('SIGKILL');
    await guest.exited;
  }
  guest.control.close();
}

function tail(text: string, lines = 5): string {
  return text.trim().split('\n').slice(-lines).join(' | ');
}
