// Helpers for the agent tier: the real memcoop-agent binary (built by scripts/build-agent.mjs),
// run as a process on meminfo/vmstat/pressure files the test rewrites, its stderr read line by
// line. Each agent is stopped by its own pid (and killed by pid if the test process exits first).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killOnExit } from '../../testbed/kill-on-exit.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const AGENT_BIN = join(ROOT, 'native/build/agent/memcoop-agent');
export const AGENT_STATIC_BIN = join(ROOT, 'native/build/agent/memcoop-agent-static');

/** Test timings: a fast tick and heartbeat so that every wait is a fraction of a second. */
export const FAST = ['--interval', '0.05', '--heartbeat', '0.3'];

let built: string | false | null = null;

/** Builds the agent (once per test process); the reason it cannot be built, or false. */
export function agentUnbuildable(): string | false {
  if (built !== null) return built;
  if (spawnSync('cc', ['--version']).status !== 0) return (built = 'the agent needs a C compiler (cc): install gcc');
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/build-agent.mjs'), '--quiet'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm run build:agent failed:\n${r.stdout}${r.stderr}`);
  return (built = false);
}

/** The fields of a fake /proc/meminfo (KiB); the rest of a real one is filler the agent skips. */
export interface Mem {
  total: number;
  free: number;
  available?: number;
  committed: number;
  swapTotal?: number;
  swapFree?: number;
}

export function meminfoText(m: Mem): string {
  return (
    `MemTotal:       ${m.total} kB\n` +
    `MemFree:        ${m.free} kB\n` +
    (m.available !== undefined ? `MemAvailable:   ${m.available} kB\n` : '') +
    `Buffers:            1024 kB\n` +
    `Active(anon):       2048 kB\n` +
    `SwapTotal:      ${m.swapTotal ?? 0} kB\n` +
    `SwapFree:       ${m.swapFree ?? 0} kB\n` +
    `Committed_AS:   ${m.committed} kB\n` +
    `HugePages_Total:       0\n`
  );
}

export interface VmStat {
  pswpin: number;
  pswpout: number;
  pgmajfault: number;
  refaultAnon?: number;
  refaultFile?: number;
}

export function vmstatText(v: VmStat): string {
  return (
    `nr_free_pages 1000\n` +
    `pswpin ${v.pswpin}\n` +
    `pswpout ${v.pswpout}\n` +
    `pgmajfault ${v.pgmajfault}\n` +
    (v.refaultAnon !== undefined ? `workingset_refault_anon ${v.refaultAnon}\n` : '') +
    (v.refaultFile !== undefined ? `workingset_refault_file ${v.refaultFile}\n` : '') +
    `pgfault 99999\n`
  );
}

export function pressureText(someAvg10: string, someTotal: number, fullAvg10: string, fullTotal: number): string {
  return (
    `some avg10=${someAvg10} avg60=0.00 avg300=0.00 total=${someTotal}\n` +
    `full avg10=${fullAvg10} avg60=0.00 avg300=0.00 total=${fullTotal}\n`
  );
}

/** A directory holding the three files an agent reads; each write is atomic (write, rename). */
export class ProcFiles {
  readonly dir = mkdtempSync(join(tmpdir(), 'memcoop-agent-'));
  readonly meminfo = join(this.dir, 'meminfo');
  readonly vmstat = join(this.dir, 'vmstat');
  readonly pressure = join(this.dir, 'pressure');

  constructor(mem: Mem, vm: VmStat = { pswpin: 0, pswpout: 0, pgmajfault: 100 }, pressure: string | null = pressureText('0.00', 0, '0.00', 0)) {
    this.setMem(mem);
    this.setVm(vm);
    if (pressure !== null) this.setRaw('pressure', pressure);
  }

  setMem(m: Mem): void {
    this.setRaw('meminfo', meminfoText(m));
  }

  setVm(v: VmStat): void {
    this.setRaw('vmstat', vmstatText(v));
  }

  setRaw(file: 'meminfo' | 'vmstat' | 'pressure', text: string): void {
    const tmp = join(this.dir, `.${file}.tmp`);
    writeFileSync(tmp, text);
    renameSync(tmp, this[file]);
  }

  remove(file: 'meminfo' | 'vmstat' | 'pressure'): void {
    rmSync(this[file], { force: true });
  }

  args(): string[] {
    return ['--meminfo', this.meminfo, '--vmstat', this.vmstat, '--pressure', this.pressure];
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

import { until } from '../xen/xen-harness.ts';

export { until };

/** A running memcoop-agent: its stderr lines, its stdout, its exit. */
export class Agent {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  stdout = '';
  private partial = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env: Record<string, string> = {}, bin = AGENT_BIN) {
    this.child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    killOnExit(this.child);
    this.child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => {
      this.partial += d.toString();
      let nl: number;
      while ((nl = this.partial.indexOf('\n')) >= 0) {
        this.lines.push(this.partial.slice(0, nl));
        this.partial = this.partial.slice(nl + 1);
      }
    });
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  /** Lines matching re so far. */
  matching(re: RegExp): string[] {
    return this.lines.filter((l) => re.test(l));
  }

  /** Waits until at least n stderr lines match re (counting from the start). */
  async waitLine(re: RegExp, n = 1, what = `stderr line ${re}`): Promise<void> {
    await until(() => this.matching(re).length >= n, `${what} (stderr so far:\n${this.lines.join('\n')})`);
  }

  /** SIGTERM (to this agent's own pid); resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return (await this.exited).code;
  }
}
