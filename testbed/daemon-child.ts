// A `memcoop run` daemon as a child process for tests: its JSON log lines collected, waited on by
// message, stopped by its own pid (SIGTERM, then SIGKILL if it does not go).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
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
  /** Resolves with the first line matching, or rejects after timeoutMs. */
  waitFor(pred: (l: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

export function startDaemonChild(args: string[], env: Record<string, string> = {}): DaemonChild {
  const child = spawn(process.execPath, [BIN, 'run', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
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
  const waitFor = async (pred: (l: LogLine) => boolean, what: string, timeoutMs = 30_000): Promise<LogLine> => {
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
