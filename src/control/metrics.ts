// Prometheus metrics (prom-client) on an HTTP listener that is off unless asked for and then
// bound to 127.0.0.1 only: the figures are about the host's tenants, so they are not served to
// the network; a Prometheus elsewhere scrapes through a local agent or a tunnel. Gauges are read
// from the daemon at each scrape (statusOf); the histograms and counters are fed by the observer.
// Memory in bytes, times in seconds (Prometheus' base units).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Host } from '../hosts/host.ts';
import type { Logger } from '../log/logger.ts';
import type { GuestStateName } from '../machines/facts.ts';
import type { DaemonObserver } from './observer.ts';
import { statusOf, type Status } from './status.ts';

/** Only this address: see above. */
export const METRICS_HOST = '127.0.0.1';
const KIB = 1024;
const GUEST_STATES: readonly GuestStateName[] = ['registering', 'selfAdjusting', 'globallyControlled', 'reclaimingForDom0', 'stuck', 'unmanaged', 'gone'];
const REGIMES = ['abundant', 'scarce', 'reclaiming for Dom0', 'overcommitted'] as const;
/**
 * Tick handling: 1 ms to 2.5 s. A tick of a few guests takes well under a millisecond here; bench:scale
 * measured tens of ms at 1,000 guests; the paper's tick is 1 s, so 2.5 s is a daemon far behind.
 */
const TICK_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/**
 * Report to target write: a prompt self step answers at once (0), a scarce host at the next tick
 * (up to one tick, 1 s); more than a few ticks is a guest left waiting.
 */
const LATENCY_BUCKETS_S = [0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];

export interface MetricsOptions {
  observer: DaemonObserver;
  host: Host;
  meta: { host: string; tickMs: number; reservedKiB?: () => number };
  logger: Logger;
  /** TCP port on 127.0.0.1; 0 picks a free one (the log line says which). */
  port: number;
}

export interface Metrics {
  readonly registry: Registry;
  readonly port: number;
  close(): Promise<void>;
}

export function createRegistry(opts: Omit<MetricsOptions, 'port' | 'logger'>): Registry {
  const { observer, host, meta } = opts;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'memcoop_' });
  const registers = [registry];
  let cached: { at: number; s: Status } | null = null;
  // One statusOf per scrape, however many gauges read it.
  const status = (): Status => {
    const now = Date.now();
    if (cached === null || now - cached.at > 50) cached = { at: now, s: statusOf(observer, { host: meta.host, tickMs: meta.tickMs, reservedKiB: meta.reservedKiB?.() ?? 0 }) };
    return cached.s;
  };
  const guestGauge = (name: string, help: string, pick: (g: Status['guests'][number]) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['guest'],
      registers,
      collect() {
        this.reset();
        for (const g of status().guests) {
          const v = pick(g);
          if (v !== null) this.set({ guest: g.id }, v);
        }
      },
    });
  guestGauge('memcoop_guest_allocation_bytes', "A guest's current allocation (N_i)", (g) => g.allocationKiB * KIB);
  guestGauge('memcoop_guest_target_bytes', 'The balloon target last written', (g) => (g.targetKiB === null ? null : g.targetKiB * KIB));
  guestGauge('memcoop_guest_goal_bytes', 'Where the policy wants the guest', (g) => (g.goalKiB === null ? null : g.goalKiB * KIB));
  guestGauge('memcoop_guest_committed_bytes', 'Committed_AS as the agent reported it', (g) => (g.committedKiB === null ? null : g.committedKiB * KIB));
  guestGauge('memcoop_guest_free_bytes', 'MemFree as the agent reported it (smoothed)', (g) => (g.freeKiB === null ? null : g.freeKiB * KIB));
  guestGauge('memcoop_guest_min_bytes', "The guest's minimum L_i", (g) => g.minKiB * KIB);
  guestGauge('memcoop_guest_max_bytes', "The guest's maximum H_i", (g) => g.maxKiB * KIB);
  guestGauge('memcoop_guest_pressure_some_ratio', 'PSI memory some avg10, as a ratio (absent without PSI)', (g) => (g.pressure?.psiSomeAvg10 === undefined ? null : g.pressure.psiSomeAvg10 / 10_000));
  guestGauge('memcoop_guest_pressure_full_ratio', 'PSI memory full avg10, as a ratio (absent without PSI)', (g) => (g.pressure?.psiFullAvg10 === undefined ? null : g.pressure.psiFullAvg10 / 10_000));
  guestGauge('memcoop_guest_available_bytes', 'MemAvailable as the agent reported it', (g) => (g.pressure?.availableKiB === undefined ? null : g.pressure.availableKiB * KIB));
  guestGauge('memcoop_guest_major_faults', 'Major faults since the guest booted (pgmajfault)', (g) => g.pressure?.pgmajfault ?? null);
  guestGauge('memcoop_guest_last_report_age_seconds', 'Time since the agent last reported', (g) => (g.lastReportAgeMs === null ? null : g.lastReportAgeMs / 1000));
  new Gauge({
    name: 'memcoop_guest_state',
    help: "1 for the guest's machine state, 0 for the others",
    labelNames: ['guest', 'state'],
    registers,
    collect() {
      this.reset();
      for (const g of status().guests) for (const s of GUEST_STATES) this.set({ guest: g.id, state: s }, g.state === s ? 1 : 0);
    },
  });
  const hostGauge = (name: string, help: string, pick: (s: Status) => number | null) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.reset();
        const v = pick(status());
        if (v !== null) this.set(v);
      },
    });
  hostGauge('memcoop_host_total_bytes', 'Free + Dom0 + every guest: the memory memcoop sees', (s) => (s.memory === null ? null : s.memory.totalKiB * KIB));
  hostGauge('memcoop_host_free_bytes', 'Host free memory', (s) => (s.memory === null ? null : s.memory.freeKiB * KIB));
  hostGauge('memcoop_host_reserve_bytes', 'Host memory kept free (params.reserveKiB)', (s) => (s.memory === null ? null : s.memory.reserveKiB * KIB));
  hostGauge('memcoop_host_reserved_bytes', 'Memory reserved for domains about to start (memcoop reserve)', (s) => (s.memory === null ? null : s.memory.reservedKiB * KIB));
  hostGauge('memcoop_host_price', 'The common idle-memory price 1/t (absent when no balance ran)', (s) => s.memory?.price ?? null);
  hostGauge('memcoop_host_reclaim_bytes', 'Being reclaimed from the guests for Dom0', (s) => (s.memory === null ? null : s.memory.reclaimKiB * KIB));
  hostGauge('memcoop_dom0_allocation_bytes', "Dom0's allocation", (s) => (s.dom0 === null ? null : s.dom0.allocationKiB * KIB));
  hostGauge('memcoop_dom0_committed_bytes', "Dom0's Committed_AS", (s) => (s.dom0 === null ? null : s.dom0.committedKiB * KIB));
  hostGauge('memcoop_dom0_goal_bytes', "Dom0's goal", (s) => (s.dom0?.goalKiB == null ? null : s.dom0.goalKiB * KIB));
  hostGauge('memcoop_ticks', 'Ticks that ran the policy', (s) => s.ticks);
  new Gauge({
    name: 'memcoop_host_regime',
    help: '1 for the regime of the last decision, 0 for the others',
    labelNames: ['regime'],
    registers,
    collect() {
      this.reset();
      const r = status().memory?.regime ?? null;
      if (r !== null) for (const x of REGIMES) this.set({ regime: x }, r === x ? 1 : 0);
    },
  });
  new Gauge({
    name: 'memcoop_daemon_rss_bytes',
    help: "The daemon process's resident set size",
    registers,
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });

  const tick = new Histogram({ name: 'memcoop_tick_duration_seconds', help: 'Time the supervisor took to handle a tick (policy, plan, writes issued)', buckets: TICK_BUCKETS_S, registers });
  const latency = new Histogram({
    name: 'memcoop_report_to_target_seconds',
    help: 'From the report a target write was based on to the write (daemon clock)',
    buckets: LATENCY_BUCKETS_S,
    registers,
  });
  const writes = new Counter({ name: 'memcoop_target_writes_total', help: 'Balloon targets written (guests and Dom0)', registers });
  const failures = new Counter({ name: 'memcoop_effect_failures_total', help: 'Target or mode writes that failed', labelNames: ['effect'], registers });
  // From the host's own counts: the counter moves by what they moved since the last scrape.
  const seen = { refusedReports: 0, reconnects: 0 };
  const fromHost = (name: string, help: string, key: keyof typeof seen) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        const now = host.counters?.()[key];
        if (now !== undefined && now > seen[key]) {
          this.inc(now - seen[key]);
          seen[key] = now;
        }
      },
    });
  fromHost('memcoop_reports_refused_total', 'Agent reports the host refused (malformed or out of bounds)', 'refusedReports');
  fromHost('memcoop_reconnects_total', "Times the hypervisor store's connection was reopened", 'reconnects');
  observer.listen({
    tick: (_at, handledMs) => tick.observe(handledMs / 1000),
    targetWrite: (_id, latencyMs) => {
      writes.inc();
      if (latencyMs !== null) latency.observe(latencyMs / 1000);
    },
    effectFailed: (effect) => failures.inc({ effect }),
  });
  return registry;
}

/** Serves GET /metrics on 127.0.0.1:port. */
export async function startMetrics(opts: MetricsOptions): Promise<Metrics> {
  const registry = createRegistry(opts);
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && !req.url?.startsWith('/metrics?'))) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('memcoop serves /metrics only\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => {
        opts.logger.error({ err }, 'metrics: collecting failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting the metrics failed\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, METRICS_HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  opts.logger.info({ metrics: `http://${METRICS_HOST}:${port}/metrics` }, 'metrics listening');
  return {
    registry,
    port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
