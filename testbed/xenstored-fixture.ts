// A real xenstored (oxenstored or the C xenstored of xen-utils-4.17) for tests and benches, run
// with no hypervisor through memcoop's LD_PRELOAD shim (native/shim/xenstored-shim.c; docs/measurements.md
// section 1). Each fixture has its own temporary directory and socket and is stopped by its own
// pid. Not a fake: the daemon is Xen's, only the hypervisor devices under it are stubbed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type XenstoredKind = 'oxenstored' | 'cxenstored';

export const XEN_BIN_DIR = '/usr/lib/xen-4.17/bin';
const DAEMON_BIN: Record<XenstoredKind, string> = {
  oxenstored: join(XEN_BIN_DIR, 'oxenstored'),
  cxenstored: join(XEN_BIN_DIR, 'xenstored'),
};
/** Debian's oxenstored config, the base of each fixture's private copy. */
const OXENSTORED_CONF = '/etc/xen/oxenstored.conf';
/** oxenstored's socket directory is compiled in; each fixture bind-mounts its own over it. */
const OXENSTORED_RUNDIR = '/run/xenstored';

const SHIM_SRC = fileURLToPath(new URL('../native/shim/xenstored-shim.c', import.meta.url));
/** Under native/build/, which git ignores. */
const SHIM_DIR = fileURLToPath(new URL('../native/build/shim/', import.meta.url));
const SHIM_SO = join(SHIM_DIR, 'xenstored-shim.so');

/** Give up on a daemon that has not answered by then (measured start: 40-100 ms). */
const START_TIMEOUT_MS = 10_000;
/** Between connection attempts while the daemon starts. */
const CONNECT_RETRY_MS = 5;
/** SIGTERM, then SIGKILL after this long. */
const STOP_GRACE_MS = 3_000;

/** XS_DIRECTORY from xen/io/xs_wire.h: the request used to see that the daemon answers. */
const XS_DIRECTORY = 1;
/** struct xsd_sockmsg: type, req_id, tx_id, len (4 x uint32). */
const XS_HEADER_BYTES = 16;

export interface XenstoredFixture {
  readonly kind: XenstoredKind;
  /** The unix socket clients connect to (set XENSTORED_PATH to it for the xenstore-* tools). */
  readonly socketPath: string;
  /** The fixture's own directory (socket, pid file, logs). */
  readonly dir: string;
  /** The daemon's pid (changes on restart). */
  readonly pid: number;
  /** Milliseconds from spawn to the first answer, for the latest start. */
  readonly startMs: number;
  /** Stops the daemon (SIGTERM, then SIGKILL) and removes the directory. */
  stop(): Promise<void>;
  /** Stops the daemon and starts it again on the same socket and directory (the tree starts empty). */
  restart(): Promise<void>;
}

/** Why a fixture of this kind cannot run here, or null if it can. */
export function xenstoredUnavailable(kind: XenstoredKind): string | null {
  if (process.platform !== 'linux') return 'a real xenstored needs Linux';
  if (!existsSync(DAEMON_BIN[kind])) {
    return `${DAEMON_BIN[kind]} is missing: install xen-utils-4.17 (apt-get install --no-install-recommends xen-utils-4.17 xenstore-utils libxen-dev gcc)`;
  }
  if (!existsSync('/usr/include/xenctrl.h')) return 'the shim needs the Xen headers: install libxen-dev';
  if (spawnSync('gcc', ['--version']).status !== 0) return 'the shim needs gcc: install gcc';
  if (kind === 'oxenstored') {
    if (process.getuid?.() !== 0) return 'oxenstored needs root here (its socket path is fixed; each fixture bind-mounts its own directory over it in a private mount namespace)';
    if (spawnSync('unshare', ['--version']).status !== 0) return 'oxenstored needs unshare (util-linux)';
  }
  return null;
}

/** Builds the shim if it is missing or older than its source; returns the .so path. */
export function buildShim(): string {
  if (existsSync(SHIM_SO) && statSync(SHIM_SO).mtimeMs >= statSync(SHIM_SRC).mtimeMs) return SHIM_SO;
  mkdirSync(SHIM_DIR, { recursive: true });
  // Built under a private name, then renamed, so concurrent test processes never load half a file.
  const tmp = join(SHIM_DIR, `.xenstored-shim.${process.pid}.so`);
  const r = spawnSync('gcc', ['-shared', '-fPIC', '-O2', '-Wall', '-o', tmp, SHIM_SRC, '-ldl'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building the xenstored shim failed:\n${r.stderr}`);
  renameSync(tmp, SHIM_SO);
  return SHIM_SO;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A test that dies must not leave daemons behind: kill ours (by pid) when this process exits. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) if (c.exitCode === null && c.signalCode === null && c.pid) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

function oxenstoredConf(dir: string): string {
  const base = existsSync(OXENSTORED_CONF) ? readFileSync(OXENSTORED_CONF, 'utf8') : '';
  const kept = base
    .split('\n')
    .filter((l) => !/^\s*(pid-file|xenstored-log-file|access-log-file)\s*=/.test(l))
    .join('\n');
  return (
    `${kept}\n# memcoop fixture: pid and logs in the fixture directory\n` +
    `pid-file = ${join(dir, 'xenstored.pid')}\n` +
    `xenstored-log-file = ${join(dir, 'xenstored.log')}\n` +
    `access-log-file = ${join(dir, 'access.log')}\n`
  );
}

/** The daemon dies with this process even when a signal kills it (the exit hook would not run). */
function shimEnv(shim: string): Record<string, string> {
  return { LD_PRELOAD: shim, MEMCOOP_SHIM_PARENT_PID: String(process.pid) };
}

function spawnDaemon(kind: XenstoredKind, dir: string, shim: string): ChildProcess {
  const log = openSync(join(dir, 'daemon.out'), 'a');
  try {
    if (kind === 'cxenstored') {
      // Without -D: --no-domain-init is broken in 4.17 (docs/measurements.md); the shim fakes dom0's ring.
      return spawn(DAEMON_BIN.cxenstored, ['--no-fork', '--pid-file', join(dir, 'xenstored.pid')], {
        env: { ...process.env, ...shimEnv(shim), XENSTORED_RUNDIR: dir, XENSTORED_ROOTDIR: dir },
        stdio: ['ignore', log, log],
      });
    }
    const conf = join(dir, 'oxenstored.conf');
    writeFileSync(conf, oxenstoredConf(dir));
    mkdirSync(OXENSTORED_RUNDIR, { recursive: true }); // the mount point; stays empty outside
    // unshare and sh exec in turn, so the pid spawned here is oxenstored's own.
    // The shim is preloaded into oxenstored only, not into unshare, sh and mount.
    const script = 'mount --bind "$1" "$2" && exec env LD_PRELOAD="$3" "$4" --no-fork --no-domain-init --config-file "$5"';
    return spawn(
      'unshare',
      ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', dir, OXENSTORED_RUNDIR, shim, DAEMON_BIN.oxenstored, conf],
      { env: { ...process.env, MEMCOOP_SHIM_PARENT_PID: String(process.pid) }, stdio: ['ignore', log, log] },
    );
  } finally {
    closeSync(log);
  }
}

/** One XS_DIRECTORY "/" round trip on a fresh connection; resolves true once a reply arrives. */
function probe(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(socketPath);
    let got = 0;
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.on('error', () => done(false));
    s.on('connect', () => {
      const body = Buffer.from('/\0');
      const hdr = Buffer.alloc(XS_HEADER_BYTES);
      hdr.writeUInt32LE(XS_DIRECTORY, 0);
      hdr.writeUInt32LE(body.length, 12);
      s.write(Buffer.concat([hdr, body]));
    });
    s.on('data', (d) => {
      got += d.length;
      if (got >= XS_HEADER_BYTES) done(true);
    });
    s.on('close', () => done(false));
  });
}

function daemonLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'daemon.out'), 'utf8').slice(-2000);
  } catch {
    return '';
  }
}

async function waitReady(child: ChildProcess, socketPath: string, dir: string, kind: XenstoredKind): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let exited: string | null = null;
  const onExit = (code: number | null, sig: string | null) => {
    exited = `exited with ${code ?? sig}`;
  };
  child.once('exit', onExit);
  try {
    for (;;) {
      if (exited) throw new Error(`${kind} ${exited} before answering:\n${daemonLog(dir)}`);
      if (await probe(socketPath)) return;
      if (Date.now() > deadline) throw new Error(`${kind} did not answer on ${socketPath} within ${START_TIMEOUT_MS} ms:\n${daemonLog(dir)}`);
      await new Promise((r) => setTimeout(r, CONNECT_RETRY_MS));
    }
  } finally {
    child.off('exit', onExit);
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) {
      live.delete(child);
      resolve();
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      live.delete(child);
      resolve();
    });
    child.kill('SIGTERM'); // by this child's own pid
  });
}

/** Starts a xenstored of the given kind in a fresh temporary directory; resolves once it answers. */
export async function startXenstored(kind: XenstoredKind): Promise<XenstoredFixture> {
  const why = xenstoredUnavailable(kind);
  if (why) throw new Error(why);
  const shim = buildShim();
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), `memcoop-${kind}-`));
  const socketPath = join(dir, 'socket');
  let child: ChildProcess | null = null;
  let startMs = 0;

  const start = async () => {
    const t0 = performance.now();
    const c = spawnDaemon(kind, dir, shim);
    live.add(c);
    child = c;
    try {
      await waitReady(c, socketPath, dir, kind);
    } catch (e) {
      await stopChild(c);
      throw e;
    }
    startMs = performance.now() - t0;
  };

  try {
    await start();
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  return {
    kind,
    socketPath,
    dir,
    get pid() {
      return child?.pid ?? -1;
    },
    get startMs() {
      return startMs;
    },
    async stop() {
      if (child) await stopChild(child);
      child = null;
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      if (child) await stopChild(child);
      child = null;
      await start();
    },
  };
}
