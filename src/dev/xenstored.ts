// A real xenstored with no hypervisor: oxenstored, or the C xenstored of xen-utils-4.17, started
// with memcoop's LD_PRELOAD shim (native/shim/xenstored-shim.c stubs the hypervisor devices it
// would open; docs/measurements.md section 1) in a fresh directory, with its socket there. The one
// way memcoop starts one: `memcoop dev xenstored` (startDevXenstored) and the tests' fixture
// (testbed/xenstored-fixture.ts, which adds restarts) both use the pieces below. Stopped by its
// own pid.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export type XenstoredKind = 'oxenstored' | 'cxenstored';

/** Where Debian's xen-utils-4.17 puts the daemons. */
export const XEN_BIN_DIR = '/usr/lib/xen-4.17/bin';
const DAEMON_BIN: Record<XenstoredKind, string> = { oxenstored: join(XEN_BIN_DIR, 'oxenstored'), cxenstored: join(XEN_BIN_DIR, 'xenstored') };
/** Debian's oxenstored config, the base of each daemon's private copy. */
const OXENSTORED_CONF = '/etc/xen/oxenstored.conf';
/** oxenstored's socket directory is compiled in: a private mount namespace bind-mounts ours over it. */
const OXENSTORED_RUNDIR = '/run/xenstored';
/** Give up on a daemon that has not answered by then (measured start here: 40-100 ms). */
const START_TIMEOUT_MS = 10_000;
/** Between connection attempts while the daemon starts. */
const CONNECT_RETRY_MS = 5;
/** SIGTERM, then SIGKILL after this long. */
const STOP_GRACE_MS = 3_000;
/** XS_DIRECTORY (xen/io/xs_wire.h): the request that shows the daemon answers. */
const XS_DIRECTORY = 1;
/** struct xsd_sockmsg: type, req_id, tx_id, len (4 x uint32). */
const XS_HEADER_BYTES = 16;

/** The project's root: the folder above this file (src/dev/ or dist/) that holds package.json. */
function projectRoot(): string {
  let d = import.meta.dirname;
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) throw new Error('memcoop dev: cannot find the project folder (package.json)');
    d = up;
  }
  return d;
}

/** Why this kind cannot run here (one line saying what to install), or null. */
export function xenstoredUnavailable(kind: XenstoredKind): string | null {
  if (process.platform !== 'linux') return 'a real xenstored needs Linux';
  if (!existsSync(DAEMON_BIN[kind])) return `${DAEMON_BIN[kind]} is missing: apt-get install --no-install-recommends xen-utils-4.17 xenstore-utils libxen-dev gcc`;
  if (!existsSync('/usr/include/xenctrl.h')) return 'the shim needs the Xen headers: apt-get install libxen-dev';
  if (spawnSync('gcc', ['--version']).status !== 0) return 'the shim needs gcc: apt-get install gcc';
  if (kind === 'oxenstored') {
    if (process.getuid?.() !== 0) return 'oxenstored needs root (its socket folder is fixed; memcoop mounts its own over it in a private namespace); --kind cxenstored does not';
    if (spawnSync('unshare', ['--version']).status !== 0) return 'oxenstored needs unshare (util-linux)';
  }
  return null;
}

/** Builds the shim under native/build/shim/ (git ignores it) if it is missing or older than its source. */
export function buildShim(): string {
  const root = projectRoot();
  const src = join(root, 'native', 'shim', 'xenstored-shim.c');
  const outDir = join(root, 'native', 'build', 'shim');
  const so = join(outDir, 'xenstored-shim.so');
  if (existsSync(so) && statSync(so).mtimeMs >= statSync(src).mtimeMs) return so;
  mkdirSync(outDir, { recursive: true });
  // Built under a private name, then renamed, so concurrent processes never load half a file.
  const tmp = join(outDir, `.xenstored-shim.${process.pid}.so`);
  const r = spawnSync('gcc', ['-shared', '-fPIC', '-O2', '-Wall', '-o', tmp, src, '-ldl'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building the xenstored shim failed:\n${r.stderr}`);
  renameSync(tmp, so);
  return so;
}

function oxenstoredConf(dir: string): string {
  const base = existsSync(OXENSTORED_CONF) ? readFileSync(OXENSTORED_CONF, 'utf8') : '';
  const kept = base
    .split('\n')
    .filter((l) => !/^\s*(pid-file|xenstored-log-file|access-log-file)\s*=/.test(l))
    .join('\n');
  return (
    `${kept}\n# memcoop: pid and logs in this daemon's own directory\n` +
    `pid-file = ${join(dir, 'xenstored.pid')}\n` +
    `xenstored-log-file = ${join(dir, 'xenstored.log')}\n` +
    `access-log-file = ${join(dir, 'access.log')}\n`
  );
}

/** Spawns the daemon in `dir` (its socket is dir/socket; its output goes to dir/daemon.out). */
export function spawnXenstored(kind: XenstoredKind, dir: string, shim: string): ChildProcess {
  const log = openSync(join(dir, 'daemon.out'), 'a');
  // The daemon dies with this process even if a signal kills it (the shim watches this pid).
  const parent = { MEMCOOP_SHIM_PARENT_PID: String(process.pid) };
  try {
    if (kind === 'cxenstored') {
      // Without --no-domain-init (broken in 4.17, docs/measurements.md): the shim fakes Dom0's ring instead.
      return spawn(DAEMON_BIN.cxenstored, ['--no-fork', '--pid-file', join(dir, 'xenstored.pid')], {
        env: { ...process.env, ...parent, LD_PRELOAD: shim, XENSTORED_RUNDIR: dir, XENSTORED_ROOTDIR: dir },
        stdio: ['ignore', log, log],
      });
    }
    const conf = join(dir, 'oxenstored.conf');
    writeFileSync(conf, oxenstoredConf(dir));
    mkdirSync(OXENSTORED_RUNDIR, { recursive: true }); // the mount point; stays empty outside
    // unshare and sh exec in turn, so the pid spawned here is oxenstored's own; the shim is
    // preloaded into oxenstored only, not into unshare, sh and mount.
    const script = 'mount --bind "$1" "$2" && exec env LD_PRELOAD="$3" "$4" --no-fork --no-domain-init --config-file "$5"';
    return spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', dir, OXENSTORED_RUNDIR, shim, DAEMON_BIN.oxenstored, conf], {
      env: { ...process.env, ...parent },
      stdio: ['ignore', log, log],
    });
  } finally {
    closeSync(log);
  }
}

/** One XS_DIRECTORY "/" round trip on a fresh connection; resolves true once a whole reply header arrives. */
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

/** Resolves once the daemon answers on dir/socket; rejects (with its output) if it exits first or is too slow. */
export async function waitXenstoredReady(child: ChildProcess, kind: XenstoredKind, dir: string): Promise<void> {
  const socketPath = join(dir, 'socket');
  const deadline = Date.now() + START_TIMEOUT_MS;
  let exited: string | null = null;
  const onExit = (code: number | null, sig: string | null) => {
    exited = `exited with ${code ?? sig}`;
  };
  if (child.exitCode !== null || child.signalCode !== null) onExit(child.exitCode, child.signalCode);
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

/** SIGTERM to this child's own pid, SIGKILL after STOP_GRACE_MS; resolves when it has exited. */
export function stopXenstored(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) {
      resolve();
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export interface DevXenstored {
  kind: XenstoredKind;
  socketPath: string;
  dir: string;
  pid: number;
  /** Resolves when the daemon exits on its own. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Starts one in a fresh folder (under `parent`, default the system's temporary folder). */
export async function startDevXenstored(kind: XenstoredKind, parent = tmpdir()): Promise<DevXenstored> {
  const why = xenstoredUnavailable(kind);
  if (why) throw new Error(why);
  const shim = buildShim();
  const dir = mkdtempSync(join(parent, `memcoop-${kind}-`));
  const child = spawnXenstored(kind, dir, shim);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const stop = async () => {
    await stopXenstored(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitXenstoredReady(child, kind, dir);
  } catch (e) {
    await stop();
    throw e;
  }
  return { kind, socketPath: join(dir, 'socket'), dir, pid: child.pid!, exited, stop };
}
