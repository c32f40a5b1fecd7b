// npm run bench:agent [-- --seconds N] [--json]
// memcoop-agent's cost in a guest: resident memory and CPU time, at the paper's 1 s interval,
// over a run of --seconds (default 60), side by side with what the paper's agent was, a shell
// loop reading /proc/meminfo every second (`while :; do cat /proc/meminfo >/dev/null; sleep 1;
// done`), measured in the same run. The agents are the static build a guest runs
// (native/build/agent/memcoop-agent-static), one on the virtio-serial transport (a unix socket
// this bench listens on, counting the reports) and, where the xenstored fixture runs, one on
// XenStore (a real C xenstored). Defaults: --threshold 4 MiB, --heartbeat 5 s, as in a guest.
//
// RSS: VmRSS (and the peak, VmHWM) from /proc/<pid>/status at the end. CPU: utime + stime from
// /proc/<pid>/stat (clock ticks), plus cutime + cstime for the shell loop (its cat and sleep
// children, reaped each second); the agents' CPU also from /proc/<pid>/task/*/schedstat
// (nanoseconds: one tick is 10 ms, coarse for a process that runs ~100 us a second).
// Goals (issue 7): agent RSS under 1 MiB, CPU under 0.05 % of a core.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadXenAddon } from '../src/hosts/xen/addon.ts';
import { meminfoPath } from '../src/hosts/xen/layout.ts';
import { openXenStore, type XenStore } from '../src/hosts/xen/xenstore.ts';
import { startXenstored, xenstoredUnavailable, type XenstoredFixture } from '../testbed/xenstored-fixture.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const AGENT = join(ROOT, 'native/build/agent/memcoop-agent-static');
/** The paper's 1 s tick, for the agent and the shell loop alike. */
const INTERVAL_S = 1;
const DEFAULT_SECONDS = 60;
/** Issue 7's goals. */
const GOAL_RSS_KIB = 1024;
const GOAL_CPU_PERCENT = 0.05;
/** A domid for the XenStore agent (every fixture client is dom0, so paths are absolute). */
const BENCH_DOMID = 9;

interface Args {
  seconds: number;
  json: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { seconds: DEFAULT_SECONDS, json: false };
  for (let i = 0; i < argv.length; i++) {
    const o = argv[i];
    if (o === '--json') a.json = true;
    else if (o === '--seconds') {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 3) throw new Error('bench:agent: --seconds needs an integer >= 3');
      a.seconds = v;
    } else throw new Error(`bench:agent: unknown option ${o} (--seconds N, --json)`);
  }
  return a;
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime, stime, cutime, cstime (ticks) from /proc/<pid>/stat. */
function statTicks(pid: number): { self: number; children: number } {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): utime is field 14, so f[11]; stime f[12]; cutime f[13]; cstime f[14].
  return { self: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
}

/** CPU nanoseconds of every thread of pid (schedstat's first field). */
function schedNs(pid: number): number {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
  }
  return ns;
}

function statusKiB(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

interface Measured {
  name: string;
  rssKiB: number;
  peakKiB: number;
  cpuMs: number;
  cpuPercent: number;
  /** How the CPU was read. */
  cpuFrom: 'schedstat' | 'stat ticks (with children)';
  ticks: number;
  reports: number | null;
  cpuUsPerTick: number;
  cpuUsPerReport: number | null;
}

interface Runner {
  name: string;
  child: ChildProcess;
  reports: () => number | null;
  withChildren: boolean;
  start?: { ns: number; ticks: number };
  reportsAtStart?: number;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts/build-agent.mjs'), '--quiet'], { stdio: 'inherit' });
  if (built.status !== 0 || !existsSync(AGENT)) throw new Error('bench:agent: npm run build:agent failed');
  const dir = mkdtempSync(join(tmpdir(), 'memcoop-bench-agent-'));
  const runners: Runner[] = [];
  let server: Server | null = null;
  let fx: XenstoredFixture | null = null;
  let xs: XenStore | null = null;
  try {
    // The host end of the virtio-serial port, counting reports.
    const sock = join(dir, 'port.sock');
    let serialReports = 0;
    server = createServer((s) => {
      let buf = '';
      s.on('data', (d) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line === 'end') serialReports++;
          if (line.startsWith('hello ')) s.write('mode self protocol=1\n');
        }
      });
      s.on('error', () => {});
    });
    await new Promise<void>((r) => server!.listen(sock, r));
    const common = ['--interval', String(INTERVAL_S)];
    runners.push({
      name: 'memcoop-agent-static, virtio-serial',
      child: spawn(AGENT, ['--port', sock, ...common], { stdio: ['ignore', 'ignore', 'ignore'] }),
      reports: () => serialReports,
      withChildren: false,
    });

    const why = xenstoredUnavailable('cxenstored');
    let xsNote = '';
    if (why === null) {
      fx = await startXenstored('cxenstored');
      // Reports counted by a watch on the report key (Dom0's view), where the addon is built.
      let xsReports: number | null = null;
      if (loadXenAddon().ok) {
        xs = await openXenStore({ socketPath: fx.socketPath, socketOnly: true });
        xsReports = 0;
        // The watch fires once when set (the key does not exist yet, so no report is counted).
        await xs.watch(meminfoPath(BENCH_DOMID), 'bench', () => {
          xsReports!++;
        });
        xsReports = 0;
      }
      runners.push({
        name: 'memcoop-agent-static, XenStore',
        child: spawn(AGENT, ['--transport', 'xenstore', '--domid', String(BENCH_DOMID), ...common], {
          stdio: ['ignore', 'ignore', 'ignore'],
          env: { ...process.env, XENSTORED_PATH: fx.socketPath },
        }),
        reports: () => xsReports,
        withChildren: false,
      });
    } else {
      xsNote = `XenStore agent not measured: ${why}`;
    }

    const loop = `while :; do cat /proc/meminfo >/dev/null; sleep ${INTERVAL_S}; done`;
    runners.push({
      name: 'sh loop: cat /proc/meminfo; sleep 1',
      // Its own process group (detached), stopped by that group's id at the end.
      child: spawn('/bin/sh', ['-c', loop], { stdio: 'ignore', detached: true }),
      reports: () => null,
      withChildren: true,
    });

    // Let them start (the agents' first report, the shell's first cat), then take the baseline.
    await new Promise((r) => setTimeout(r, 1500));
    for (const r of runners) {
      r.reportsAtStart = r.reports() ?? 0;
      const pid = r.child.pid!;
      const t = statTicks(pid);
      r.start = { ns: r.withChildren ? 0 : schedNs(pid), ticks: t.self + (r.withChildren ? t.children : 0) };
    }
    const t0 = performance.now();
    if (!args.json) process.stderr.write(`bench:agent: measuring for ${args.seconds} s...\n`);
    await new Promise((r) => setTimeout(r, args.seconds * 1000));
    const elapsedMs = performance.now() - t0;

    const results: Measured[] = runners.map((r) => {
      const pid = r.child.pid!;
      const t = statTicks(pid);
      const ticksUsed = t.self + (r.withChildren ? t.children : 0) - r.start!.ticks;
      const cpuMs = r.withChildren ? (ticksUsed * 1000) / CLK_TCK : (schedNs(pid) - r.start!.ns) / 1e6;
      const ticks = Math.round(elapsedMs / 1000 / INTERVAL_S);
      const reportsTotal = r.reports();
      const reports = reportsTotal === null ? null : reportsTotal - r.reportsAtStart!;
      return {
        name: r.name,
        rssKiB: statusKiB(pid, 'VmRSS'),
        peakKiB: statusKiB(pid, 'VmHWM'),
        cpuMs,
        cpuPercent: (cpuMs / elapsedMs) * 100,
        cpuFrom: r.withChildren ? 'stat ticks (with children)' : 'schedstat',
        ticks,
        reports,
        cpuUsPerTick: (cpuMs * 1000) / ticks,
        cpuUsPerReport: reports ? (cpuMs * 1000) / reports : null,
      };
    });

    const agentsOk = results.filter((r) => r.name.startsWith('memcoop-agent'));
    const goals = {
      rssUnder1MiB: agentsOk.every((r) => r.rssKiB < GOAL_RSS_KIB),
      cpuUnder005Percent: agentsOk.every((r) => r.cpuPercent < GOAL_CPU_PERCENT),
    };
    const pad = (s: string, n: number) => s.padEnd(n);
    const num = (v: number | null, d = 0) => (v === null ? '-' : v.toFixed(d)).padStart(10);
    const lines = [
      `bench:agent: ${args.seconds} s at a ${INTERVAL_S} s interval (${results[0]?.ticks ?? 0} ticks), CPU from schedstat (agents) or stat ticks of ${1000 / CLK_TCK} ms (shell, children included)`,
      `${pad('process', 38)}${'RSS KiB'.padStart(10)}${'peak KiB'.padStart(10)}${'CPU ms'.padStart(10)}${'CPU %'.padStart(10)}${'us/tick'.padStart(10)}${'reports'.padStart(10)}${'us/report'.padStart(10)}`,
      ...results.map(
        (r) => `${pad(r.name, 38)}${num(r.rssKiB)}${num(r.peakKiB)}${num(r.cpuMs, 1)}${num(r.cpuPercent, 4)}${num(r.cpuUsPerTick, 1)}${num(r.reports)}${num(r.cpuUsPerReport, 1)}`,
      ),
      `goals: agent RSS < ${GOAL_RSS_KIB} KiB: ${goals.rssUnder1MiB ? 'met' : 'NOT met'}; agent CPU < ${GOAL_CPU_PERCENT} % of a core: ${goals.cpuUnder005Percent ? 'met' : 'NOT met'}`,
      ...(xsNote ? [xsNote] : []),
    ];
    console.log(lines.join('\n'));
    if (args.json) {
      console.log(JSON.stringify({ bench: 'agent', seconds: args.seconds, intervalS: INTERVAL_S, elapsedMs: Math.round(elapsedMs), results, goals }));
    }
  } finally {
    for (const r of runners) {
      const pid = r.child.pid;
      if (!pid || r.child.exitCode !== null) continue;
      try {
        // The shell loop by its process group's id (its sleep child with it); agents by pid.
        process.kill(r.withChildren ? -pid : pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    await xs?.close();
    await fx?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
