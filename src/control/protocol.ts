// The control socket's protocol: JSON lines. A client writes one request per line,
//   {"id": 1, "cmd": "status"}
// and the daemon answers each with one line carrying the same id,
//   {"id": 1, "ok": true, "result": {...}}   or   {"id": 1, "ok": false, "error": "one line"}
// `watch` answers again after every tick until the client closes the connection. Requests are
// untrusted input (anyone root can connect): bounded in size, checked field by field.
import { InputError, object, string } from '../util/validate.ts';

/** A request line longer than this is refused and the connection closed: no command needs more. */
export const MAX_REQUEST_BYTES = 64 * 1024;

export const COMMANDS = ['status', 'explain', 'watch', 'reserve', 'release', 'ping'] as const;
export type Command = (typeof COMMANDS)[number];

export interface Request {
  id: number;
  cmd: Command;
  [field: string]: unknown;
}

export type Response = { id: number; ok: true; result: unknown } | { id: number | null; ok: false; error: string };

/** A request from one line, or an InputError naming what is wrong. */
export function parseRequest(line: string): Request {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new InputError('request', 'is not JSON');
  }
  const o = object(v, 'request');
  const id = o.id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) throw new InputError('request.id', 'must be a whole number >= 0');
  const cmd = string(o.cmd, 'request.cmd');
  if (!(COMMANDS as readonly string[]).includes(cmd)) throw new InputError('request.cmd', `must be one of ${COMMANDS.join(', ')}, got ${JSON.stringify(cmd.slice(0, 40))}`);
  return { ...o, id, cmd: cmd as Command };
}

/** The id of a request line that failed to parse, if it has one, so the error can be matched. */
export function idOf(line: string): number | null {
  try {
    const v = JSON.parse(line) as { id?: unknown };
    return typeof v?.id === 'number' && Number.isSafeInteger(v.id) ? v.id : null;
  } catch {
    return null;
  }
}
