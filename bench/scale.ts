// npm run bench:scale [-- --guests N] [--seconds S] [--daemon oxenstored|cxenstored] [--json]
// The whole daemon (`memcoop run --host xen`, a process of its own) against a real xenstored
// with N guests (default 1,000) whose agents (played here, on this bench's own connection)
// report every second. Measured, with the goals of the reliability issue:
//   - discovery: from a domain's keys written to its hello answered (memcoop/mode), per domain;
//     domains appear in batches while the daemon runs (goal: every one within 5 s);
//   - report -> target: a report that moves Committed_AS to its memory/target rewritten its way
//     (up for a rise, down for a fall), timed at the watch event that shows it (goal: p99 < 50 ms),
//     and reports whose target never came (backed-up writes). A report that the next one, a
//     second later and the other way, replaced before its target came is counted apart
//     (superseded): the daemon keeps only a domain's newest target, so it may never be written,
//     rightly (a tick's decrease still waiting when the rise after it arrives). A guest's
//     first report is counted apart: the supervisor takes a guest into self adjustment at the
//     tick after its first report, so that one waits for the tick (up to a second) by design;
//     the goal is for the reports after it;
//   - xenstored's own read latency on a connection of its own, beside it all: its stalls delay
//     every report and write of their moment, whatever the daemon does;
//   - the daemon's RSS (goal: < 120 MB; the compass goal is 80 MB), and its warnings;
//   - at SIGTERM: the warnings the stop itself logs (goal: none per guest);
//   - CPU seconds of the daemon, xenstored and this bench (the agents), and the machine's load:
//     on a shared machine latencies move with others' load, CPU seconds much less.
// MEMCOOP_SCALE_NODE_ARGS passes node flags to the daemon (`--cpu-prof --cpu-prof-dir=out/prof`,
// `--heapsnapshot-signal=SIGUSR2`); MEMCOOP_XENSTORE_PIPE=off sends its requests (and the
// bench's) through libxenstore instead of the pipelined socket, for comparison;
// MEMCOOP_SCALE_ROOT=DIR runs the daemon of another checkout (its bin/memcoop.mjs), measured by
// this bench, to compare two versions side by side.
// Host memory is abundant (a stand-in host of 1 TiB), so every report that raises Committed_AS
// is answered by a prompt self step rather than waiting for the tick; one that lowers it waits
// for the tick (the working room rule, src/policy/pressure.ts), so the report -> target figures are
// also given apart for rises and falls.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadXenAddon } from '../src/hosts/xen/addon.ts';
import { formatHello } from '../src/hosts/xen/agent-protocol.ts';
import { LOCAL_DOMAIN, helloPath, meminfoPath, modePath, namePath, staticMaxPath, targetPath } from '../src/hosts/xen/layout.ts';
import { openXenStore, type XenStore } from '../src/hosts/xen/xenstore.ts';
import { PROTOCOL_VERSION } from '../src/vocabulary/events.ts';
import { startXenstored, xenstoredUnavailable, type XenstoredKind } from '../testbed/xenstored-fixture.ts';
import { quantile } from './stats.ts';
import { MIB } from '../src/vocabulary/units.ts';

/** The reliability issue's figure: 1,000 guests reporting every second. */
const DEFAULT_GUESTS = 1000;
/** Long enough for RSS to settle after discovery and for a few thousand reports. */
const DEFAULT_SECONDS = 60;
/** Domains appear in this many batches, spread over the first DISCOVERY_SPREAD_S seconds. */
const BATCHES = 10;
const DISCOVERY_SPREAD_S = 10;
/** Each agent reports once a second (the paper's interval). */
const REPORT_PERIOD_MS = 1000;
/** Committed_AS alternates between these so every report moves its guest's goal. */
const COMMITTED_KIB = [300 * MIB, 332 * MIB] as const;
/** xenstored's own latency is sampled this often (a read on a connection of its own). */
const PROBE_PERIOD_MS = 5;
/** A probe read slower than this counts as a xenstored stall. */
const STALL_MS = 20;
/** A report whose target has not been rewritten after this long counts as lost (a backed-up write). */
const LOST_AFTER_MS = 5000;
/** Goals. */
const GOAL_DISCOVERY_MS = 5000;
const GOAL_P99_MS = 50;
const GOAL_RSS_MB = 120;
/** Node flags for the daemon's process, space-separated (profiling: `--cpu-prof --cpu-prof-dir=out/prof`). */
const DAEMON_NODE_ARGS_ENV = 'MEMCOOP_SCALE_NODE_ARGS';

/** Another checkout whose daemon to run (built), for a side-by-side comparison in one session. */
const DAEMON_ROOT_ENV = 'MEMCOOP_SCALE_ROOT';

const root = process.env[DAEMON_ROOT_ENV] ?? fileURLToPath(new URL('..', import.meta.url));

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

function meminfo(committedKiB: number): string {
  return `MemTotal: 524288 kB\nMemFree: 262144 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\nCommitted_AS: ${committedKiB} kB\n`;
}

/** CPU seconds (user + system, all threads) a process has used; CLK_TCK is 100 on Linux/x86. */
const CLOCK_TICKS_PER_S = 100;
function cpuSeconds(pid: number): number | null {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS_PER_S;
  } catch {
    return null;
  }
}

function rssMB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const guests = Number(arg(argv, '--guests') ?? DEFAULT_GUESTS);
  const seconds = Number(arg(argv, '--seconds') ?? DEFAULT_SECONDS);
  const kind = (arg(argv, '--daemon') ?? 'oxenstored') as XenstoredKind;
  if (!Number.isInteger(guests) || guests < 1 || !Number.isInteger(seconds) || seconds < DISCOVERY_SPREAD_S + 5) {
    console.error(`bench:scale: --guests needs a whole number >= 1, --seconds one >= ${DISCOVERY_SPREAD_S + 5}`);
    return 2;
  }
  const addon = loadXenAddon();
  if (!addon.ok) {
    console.error(`bench:scale: ${addon.reason}`);
    return 1;
  }
  const why = xenstoredUnavailable(kind);
  if (why) {
    console.error(`bench:scale: ${kind}: ${why}`);
    return 1;
  }
  const fx = await startXenstored(kind);
  const xs: XenStore = await openXenStore({ socketPath: fx.socketPath, socketOnly: true });
  const dir = mkdtempSync(join(tmpdir(), 'memcoop-scale-'));
  const cfg = join(dir, 'memcoop.yaml');
  writeFileSync(
    cfg,
    [
      'tickMs: 1000',
      'logLevel: info',
      'xen:',
      `  standIn: { hostTotalKiB: ${1024 * 1024 * MIB}, dom0KiB: 524288, dom0CommittedKiB: 262144 }`,
      'supervisor:',
      '  dom0: { minKiB: 262144, maxKiB: 1048576 }',
      '',
    ].join('\n'),
  );
  const nodeArgs = (process.env[DAEMON_NODE_ARGS_ENV] ?? '').split(' ').filter((a) => a !== '');
  const daemon = spawn(process.execPath, [...nodeArgs, join(root, 'bin', 'memcoop.mjs'), 'run', '--host', 'xen', '--config', cfg, '--socket', fx.socketPath], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: { level: number; msg: string; t: number }[] = [];
  let buf = '';
  daemon.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (l) logs.push({ ...(JSON.parse(l) as { level: number; msg: string }), t: performance.now() });
    }
  });
  let stderr = '';
  daemon.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => daemon.on('exit', (c) => r(c)));

  const seededAt = new Map<number, number>();
  const answeredMs: number[] = [];
  // domid -> a report awaiting its target: the target it had then, and when the report was written.
  // Any rewrite counts (a decrease is a ratio step, not the whole way to Committed_AS).
  const pending = new Map<number, { before: number; at: number; first: boolean; rise: boolean }>();
  /** Domains whose first report has been written. */
  const reported = new Set<number>();
  const firstLatencies: number[] = [];
  const lastTarget = new Map<number, number>();
  const latencies: number[] = [];
  // The same latencies split by direction: a rise is answered by a prompt self step; a fall waits
  // for the tick by design (the working room rule: prompt steps leave decreases to the tick).
  const riseLatencies: number[] = [];
  const fallLatencies: number[] = [];
  let lost = 0;
  const probeMs: number[] = [];
  let probeDone = false;
  /** Reports a newer one replaced before their target came (by the first one's direction). */
  const superseded = { rises: 0, falls: 0 };
  const rss: number[] = [];
  let stopWarnings = 0;
  // CPU while guests ran (from the first batch to the stop): on a shared machine the latencies
  // move with other load; the CPU each process spent does not, much.
  let cpuAtStart: { daemon: number | null; xenstored: number | null; bench: NodeJS.CpuUsage } = { daemon: null, xenstored: null, bench: process.cpuUsage() };
  let cpuUsed = { daemonS: NaN, xenstoredS: NaN, benchS: NaN, wallS: NaN };
  try {
    const t0 = performance.now();
    while (!logs.some((l) => l.msg === 'memcoop supervisor started')) {
      if (performance.now() - t0 > 60_000 || daemon.exitCode !== null) throw new Error(`the daemon did not start: ${stderr}`);
      await sleep(20);
    }
    // One watch over every domain: targets and modes as the daemon writes them. (A watch per key
    // costs C xenstored more: it matches every write against each watch in turn.)
    const onKey = (path: string): void => {
      const m = /^\/local\/domain\/(\d+)\/(memory\/target|memcoop\/mode)$/.exec(path);
      if (!m) return;
      const domid = Number(m[1]);
      const now = performance.now();
      if (m[2] === 'memcoop/mode') {
        const s = seededAt.get(domid);
        if (s !== undefined && !answeredMs[domid]) answeredMs[domid] = now - s;
        return;
      }
      // The watch's arrival is when the target was seen rewritten; the read only says to what
      // (it waits behind this bench's own requests, which are not the daemon's latency).
      void xs.read(targetPath(domid)).then((v) => {
        const value = Number(v);
        lastTarget.set(domid, value);
        const q = pending.get(domid);
        if (q === undefined || now < q.at) return;
        // Answered by a move the report's way; a move the other way (an earlier report's write
        // landing late) is the new point to move from.
        if (q.first ? value !== q.before : q.rise ? value > q.before : value < q.before) {
          const ms = now - q.at;
          (q.first ? firstLatencies : latencies).push(ms);
          if (!q.first) (q.rise ? riseLatencies : fallLatencies).push(ms);
          pending.delete(domid);
        } else q.before = value;
      });
    };
    await xs.watch(LOCAL_DOMAIN, 'scale', onKey);
    // xenstored's own latency beside the daemon's: a read every PROBE_PERIOD_MS on a connection
    // of its own. A stall here (oxenstored pauses for ~100 ms now and then) delays every report
    // and write of that moment whatever the daemon does, so the tail of report -> target is read
    // against it.
    const probe = await openXenStore({ socketPath: fx.socketPath, socketOnly: true });
    const probing = (async () => {
      while (!probeDone) {
        const a = performance.now();
        await probe.read(namePath(0));
        probeMs.push(performance.now() - a);
        await sleep(PROBE_PERIOD_MS);
      }
      await probe.close();
    })();
    cpuAtStart = { daemon: cpuSeconds(daemon.pid!), xenstored: cpuSeconds(fx.pid), bench: process.cpuUsage() };
    const perBatch = Math.ceil(guests / BATCHES);
    const start = performance.now();
    let seeded = 0;
    let tick = 0;
    const committed = new Map<number, number>();
    while (performance.now() - start < seconds * 1000) {
      const elapsed = performance.now() - start;
      // A batch of new domains every DISCOVERY_SPREAD_S / BATCHES seconds.
      while (seeded < guests && elapsed >= (seeded / perBatch) * (DISCOVERY_SPREAD_S * 1000 / BATCHES)) {
        const batch = Math.min(perBatch, guests - seeded);
        for (let k = 0; k < batch; k++) {
          const domid = seeded + k + 1;
          await xs.transaction(async (tx) => {
            await tx.write(namePath(domid), `g${domid}`);
            await tx.write(staticMaxPath(domid), String(1024 * MIB));
            await tx.write(targetPath(domid), String(300 * MIB));
          });
          await xs.write(helloPath(domid), formatHello({ protocol: PROTOCOL_VERSION, selfAdjust: true }));
          seededAt.set(domid, performance.now());
        }
        seeded += batch;
      }
      // Every answered guest reports once per period, spread over the period.
      const answered = [...seededAt.keys()].filter((d) => answeredMs[d] !== undefined);
      const slot = REPORT_PERIOD_MS / Math.max(1, answered.length);
      const periodStart = performance.now();
      for (let i = 0; i < answered.length; i++) {
        const domid = answered[i]!;
        const value = COMMITTED_KIB[(tick + domid) % 2]!;
        const prev = pending.get(domid);
        // A guest's first report stays pending until its target moves (it waits for a tick).
        if (prev !== undefined && prev.first) {
          if (performance.now() - prev.at > LOST_AFTER_MS) {
            lost++;
            pending.delete(domid);
          }
        } else if (prev !== undefined && committed.get(domid) !== value) {
          // Not answered before the next report moved the other way: the daemon may answer the
          // newer report alone (its queue keeps only a domain's newest target), which is right.
          if (performance.now() - prev.at > LOST_AFTER_MS) lost++;
          else if (prev.rise) superseded.rises++;
          else superseded.falls++;
          pending.delete(domid);
        }
        if (!pending.has(domid) && committed.get(domid) !== value) {
          pending.set(domid, { before: lastTarget.get(domid) ?? 300 * MIB, at: performance.now(), first: !reported.has(domid), rise: value > (committed.get(domid) ?? 0) });
          reported.add(domid);
          committed.set(domid, value);
        }
        await xs.write(meminfoPath(domid), meminfo(value));
        const due = periodStart + (i + 1) * slot;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait);
      }
      const r = daemon.pid ? rssMB(daemon.pid) : null;
      if (r !== null) rss.push(r);
      tick++;
      if (answered.length === 0) await sleep(100);
    }
    cpuUsed = {
      daemonS: (cpuSeconds(daemon.pid!) ?? NaN) - (cpuAtStart.daemon ?? NaN),
      xenstoredS: (cpuSeconds(fx.pid) ?? NaN) - (cpuAtStart.xenstored ?? NaN),
      benchS: (() => { const u = process.cpuUsage(cpuAtStart.bench); return (u.user + u.system) / 1e6; })(),
      wallS: (performance.now() - start) / 1000,
    };
    // Still waiting at the end, and for longer than a backed-up write would take: never answered.
    for (const q of pending.values()) if (performance.now() - q.at > LOST_AFTER_MS) lost++;
    probeDone = true;
    await probing;
    const before = logs.length;
    daemon.kill('SIGTERM');
    await exited;
    stopWarnings = logs.slice(before).filter((l) => l.level >= 40).length;
  } finally {
    if (daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
    await xs.close().catch(() => {});
    await fx.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const found = [...seededAt.keys()].map((d) => answeredMs[d]).filter((x): x is number => x !== undefined);
  const notFound = seededAt.size - found.length;
  const warnings = logs.filter((l) => l.level >= 40);
  const byMsg = new Map<string, number>();
  for (const w of warnings) byMsg.set(w.msg, (byMsg.get(w.msg) ?? 0) + 1);
  const result = {
    guests,
    seconds,
    daemon: kind,
    discovery: { found: found.length, notFound, p50Ms: quantile(found, 0.5), maxMs: quantile(found, 1), within5s: found.filter((x) => x <= GOAL_DISCOVERY_MS).length },
    reportToTarget: {
      samples: latencies.length,
      p50Ms: quantile(latencies, 0.5),
      p99Ms: quantile(latencies, 0.99),
      lost,
      superseded,
      rises: { samples: riseLatencies.length, p50Ms: quantile(riseLatencies, 0.5), p99Ms: quantile(riseLatencies, 0.99) },
      falls: { samples: fallLatencies.length, p50Ms: quantile(fallLatencies, 0.5), p99Ms: quantile(fallLatencies, 0.99) },
    },
    firstReportToTarget: { samples: firstLatencies.length, p50Ms: quantile(firstLatencies, 0.5), p99Ms: quantile(firstLatencies, 0.99) },
    xenstoredRead: { samples: probeMs.length, p50Ms: quantile(probeMs, 0.5), p99Ms: quantile(probeMs, 0.99), maxMs: quantile(probeMs, 1), stalls: probeMs.filter((x) => x > STALL_MS).length },
    rssMB: { first: rss[0] ?? null, max: rss.length ? Math.max(...rss) : null, last: rss.at(-1) ?? null },
    cpu: { ...cpuUsed, load1: loadavg()[0] },
    warnings: Object.fromEntries(byMsg),
    stopWarnings,
  };
  console.log(`bench:scale: ${guests} guests reporting every ${REPORT_PERIOD_MS / 1000} s for ${seconds} s, the daemon against ${kind}`);
  console.log(`  discovery (keys written -> hello answered): ${found.length}/${seededAt.size} found, p50 ${result.discovery.p50Ms.toFixed(0)} ms, max ${result.discovery.maxMs.toFixed(0)} ms; within 5 s: ${result.discovery.within5s} (goal: all)`);
  console.log(`  report -> target: ${latencies.length} samples, p50 ${result.reportToTarget.p50Ms.toFixed(1)} ms, p99 ${result.reportToTarget.p99Ms.toFixed(1)} ms (goal < ${GOAL_P99_MS}), lost ${lost}; superseded before answered: ${superseded.rises} rises, ${superseded.falls} falls`);
  const rf = result.reportToTarget;
  console.log(`    rises (a prompt self step): ${rf.rises.samples}, p50 ${rf.rises.p50Ms.toFixed(1)} ms, p99 ${rf.rises.p99Ms.toFixed(1)} ms; falls (left to the tick by the working room rule): ${rf.falls.samples}, p50 ${rf.falls.p50Ms.toFixed(0)} ms, p99 ${rf.falls.p99Ms.toFixed(0)} ms`);
  const xr = result.xenstoredRead;
  console.log(`  xenstored's own read latency (a read every ${PROBE_PERIOD_MS} ms beside it all): p50 ${xr.p50Ms.toFixed(1)} ms, p99 ${xr.p99Ms.toFixed(1)} ms, max ${xr.maxMs.toFixed(0)} ms; ${xr.stalls} reads over ${STALL_MS} ms`);
  console.log(`  a guest's first report -> target (waits for the tick): ${firstLatencies.length} samples, p50 ${result.firstReportToTarget.p50Ms.toFixed(0)} ms, p99 ${result.firstReportToTarget.p99Ms.toFixed(0)} ms`);
  console.log(`  daemon RSS: first ${result.rssMB.first?.toFixed(0)} MB, max ${result.rssMB.max?.toFixed(0)} MB, last ${result.rssMB.last?.toFixed(0)} MB (goal < ${GOAL_RSS_MB})`);
  console.log(`  CPU over ${cpuUsed.wallS.toFixed(0)} s: daemon ${cpuUsed.daemonS.toFixed(1)} s, xenstored ${cpuUsed.xenstoredS.toFixed(1)} s, this bench (the agents) ${cpuUsed.benchS.toFixed(1)} s; machine load ${(result.cpu.load1 ?? NaN).toFixed(1)}`);
  console.log(`  warnings while running: ${warnings.length}${byMsg.size ? ` (${[...byMsg].map(([m, n]) => `${n}x "${m}"`).join(', ')})` : ''}; at SIGTERM: ${stopWarnings}`);
  if (json) console.log(JSON.stringify(result));
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
