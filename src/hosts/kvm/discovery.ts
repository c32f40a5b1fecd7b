// Where the KVM host finds its guests. Convention (docs/kvm.md): a guests directory holding one
// subdirectory per guest, named for it, with QEMU's QMP socket `qmp.sock` and the agent port's
// chardev socket `agent.sock` inside:
//
//   <guestsDir>/<name>/qmp.sock     -qmp unix:<guestsDir>/<name>/qmp.sock,server=on,wait=off
//   <guestsDir>/<name>/agent.sock   -chardev socket,id=..,path=<guestsDir>/<name>/agent.sock,server=on,wait=off
//
// plus, or instead, guests listed in the config with their two socket paths. The directory is
// re-read every probe, so guests come and go while the daemon runs. Names are the operator's
// (directory names or config), never a guest's text; they become supervisor ids.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export const QMP_SOCKET_NAME = 'qmp.sock';
export const AGENT_SOCKET_NAME = 'agent.sock';
/** A guest name: what a supervisor id and a journal line can hold safely. */
export const GUEST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Reserved: the supervisor's id for Dom0 (src/vocabulary/writes.ts). */
export const RESERVED_NAMES: ReadonlySet<string> = new Set(['dom0']);

export interface GuestSockets {
  name: string;
  qmp: string;
  agent: string;
}

export function validGuestName(name: string): boolean {
  return GUEST_NAME.test(name) && !RESERVED_NAMES.has(name);
}

/** The guests under `dir` with a QMP socket now; a missing dir is no guests. Invalid names are returned apart. */
export async function scanGuestsDir(dir: string): Promise<{ guests: GuestSockets[]; invalid: string[] }> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { guests: [], invalid: [] };
    throw e;
  }
  const guests: GuestSockets[] = [];
  const invalid: string[] = [];
  for (const ent of entries) {
    if (!ent.isDirectory()) continue;
    if (!validGuestName(ent.name)) {
      invalid.push(ent.name);
      continue;
    }
    const qmp = join(dir, ent.name, QMP_SOCKET_NAME);
    try {
      if (!(await stat(qmp)).isSocket()) continue;
    } catch {
      continue; // no QMP socket (yet): not a guest now
    }
    guests.push({ name: ent.name, qmp, agent: join(dir, ent.name, AGENT_SOCKET_NAME) });
  }
  return { guests, invalid };
}

/**
 * The socket's identity: a new QEMU at the same path makes a new socket. The inode alone is not
 * enough (tmpfs hands a freed inode number to the next file at once, seen here), so its change
 * time, in nanoseconds, is part of it.
 */
export async function socketIdentity(path: string): Promise<string | null> {
  try {
    const s = await stat(path, { bigint: true });
    return s.isSocket() ? `${s.dev}:${s.ino}:${s.ctimeNs}` : null;
  } catch {
    return null;
  }
}
