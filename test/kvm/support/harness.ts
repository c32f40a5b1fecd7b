// Small helpers for the KVM tier: a logger the test reads back, and waiting on a condition.

export const MIB = 1024;

// The same reader as the Xen tier's.
export { captureLogger, type LogLine } from '../../xen/xen-harness.ts';

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
