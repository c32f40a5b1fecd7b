// pino, the one logger. Guest loggers are children bound to numeric domid only: text a guest
// supplied (names, reports) never becomes a binding, so a guest cannot forge log fields.
import { pino, type Logger, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/**
 * The daemon's logger: JSON lines, or on a terminal lines for people (pino-pretty, in-process so
 * nothing is lost at exit). MEMCOOP_LOG_FORMAT=json or =pretty chooses either way.
 */
export function createLogger(opts: { level?: string; destination?: DestinationStream } = {}): Logger {
  const level = opts.level ?? process.env.MEMCOOP_LOG_LEVEL ?? 'info';
  if (opts.destination) return pino({ level, base: { name: 'memcoop' } }, opts.destination);
  const format = process.env.MEMCOOP_LOG_FORMAT;
  if (format === 'pretty' || (format !== 'json' && process.stdout.isTTY === true)) {
    return pino({ level, base: { name: 'memcoop' } }, pretty({ colorize: process.stdout.isTTY === true, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  }
  return pino({ level, base: { name: 'memcoop' } });
}

/** A silent logger for tests and replays that do not want output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** The child logger of one guest machine: bound to its domid, a number the host supplied. */
export function guestLogger(parent: Logger, domid: number): Logger {
  if (!Number.isSafeInteger(domid) || domid < 0) throw new Error(`guestLogger: domid must be a non-negative integer, got ${domid}`);
  return parent.child({ domid });
}
