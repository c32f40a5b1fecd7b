// A real xenstored (oxenstored or the C xenstored of xen-utils-4.17) for tests and benches, run
// with no hypervisor through memcoop's LD_PRELOAD shim, started the one way memcoop starts one
// (src/dev/xenstored.ts). What the fixture adds: restarts on the same socket, the time to first
// answer, and killing its daemons (by pid) when the test process exits. Not a fake: the daemon
// is Xen's, only the hypervisor devices under it are stubbed.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killOnExit } from './kill-on-exit.ts';
import { buildShim, spawnXenstored, stopXenstored, waitXenstoredReady, xenstoredUnavailable, type XenstoredKind } from '../src/dev/xenstored.ts';

export { XEN_BIN_DIR, xenstoredUnavailable, type XenstoredKind } from '../src/dev/xenstored.ts';

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

/** Starts a xenstored of the given kind in a fresh temporary directory; resolves once it answers. */
export async function startXenstored(kind: XenstoredKind): Promise<XenstoredFixture> {
  const why = xenstoredUnavailable(kind);
  if (why) throw new Error(why);
  const shim = buildShim();
  const dir = mkdtempSync(join(tmpdir(), `memcoop-${kind}-`));
  const socketPath = join(dir, 'socket');
  let child: ChildProcess | null = null;
  let startMs = 0;

  const start = async () => {
    const t0 = performance.now();
    const c = spawnXenstored(kind, dir, shim);
    killOnExit(c); // a test that dies must not leave daemons behind
    child = c;
    try {
      await waitXenstoredReady(c, kind, dir);
    } catch (e) {
      await stopXenstored(c);
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
      if (child) await stopXenstored(child);
      child = null;
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      if (child) await stopXenstored(child);
      child = null;
      await start();
    },
  };
}
