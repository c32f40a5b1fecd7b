// pino, the one logger. Guest loggers are children bound to numeric domid only: text a guest
// supplied (names, reports) never becomes a binding, so a guest cannot forge log fields.
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: string; destination?: DestinationStream } = {}): Logger {
  const level = opts.level ?? process.env.MEMCOOP_LOG_LEVEL ?? 'info';
  return opts.destination ? pino({ level, base: { name: 'memcoop' } }, opts.destination) : pino({ level, base: { name: 'memcoop' } });
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
