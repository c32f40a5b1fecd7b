// One trial of bench:kvm: boot the experiment's guests, warm them up, give each its initial
// balloon, hand them to a policy (none for static and unlimited; otherwise the real daemon,
// `memcoop run --host kvm` with supervisor.policy), start every workload at once, and collect
// runtimes, swap and fault counts, OOM kills, balloon samples and the balloon lag.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { QmpClient } from '../src/hosts/kvm/qmp.ts';
import { startTestbed, type Guest, type Testbed } from '../testbed/qemu.ts';
import type { JobResult } from '../testbed/control.ts';
import type { Initramfs } from '../testbed/initramfs.ts';
import { balloonLag, targetWritesFromLog, type BalloonChange, type LagSummary } from './kvm-lag.ts';
import { MIB } from '../src/vocabulary/units.ts';

const REPO = resolve(import.meta.dirname, '..');
/** Memory the warmup leaves untouched (MiB): the guest kernel and /init's own (~55 MiB measured
 * as balloon minus MemTotal) plus headroom, so the warmup never swaps. */
const WARMUP_SPARE_MIB = 112;
/** The paper's 1 s tick; also the bench's balloon sampling period. */
const TICK_MS = 1000;
/** Within this of its target a balloon counts as set (the daemon's balloonSlackKiB default). */
const BALLOON_SLACK_KIB = 1024;
/** The harness's own balloon settings (initial allocation) must land within this, or the trial fails. */
const INITIAL_SET_TIMEOUT_MS = 90_000;
/** The daemon gets this long to find the guests and hear their agents before workloads start. */
const DAEMON_SETTLE_MS = 4_000;

export interface GuestPlan {
  name: string;
  /** Boot size (-m): the most the balloon can give. */
  maxMiB: number;
  /** Balloon size when the workloads start (all policies but unlimited). */
  initialMiB: number;
  program: string;
  args: (string | number)[];
}

export interface Experiment {
  id: string;
  title: string;
  guests: GuestPlan[];
  /** memory the policies share (the daemon's kvm.poolKiB), MiB. */
  poolMiB: number;
  /** Guest minimum for the daemon (guests.default.minKiB), KiB. */
  minKiB: number;
}

/** static: the initial split, held; unlimited: every guest at its boot size; else a daemon policy. */
export type PolicyRun = 'static' | 'unlimited' | 'memcoop' | 'selfballoon' | 'qmemman' | 'squeezed' | 'mom';

export interface GuestOutcome {
  name: string;
  program: string;
  code: number;
  ms: number;
  programMs: number;
  pswpin: number;
  pswpout: number;
  pgmajfault: number;
  oomKills: number;
  /** The trial was cut off before this workload finished: ms is the cut-off, a lower bound. */
  censored?: boolean;
}

export interface TrialResult {
  experiment: string;
  policy: PolicyRun;
  trial: number;
  accel: string;
  bootMs: number[];
  guests: GuestOutcome[];
  /** Balloon sizes sampled every second from the start of the workloads: name -> [t s, MiB]. */
  samples: Record<string, [number, number][]>;
  lag: LagSummary | null;
  targetWrites: number;
  runDir: string;
  error?: string;
}

/** A trial's workloads are cut off after timeoutMs (a policy that leaves a guest thrashing would
 * otherwise hold the whole benchmark); the trial is then reported as failed with the reason. */
export async function runTrial(exp: Experiment, policy: PolicyRun, trial: number, initramfs: Initramfs, timeoutMs: number): Promise<TrialResult> {
  let tb: Testbed | undefined;
  let daemonPid: number | undefined;
  let daemonExit: Promise<unknown> = Promise.resolve();
  const observers: QmpClient[] = [];
  const changes: BalloonChange[] = [];
  const samples: Record<string, [number, number][]> = {};
  let sampler: NodeJS.Timeout | undefined;
  let finished: (JobResult | undefined)[] = [];
  const result: TrialResult = { experiment: exp.id, policy, trial, accel: '', bootMs: [], guests: [], samples, lag: null, targetWrites: 0, runDir: '' };
  try {
    tb = await startTestbed(exp.guests.map((g) => ({ name: g.name, memMiB: g.maxMiB })), { initramfs, observerQmp: true });
    result.accel = tb.accel.kind;
    result.runDir = tb.runDir;
    result.bootMs = tb.guests.map((g) => g.bootMs ?? NaN);
    for (const g of tb.guests) {
      const name = g.name;
      observers.push(await QmpClient.connect(g.observerQmpSocket!, {
        onEvent: (e) => {
          if (e.event === 'BALLOON_CHANGE' && typeof e.data.actual === 'number') changes.push({ guest: name, at: Date.now(), actualKiB: Math.round(e.data.actual / 1024) });
        },
      }));
    }
    await Promise.all(tb.guests.map((g) => g.control.warmup('warmup', g.spec.memMiB - WARMUP_SPARE_MIB)));
    if (policy !== 'unlimited') await setBalloons(tb.guests, observers, exp.guests.map((p) => p.initialMiB * MIB));

    if (policy !== 'static' && policy !== 'unlimited') {
      const d = startDaemon(exp, policy, tb.runDir);
      daemonPid = d.pid;
      daemonExit = d.exited;
      await new Promise((r) => setTimeout(r, DAEMON_SETTLE_MS));
    }

    const t0 = Date.now();
    const sample = async () => {
      await Promise.all(observers.map(async (q, i) => {
        const r = (await q.execute('query-balloon').catch(() => null)) as { actual?: number } | null;
        if (r?.actual !== undefined) (samples[tb!.guests[i]!.name] ??= []).push([(Date.now() - t0) / 1000, Math.round(r.actual / 1024 / 1024)]);
      }));
    };
    await sample();
    sampler = setInterval(() => void sample(), TICK_MS);
    let timer: NodeJS.Timeout | undefined;
    finished = tb.guests.map(() => undefined);
    const jobs = await Promise.race([
      Promise.all(tb.guests.map((g, i) => g.control.run(`job${trial}`, exp.guests[i]!.program, exp.guests[i]!.args).then((j) => (finished[i] = j)))),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const done = tb!.guests.map((g, i) => `${g.name} ${finished[i] ? `${(finished[i]!.ms / 1000).toFixed(1)} s` : 'running'}`).join(', ');
          reject(new Error(`workloads cut off after ${timeoutMs / 1000} s (${done})`));
        }, timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    clearInterval(sampler);
    sampler = undefined;
    await sample();
    result.guests = tb.guests.map((g, i) => outcome(g, exp.guests[i]!.program, jobs[i]!));
  } catch (e) {
    result.error = (e as Error).message;
    // A cut-off trial still says something: the finished workloads' times, and for the others
    // at least the cut-off (marked censored; counters unknown).
    if (result.error.startsWith('workloads cut off') && tb) {
      result.guests = tb.guests.map((g, i) => {
        const j = finished[i];
        if (j) return outcome(g, exp.guests[i]!.program, j);
        return { name: g.name, program: exp.guests[i]!.program, code: -1, ms: timeoutMs, programMs: NaN, pswpin: NaN, pswpout: NaN, pgmajfault: NaN, oomKills: 0, censored: true };
      });
    }
  } finally {
    if (sampler) clearInterval(sampler);
    if (daemonPid !== undefined) {
      try { process.kill(daemonPid, 'SIGTERM'); } catch { /* gone */ }
      const gone = await Promise.race([daemonExit.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
      if (!gone) try { process.kill(daemonPid, 'SIGKILL'); } catch { /* gone */ }
    }
    for (const q of observers) q.close();
    if (tb) {
      for (const g of result.guests) g.oomKills = tb.guests.find((x) => x.name === g.name)!.oomKills();
      await tb.stop();
    }
  }
  if (daemonPid !== undefined && result.runDir) {
    const writes = targetWritesFromLog(readFileSync(join(`${result.runDir}.daemon`, 'daemon.log'), 'utf8'));
    result.targetWrites = writes.length;
    result.lag = balloonLag(writes, changes);
  }
  return result;
}

function outcome(g: Guest, program: string, j: JobResult): GuestOutcome {
  return {
    name: g.name, program, code: j.code, ms: j.ms, programMs: Number(j.result.ms ?? NaN),
    pswpin: j.vmstat.pswpin, pswpout: j.vmstat.pswpout, pgmajfault: j.vmstat.pgmajfault, oomKills: j.vmstat.oom_kill,
  };
}

/** Sets every balloon through the observer monitors and waits until each has landed. */
async function setBalloons(guests: Guest[], qmps: QmpClient[], bytes: number[]): Promise<void> {
  await Promise.all(qmps.map((q, i) => q.execute('balloon', { value: bytes[i]! * 1024 })));
  const deadline = Date.now() + INITIAL_SET_TIMEOUT_MS;
  for (;;) {
    const actual = await Promise.all(qmps.map(async (q) => ((await q.execute('query-balloon')) as { actual: number }).actual / 1024));
    if (actual.every((a, i) => Math.abs(a - bytes[i]!) <= BALLOON_SLACK_KIB)) return;
    if (Date.now() > deadline) throw new Error(`initial balloons did not land: ${guests.map((g, i) => `${g.name} ${Math.round(actual[i]! / MIB)}/${bytes[i]! / MIB} MiB`).join(', ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function startDaemon(exp: Experiment, policy: PolicyRun, runDir: string): { pid: number; exited: Promise<unknown> } {
  // Beside the guests directory, not in it: the daemon reads every entry there as a guest.
  const dir = `${runDir}.daemon`;
  mkdirSync(dir, { recursive: true });
  const config = [
    'host: kvm',
    `tickMs: ${TICK_MS}`,
    `journal: ${JSON.stringify(join(dir, 'journal.jsonl'))}`,
    'logLevel: debug',
    'kvm:',
    `  guestsDir: ${JSON.stringify(runDir)}`,
    `  poolKiB: ${exp.poolMiB * MIB}`,
    'guests:',
    '  default:',
    `    minKiB: ${exp.minKiB}`,
    'supervisor:',
    `  policy: ${policy}`,
    // The pool is already what the guests may have (the host's own reserve is outside it), and
    // static allocation hands all of it out: a policy reserve here would be memory no policy
    // but static may use. Every daemon policy runs with none.
    '  params:',
    '    reserveKiB: 0',
    // The host is not in the pool: its own need arrives through kvm.hostMinAvailableKiB, so its
    // share of the pool starts at nothing (the Xen default of 400 MiB for Dom0 would reclaim
    // most of a 640 MiB pool from the guests at once).
    '  dom0:',
    '    minKiB: 0',
    '',
  ].join('\n');
  const cfg = join(dir, 'memcoop.yaml');
  writeFileSync(cfg, config);
  const out = openSync(join(dir, 'daemon.log'), 'w');
  const child = spawn(process.execPath, [join(REPO, 'bin', 'memcoop.mjs'), 'run', '--host', 'kvm', '--config', cfg], { stdio: ['ignore', out, out] });
  closeSync(out);
  if (child.pid === undefined) throw new Error('memcoop run could not be started');
  const kill = () => { try { child.kill('SIGKILL'); } catch { /* gone */ } };
  process.once('exit', kill);
  const exited = new Promise((r) => child.once('exit', () => { process.off('exit', kill); r(undefined); }));
  return { pid: child.pid, exited };
}
