// Small helpers for the KVM tier: a logger the test reads back, and waiting on a condition.
import type { DestinationStream } from 'pino';
import { createLogger, type Logger } from '../../../src/log/logger.ts';

export const MIB = 1024;

export type LogLine = Record<string, unknown> & { msg: string; level: number };

export function captureLogger(level = 'debug'): { logger: Logger; lines: LogLine[]; raw: string[] } {
  const lines: LogLine[] = [];
  const raw: string[] = [];
  const destination: DestinationStream = {
    write(s: string) {
      for (const l of s.split('\n')) {
        if (!l) continue;
        raw.push(l);
        lines.push(JSON.parse(l) as LogLine);
      }
    },
  };
  return { logger: createLogger({ level, destination }), lines, raw };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after timeoutMs. */
export async function until<T>(what: string, check: () => T | undefined | false | null, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false && v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
