// `memcoop run --host xen` as a real process against a real xenstored fixture, for the
// reliability tier: its JSON log lines read back as they come, stopped by its own pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from '../xen/xen-harness.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin/memcoop.mjs');

/** The stand-in host's size unless a test says otherwise: 2 GiB with a 512 MiB Dom0. */
const STAND_IN_TOTAL_KIB = 2097152;

/** A config for a small, fast daemon on the stand-in host. */
export function writeConfig(dir: string, extra: string[] = [], hostTotalKiB = STAND_IN_TOTAL_KIB): string {
  const cfg = join(dir, 'memcoop.yaml');
  writeFileSync(
    cfg,
    [
      'tickMs: 100',
      'logLevel: info',
      'xen:',
      `  standIn: { hostTotalKiB: ${hostTotalKiB}, dom0KiB: 524288, dom0CommittedKiB: 262144 }`,
      'supervisor:',
      '  silenceTicks: 86400',
      '  dom0: { minKiB: 262144, maxKiB: 1048576 }',
      ...extra,
      '',
    ].join('\n'),
  );
  return cfg;
}

export interface DaemonProcess {
  readonly child: ChildProcess;
  readonly lines: Array<{ msg?: string; level?: number; [k: string]: unknown }>;
  stderr(): string;
  readonly exited: Promise<number | null>;
  /** Waits for a log line whose msg matches. */
  waitFor(msg: RegExp | string, what?: string, timeoutMs?: number): Promise<void>;
  /** SIGTERM (then SIGKILL after a while), and the exit code. */
  stop(): Promise<number | null>;
}

export function startDaemonProcess(args: string[]): DaemonProcess {
  const child = spawn(process.execPath, [BIN, 'run', '--host', 'xen', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: DaemonProcess['lines'] = [];
  let err = '';
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (l) lines.push(JSON.parse(l) as DaemonProcess['lines'][number]);
    }
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const matches = (m: string | undefined, re: RegExp | string) => (typeof re === 'string' ? m === re : re.test(m ?? ''));
  return {
    child,
    lines,
    stderr: () => err,
    exited,
    waitFor: (msg, what, timeoutMs) => until(() => lines.some((l) => matches(l.msg, msg)), `${what ?? String(msg)} (stderr: ${err})`, timeoutMs),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        const code = await exited;
        clearTimeout(t);
        return code;
      }
      return exited;
    },
  };
}
