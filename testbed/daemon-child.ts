// A `memcoop run` daemon as a child process for tests: its JSON log lines collected, waited on by
// message, stopped by its own pid (SIGTERM, then SIGKILL if it does not go). For `--host xen`
// against a xenstored fixture, writeXenConfig writes the small stand-in host's config the tests
// share and startXenDaemon starts it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Status } from '../src/control/status.ts';
import { killOnExit } from './kill-on-exit.ts';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BIN = join(ROOT, 'bin/memcoop.mjs');

export interface LogLine {
  msg?: string;
  level?: number;
  [k: string]: unknown;
}

export interface DaemonChild {
  child: ChildProcess;
  lines: LogLine[];
  stderr(): string;
  /** Resolves with the first line matching (a predicate, or its msg: equal to a string, matching a RegExp), or rejects after timeoutMs. */
  waitFor(match: LineMatch, what?: string, timeoutMs?: number): Promise<LogLine>;
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

export type LineMatch = ((l: LogLine) => boolean) | RegExp | string;

function matcher(m: LineMatch): (l: LogLine) => boolean {
  if (typeof m === 'function') return m;
  if (typeof m === 'string') return (l) => l.msg === m;
  return (l) => m.test(l.msg ?? '');
}

export function startDaemonChild(args: string[], env: Record<string, string> = {}): DaemonChild {
  const child = spawn(process.execPath, [BIN, 'run', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  killOnExit(child);
  const lines: LogLine[] = [];
  let err = '';
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        if (l) lines.push(JSON.parse(l) as LogLine);
      } catch {
        lines.push({ msg: l });
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = async (match: LineMatch, what = String(match), timeoutMs = 30_000): Promise<LogLine> => {
    const pred = matcher(match);
    const end = Date.now() + timeoutMs;
    for (;;) {
      const l = lines.find(pred);
      if (l) return l;
      if (child.exitCode !== null) throw new Error(`the daemon exited (${child.exitCode}) before ${what}; stderr: ${err}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; stderr: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return {
    child,
    lines,
    stderr: () => err,
    waitFor,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        const code = await exited;
        clearTimeout(t);
        return code;
      }
      return child.exitCode;
    },
  };
}

/** `memcoop run --host xen ARGS...` (give it --config and --socket). */
export function startXenDaemon(args: string[], env: Record<string, string> = {}): DaemonChild {
  return startDaemonChild(['--host', 'xen', ...args], env);
}

/** The stand-in host's size unless a test says otherwise: 2 GiB, of which Dom0 has 512 MiB. */
const STAND_IN_TOTAL_KIB = 2097152;

export interface XenDaemonConfig {
  /** Between ticks; short, so that a test sees targets soon. */
  tickMs?: number;
  hostTotalKiB?: number;
  /** Lines of the `supervisor:` block after Dom0's bounds, verbatim (a test's params). */
  supervisor?: string[];
  /** Top-level lines after the supervisor block, verbatim (guests: ...). */
  extra?: string[];
}

/**
 * Writes DIR/memcoop.yaml for a small, fast daemon on the stand-in host (a 512 MiB Dom0
 * committing 256 MiB, allowed 256 MiB-1 GiB) and returns its path. silenceTicks is a day's worth:
 * the tests write a guest's report only when they mean to, and a quiet guest must stay managed.
 */
export function writeXenConfig(dir: string, c: XenDaemonConfig = {}): string {
  const cfg = join(dir, 'memcoop.yaml');
  writeFileSync(
    cfg,
    [
      `tickMs: ${c.tickMs ?? 100}`,
      'logLevel: info',
      'xen:',
      `  standIn: { hostTotalKiB: ${c.hostTotalKiB ?? STAND_IN_TOTAL_KIB}, dom0KiB: 524288, dom0CommittedKiB: 262144 }`,
      'supervisor:',
      '  silenceTicks: 86400',
      '  dom0: { minKiB: 262144, maxKiB: 1048576 }',
      ...(c.supervisor ?? []),
      ...(c.extra ?? []),
      '',
    ].join('\n'),
  );
  return cfg;
}

/** Ticks a simulated daemon has decided before startSimDaemon returns: every guest has reported and been balanced. */
const SIM_SETTLED_TICKS = 5;
/** Between status polls while it settles. */
const SIM_POLL_MS = 200;

export interface SimDaemon {
  readonly d: DaemonChild;
  /** Its own temporary folder: the lock (sim.pid), the control socket beside it, the journal. */
  readonly dir: string;
  readonly sock: string;
  readonly journal: string;
  /** `memcoop status --json` against it. */
  status(): Status;
  /** Stops it (by its pid) and removes its folder. */
  stop(): Promise<void>;
}

/**
 * `memcoop run --host sim ARGS...` in a fresh temporary folder, returned once it has decided
 * SIM_SETTLED_TICKS ticks (ARGS: --speed, --scenario, --metrics ...; the lock and journal are set here).
 */
export async function startSimDaemon(args: string[]): Promise<SimDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'memcoop-sim-'));
  const sock = join(dir, 'sim.sock');
  const journal = join(dir, 'journal.jsonl');
  const d = startDaemonChild(['--host', 'sim', ...args, '--lock', join(dir, 'sim.pid'), '--journal', journal]);
  const stop = async () => {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const status = () => JSON.parse(memcoop(['status', '--json', '--control', sock]).stdout) as Status;
  try {
    await d.waitFor('control socket open', 'the control socket');
    for (;;) {
      const r = memcoop(['status', '--json', '--control', sock]);
      if (r.status === 0 && (JSON.parse(r.stdout) as Status).ticks >= SIM_SETTLED_TICKS) break;
      if (d.child.exitCode !== null) throw new Error(`the daemon exited (${d.child.exitCode}); stderr: ${d.stderr()}`);
      await new Promise((res) => setTimeout(res, SIM_POLL_MS));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { d, dir, sock, journal, status, stop };
}

/** Runs a memcoop command to completion. */
export function memcoop(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
}

/** Prometheus text exposition format, parsed: each sample's name, labels and value; and the TYPE lines. */
export function parseExposition(text: string): { samples: { name: string; labels: Record<string, string>; value: number }[]; types: Map<string, string> } {
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const t = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (t) {
      types.set(t[1]!, t[2]!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    if (!m) throw new Error(`not exposition format: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      for (const p of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[p[1]!] = p[2]!;
    }
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}
