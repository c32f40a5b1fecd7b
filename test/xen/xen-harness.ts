// Helpers for the Xen host tests: the test plays the toolstack (a domain's keys) and each guest's
// agent (its data/memcoop keys) on its own XenStore connection, against a real xenstored.
import type { DestinationStream } from 'pino';
import { loadXenAddon } from '../../src/hosts/xen/addon.ts';
import { formatHello, type Hello } from '../../src/hosts/xen/agent-protocol.ts';
import { helloPath, meminfoPath, namePath, staticMaxPath, targetPath } from '../../src/hosts/xen/layout.ts';
import type { XenStore } from '../../src/hosts/xen/xenstore.ts';
import { createLogger, type Logger } from '../../src/log/logger.ts';
import { xenstoredUnavailable, type XenstoredKind } from '../../testbed/xenstored-fixture.ts';

export const MIB = 1024;

/** Why this daemon's tier is skipped here (printed by node:test), or false. */
export function skipReason(kind: XenstoredKind): string | false {
  const addon = loadXenAddon();
  if (!addon.ok) return `Xen tier skipped: ${addon.reason}`;
  const why = xenstoredUnavailable(kind);
  return why ? `Xen tier skipped for ${kind}: ${why}` : false;
}

export interface DomainSeed {
  name: string;
  staticMaxKiB: number;
  targetKiB: number;
}

/** What a toolstack writes for a new domain (the part memcoop reads). */
export async function seedDomain(xs: XenStore, domid: number, d: DomainSeed): Promise<void> {
  await xs.transaction(async (tx) => {
    await tx.write(namePath(domid), d.name);
    await tx.write(staticMaxPath(domid), String(d.staticMaxKiB));
    await tx.write(targetPath(domid), String(d.targetKiB));
  });
}

export async function writeHello(xs: XenStore, domid: number, h: Hello | string): Promise<void> {
  await xs.write(helloPath(domid), typeof h === 'string' ? h : formatHello(h));
}

export interface MeminfoSeed {
  totalKiB: number;
  freeKiB: number;
  committedKiB: number;
  swapTotalKiB?: number;
  swapFreeKiB?: number;
}

/** The lines an agent sends (what memcoop reads of /proc/meminfo). */
export function meminfoText(m: MeminfoSeed): string {
  return (
    `MemTotal:       ${m.totalKiB} kB\n` +
    `MemFree:        ${m.freeKiB} kB\n` +
    `SwapTotal:      ${m.swapTotalKiB ?? 0} kB\n` +
    `SwapFree:       ${m.swapFreeKiB ?? 0} kB\n` +
    `Committed_AS:   ${m.committedKiB} kB\n`
  );
}

export async function writeReport(xs: XenStore, domid: number, m: MeminfoSeed | string): Promise<void> {
  await xs.write(meminfoPath(domid), typeof m === 'string' ? m : meminfoText(m));
}

export async function readKiB(xs: XenStore, path: string): Promise<number | null> {
  const v = await xs.read(path);
  return v === null ? null : Number(v);
}

/** Polls cond every few ms until it holds; fails naming `what` after timeoutMs (a hang guard, not a timing assertion). */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** A real pino logger whose lines the test reads back (JSON-parsed) and sees raw. */
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
