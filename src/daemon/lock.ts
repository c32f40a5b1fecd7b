// One daemon per host: a pid file taken with O_EXCL. Two memcoop daemons on one host would both
// balance and fight through XenStore transactions (or QMP), each undoing the other's targets,
// so the second refuses to start and names the holder. A pid file whose process is gone (a
// crash, a kill -9) is stale and taken over; a process is "gone" when kill(pid, 0) says ESRCH.
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Where the lock lives when neither --lock nor a host-specific place applies. */
export const DEFAULT_LOCK_DIR = '/run/memcoop';
/** A pid file holds a decimal pid and a newline; anything longer is not one of ours. */
const MAX_PID_FILE_BYTES = 32;

export class LockHeldError extends Error {
  constructor(
    readonly path: string,
    readonly pid: number,
  ) {
    super(`another memcoop daemon (pid ${pid}) holds ${path}; stop it first, or remove ${path} if that pid is not memcoop`);
    this.name = 'LockHeldError';
  }
}

export interface DaemonLock {
  readonly path: string;
  /** Removes the pid file if it is still ours. */
  release(): void;
}

function readPid(path: string): number | null {
  try {
    const text = readFileSync(path, 'utf8');
    if (text.length > MAX_PID_FILE_BYTES) return null;
    const m = /^([1-9][0-9]{0,9})\n?$/.exec(text);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by someone else.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Takes the lock at `path` or throws LockHeldError naming the holder's pid. */
export function acquireLock(path: string): DaemonLock {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = readPid(path);
      if (pid !== null && pid !== process.pid && alive(pid)) throw new LockHeldError(path, pid);
      if (attempt > 0) throw err; // lost a race with another starter twice: say so, do not loop
      // Stale (or unreadable): moved aside rather than deleted, so two daemons starting at once
      // cannot both delete it and both create it; only one O_EXCL create wins.
      try {
        renameSync(path, `${path}.stale-${process.pid}`);
        unlinkSync(`${path}.stale-${process.pid}`);
      } catch {
        // Another starter moved it first; the create below decides.
      }
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return {
      path,
      release() {
        if (readPid(path) === process.pid) {
          try {
            unlinkSync(path);
          } catch {
            // Already gone.
          }
        }
      },
    };
  }
}
