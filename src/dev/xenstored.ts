// A real xenstored for people trying memcoop without Xen: oxenstored, or the C xenstored of
// xen-utils-4.17, started with memcoop's LD_PRELOAD shim (native/shim/xenstored-shim.c stubs the
// hypervisor devices it would open; docs/measurements.md section 1) in a fresh directory, with
// its socket there. The same way the tests' fixture starts one (testbed/xenstored-fixture.ts),
// for `memcoop dev xenstored`. Stopped by its own pid.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export type XenstoredKind = 'oxenstored' | 'cxenstored';

/** Where Debian's xen-utils-4.17 puts the daemons. */
export const XEN_BIN_DIR = '/usr/lib/xen-4.17/bin';
const DAEMON_BIN: Record<XenstoredKind, string> = { oxenstored: join(XEN_BIN_DIR, 'oxenstored'), cxenstored: join(XEN_BIN_DIR, 'xenstored') };
/** Debian's oxenstored config, the base of the private copy. */
const OXENSTORED_CONF = '/etc/xen/oxenstored.conf';
/** oxenstored's socket directory is compiled in: a private mount namespace bind-mounts ours over it. */
const OXENSTORED_RUNDIR = '/run/xenstored';
/** Give up on a daemon that has not answered by then (measured start here: 40-100 ms). */
const START_TIMEOUT_MS = 10_000;
const CONNECT_RETRY_MS = 5;
/** SIGTERM, then SIGKILL after this long. */
const STOP_GRACE_MS = 3_000;
/** XS_DIRECTORY (xen/io/xs_wire.h): the request that shows the daemon answers. */
const XS_DIRECTORY = 1;
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
export function whyNot(kind: XenstoredKind): string | null {
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

/** Builds the shim under native/build/shim/ if it is missing or older than its source. */
export function buildShim(): string {
  const root = projectRoot();
  const src = join(root, 'native', 'shim', 'xenstored-shim.c');
  const outDir = join(root, 'native', 'build', 'shim');
  const so = join(outDir, 'xenstored-shim.so');
  if (existsSync(so) && statSync(so).mtimeMs >= statSync(src).mtimeMs) return so;
  mkdirSync(outDir, { recursive: true });
  const tmp = join(outDir, `.xenstored-shim.${process.pid}.so`);
  const r = spawnSync('gcc', ['-shared', '-fPIC', '-O2', '-Wall', '-o', tmp, src, '-ldl'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building the xenstored shim failed:\n${r.stderr}`);
  renameSync(tmp, so);
  return so;
}

function spawnDaemon(kind: XenstoredKind, dir: string, shim: string): ChildProcess {
  const log = openSync(join(dir, 'daemon.out'), 'a');
  // The daemon dies with this process even if a signal kills it (the shim watches this pid).
  const parent = { MEMCOOP_SHIM_PARENT_PID: String(process.pid) };
  try {
    if (kind === 'cxenstored') {
      // Without --no-domain-init (broken in 4.17): the shim fakes Dom0's ring instead.
      return spawn(DAEMON_BIN.cxenstored, ['--no-fork', '--pid-file', join(dir, 'xenstored.pid')], {
        env: { ...process.env, ...parent, LD_PRELOAD: shim, XENSTORED_RUNDIR: dir, XENSTORED_ROOTDIR: dir },
        stdio: ['ignore', log, log],
      });
    }
    const base = existsSync(OXENSTORED_CONF) ? readFileSync(OXENSTORED_CONF, 'utf8') : '';
    const conf = join(dir, 'oxenstored.conf');
    writeFileSync(
      conf,
      base
        .split('\n')
        .filter((l) => !/^\s*(pid-file|xenstored-log-file|access-log-file)\s*=/.test(l))
        .join('\n') + `\npid-file = ${join(dir, 'xenstored.pid')}\nxenstored-log-file = ${join(dir, 'xenstored.log')}\naccess-log-file = ${join(dir, 'access.log')}\n`,
    );
    mkdirSync(OXENSTORED_RUNDIR, { recursive: true });
    // unshare and sh exec in turn, so the pid spawned here is oxenstored's own.
    const script = 'mount --bind "$1" "$2" && exec env LD_PRELOAD="$3" "$4" --no-fork --no-domain-init --config-file "$5"';
    return spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', dir, OXENSTORED_RUNDIR, shim, DAEMON_BIN.oxenstored, conf], {
      env: { ...process.env, ...parent },
      stdio: ['ignore', log, log],
    });
  } finally {
    closeSync(log);
  }
}

function probe(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(socketPath);
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
    s.on('data', () => done(true));
    s.on('close', () => done(false));
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
  const why = whyNot(kind);
  if (why) throw new Error(why);
  const shim = buildShim();
  const dir = mkdtempSync(join(parent, `memcoop-${kind}-`));
  const socketPath = join(dir, 'socket');
  const child = spawnDaemon(kind, dir, shim);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const t = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = existsSync(join(dir, 'daemon.out')) ? readFileSync(join(dir, 'daemon.out'), 'utf8').slice(-2000) : '';
      await stop();
      throw new Error(`${kind} exited before answering:\n${log}`);
    }
    if (await probe(socketPath)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${kind} did not answer on ${socketPath} within ${START_TIMEOUT_MS} ms`);
    }
    await new Promise((r) => setTimeout(r, CONNECT_RETRY_MS));
  }
  return { kind, socketPath, dir, pid: child.pid!, exited, stop };
}
