// memcoop reserve SIZE [--for SECONDS] [--timeout SECONDS] | memcoop reserve --release ID:
// make room for a domain about to start, through the running daemon's control socket.
import { ask, resolveControlPath } from '../control/client.ts';
import { DEFAULT_RESERVE_FOR_S, DEFAULT_RESERVE_TIMEOUT_S, type ReserveAnswer } from '../control/reservations.ts';
import { mib } from '../policy/explain.ts';
import { commandArgs } from './command-args.ts';

const USAGE = `usage: memcoop reserve SIZE [--for SECONDS] [--timeout SECONDS] [--json] [--control PATH]
       memcoop reserve --release ID [--control PATH]

Makes SIZE of host memory free for a domain about to start (as squeezed's reserve-memory and
qmemman's request do): the daemon serves it like Dom0's need, first, taking memory back from the
guests in the two-phase way and never below a guest's minimum, and answers once it is free:
  reserved <ID>: <SIZE> free (host free <F>, reserve <R> kept besides); held until <time> or --release
If it is not free within --timeout (default ${DEFAULT_RESERVE_TIMEOUT_S} s) the answer says how much could be freed and
why not, and the reservation is released (exit 1). The reservation is released by
'memcoop reserve --release ID', after --for SECONDS (default ${DEFAULT_RESERVE_FOR_S}), or when a new domain of that
size appears (the one it was for).
SIZE: a number with K, M or G (KiB, MiB, GiB; 512M, 1G); a bare number is MiB.
Exit: 0; 1 when the memory could not be freed or no daemon answers; 2 for bad options.`;

/** A daemon clock past this is the wall clock (epoch ms, 2001-09-09); below it, a simulator's virtual time. */
const EPOCH_MS_2001 = 1e12;

const UNIT_KIB: Record<string, number> = { K: 1, M: 1024, G: 1024 * 1024 };

/** SIZE in KiB, or null. */
export function parseSize(s: string): number | null {
  const m = /^([0-9]+)([KMG])?(?:i?B)?$/i.exec(s.trim());
  if (!m) return null;
  const kib = Number(m[1]) * UNIT_KIB[(m[2] ?? 'M').toUpperCase()]!;
  return Number.isSafeInteger(kib) && kib > 0 ? kib : null;
}

export async function run(argv: string[]): Promise<number> {
  const v = commandArgs(
    'reserve',
    USAGE,
    argv,
    { for: { type: 'string' }, timeout: { type: 'string' }, release: { type: 'string' }, json: { type: 'boolean' }, control: { type: 'string' } },
    true,
  );
  if (typeof v === 'number') return v;
  const o = v.values;
  const seconds = (x: string | undefined, name: string): number | undefined | string => {
    if (x === undefined) return undefined;
    const n = Number(x);
    return Number.isFinite(n) && n > 0 ? n : `--${name} must be a number of seconds > 0, got ${JSON.stringify(x)}`;
  };
  const forS = seconds(o.for, 'for');
  const timeoutS = seconds(o.timeout, 'timeout');
  for (const x of [forS, timeoutS]) {
    if (typeof x === 'string') {
      console.error(`memcoop reserve: ${x}`);
      return 2;
    }
  }
  let request: { cmd: string; fields: Record<string, unknown> };
  if (o.release !== undefined) {
    if (v.positionals.length > 0) {
      console.error(`memcoop reserve: --release ID takes no SIZE\n\n${USAGE}`);
      return 2;
    }
    request = { cmd: 'release', fields: { reservation: o.release } };
  } else {
    const size = v.positionals.length === 1 ? parseSize(v.positionals[0]!) : null;
    if (size === null) {
      console.error(`memcoop reserve: ${v.positionals.length === 1 ? `SIZE must be a number with K, M or G, got ${JSON.stringify(v.positionals[0])}` : 'one SIZE (or --release ID)'}\n\n${USAGE}`);
      return 2;
    }
    request = { cmd: 'reserve', fields: { sizeKiB: size, ...(forS !== undefined ? { forS } : {}), ...(timeoutS !== undefined ? { timeoutS } : {}) } };
  }
  const where = resolveControlPath(o.control);
  if ('error' in where) {
    console.error(`memcoop reserve: ${where.error}`);
    return 1;
  }
  // The daemon answers at its timeout; the client waits a little longer than that.
  const wait = (((timeoutS as number | undefined) ?? DEFAULT_RESERVE_TIMEOUT_S) + 10) * 1000;
  try {
    const r = await ask(where.path, request.cmd, request.fields, wait);
    if (o.json) console.log(JSON.stringify(r));
    else if (request.cmd === 'release') console.log(`released ${o.release}`);
    else {
      const a = r as ReserveAnswer;
      if (a.startedDomid !== null) console.log(`reserved ${a.id}: ${mib(a.sizeKiB)} was made free and domain ${a.startedDomid} of that size has started in it; released`);
      else console.log(`reserved ${a.id}: ${mib(a.sizeKiB)} free (host free ${mib(a.freeKiB)}, reserve ${mib(a.reserveKiB)} kept besides); held until ${a.expiresAt > EPOCH_MS_2001 ? new Date(a.expiresAt).toISOString() : `t=${a.expiresAt} ms`} or --release ${a.id}`);
    }
    return 0;
  } catch (e) {
    console.error(`memcoop reserve: ${(e as Error).message}`);
    return 1;
  }
}
