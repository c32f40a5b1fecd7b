// QMP's wire messages (QEMU's docs/interop/qmp-spec): one JSON object per line, either the
// greeting ({"QMP": ...}), a command's answer ({"return": ...} or {"error": ...}, carrying the
// id we sent), or an event ({"event": ..., "data": ...}). QEMU is trusted more than a guest, but
// a socket may not be QMP at all, so every line is checked for shape before it is believed.

/**
 * The longest QMP line read: 64 KiB. The answers memcoop asks for are small (query-balloon ~30
 * bytes, guest-stats ~500); a larger line means the socket is not speaking the QMP we use.
 */
export const MAX_QMP_LINE_BYTES = 64 * 1024;

export type QmpMessage =
  | { kind: 'greeting' }
  | { kind: 'return'; id: number; value: unknown }
  | { kind: 'error'; id: number; errorClass: string; desc: string }
  | { kind: 'event'; event: string; data: Record<string, unknown> }
  | { kind: 'bad'; problem: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Error texts and event names are cut to this in what we keep (they end up in logs). */
const MAX_TEXT_CHARS = 200;
const cut = (v: unknown): string => String(v).slice(0, MAX_TEXT_CHARS);

/** One QMP line as a message; a line that is not one of QMP's shapes is `bad`, never thrown. */
export function parseQmpLine(line: string): QmpMessage {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { kind: 'bad', problem: 'not JSON' };
  }
  if (!isObject(v)) return { kind: 'bad', problem: 'not a JSON object' };
  if (isObject(v['QMP'])) return { kind: 'greeting' };
  if (typeof v['event'] === 'string') {
    return { kind: 'event', event: cut(v['event']), data: isObject(v['data']) ? v['data'] : {} };
  }
  const id = v['id'];
  if ('return' in v || 'error' in v) {
    if (typeof id !== 'number' || !Number.isSafeInteger(id)) return { kind: 'bad', problem: 'an answer without our numeric id' };
    if ('return' in v) return { kind: 'return', id, value: v['return'] };
    const e = v['error'];
    if (!isObject(e)) return { kind: 'bad', problem: 'an error that is not an object' };
    return { kind: 'error', id, errorClass: cut(e['class']), desc: cut(e['desc']) };
  }
  return { kind: 'bad', problem: 'neither greeting, answer nor event' };
}

/** A command line as QMP wants it. */
export function formatQmpCommand(id: number, execute: string, args?: Record<string, unknown>): string {
  return JSON.stringify(args === undefined ? { execute, id } : { execute, arguments: args, id }) + '\n';
}

/** A byte count QEMU reports as KiB (integer, rounded down), or null if it is not a usable size. */
export function bytesToKiB(v: unknown): number | null {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return null;
  return Math.floor(v / 1024);
}

/** query-balloon's and BALLOON_CHANGE's `actual`, in KiB. */
export function balloonActualKiB(v: unknown): number | null {
  return isObject(v) ? bytesToKiB(v['actual']) : null;
}

/** query-memory-size-summary's `base-memory` (the -m size, the balloon's ceiling), in KiB. */
export function baseMemoryKiB(v: unknown): number | null {
  return isObject(v) ? bytesToKiB(v['base-memory']) : null;
}

/**
 * The virtio-balloon guest statistics (qom-get .../guest-stats) memcoop uses. QEMU sends 2^64-1
 * for a statistic the driver has not filled in, and last-update 0 before the first; both read
 * as absent.
 */
export interface GuestStats {
  totalKiB: number;
  freeKiB: number;
  availableKiB: number | null;
  lastUpdate: number;
}

export function parseGuestStats(v: unknown): GuestStats | null {
  if (!isObject(v) || !isObject(v['stats'])) return null;
  const s = v['stats'];
  const lastUpdate = v['last-update'];
  if (typeof lastUpdate !== 'number' || !Number.isSafeInteger(lastUpdate) || lastUpdate <= 0) return null;
  const total = bytesToKiB(s['stat-total-memory']);
  const free = bytesToKiB(s['stat-free-memory']);
  if (total === null || free === null || free > total) return null;
  return { totalKiB: total, freeKiB: free, availableKiB: bytesToKiB(s['stat-available-memory']), lastUpdate };
}
