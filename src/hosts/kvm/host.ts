// KvmHost: the Host interface on KVM/QEMU. Each guest is a QEMU found by discovery.ts (a guests
// directory re-read every probe, and/or the config's list), reached through one persistent QMP
// connection (qmp.ts: balloon, query-balloon, BALLOON_CHANGE, SHUTDOWN) and its agent's
// virtio-serial port (agent-channel.ts). The pool (pool.ts) stands for the hypervisor's free
// memory and the host's own MemAvailable for Dom0's need. The supervisor works in usable memory:
// sizes leave this host as balloon actual minus the guest's measured overhead and targets come
// back as usable + overhead (overhead.ts).
//
// Failures stay with their guest, each with one log line: a socket that is not QMP or never
// answers is dropped (tried again each minute, logged again only for a new socket), a QEMU
// that exits is a guest.left, a balloon that does not move toward its target is reported once.
import { readFile } from 'node:fs/promises';
import { Subject, type Observable } from 'rxjs';
import type { GuestsConfig } from '../../config/daemon-config.ts';
import type { Logger } from '../../log/logger.ts';
import type { AgentHello } from '../../vocabulary/events.ts';
import { DOM0_ID } from '../../vocabulary/writes.ts';
import { parseMeminfo } from '../../vocabulary/meminfo.ts';
import type { Host, HostEvent } from '../host.ts';
import { parseHello, parseReport } from '../xen/agent-protocol.ts';
import { AgentChannel } from './agent-channel.ts';
import type { AgentMessage } from './agent-lines.ts';
import { scanGuestsDir, socketIdentity, validGuestName, type GuestSockets } from './discovery.ts';
import { KernelShare, OverheadEstimate, balloonOf, usableOf } from './overhead.ts';
import { memAvailableKiB, poolSample } from './pool.ts';
import { QmpClient, type QmpCloseKind, type QmpEvent } from './qmp.ts';
import { balloonActualKiB, baseMemoryKiB, parseGuestStats } from './qmp-messages.ts';
import { LogBudget } from '../../util/log-budget.ts';
import type { Mode } from '../../vocabulary/mode.ts';

/** The balloon device's QOM path: the device must be created with id=balloon0 (docs/kvm.md). */
export const BALLOON_QOM_PATH = '/machine/peripheral/balloon0';
/**
 * A balloon within 1 MiB of its target is there: virtio-balloon moves in 4 KiB pages and QEMU
 * rounds the target to them, and the supervisor's own slack is 1 MiB (vocabulary/config.ts).
 */
export const BALLOON_SLACK_KIB = 1024;
/**
 * Probes without movement before a balloon short of its target is reported: 5, the supervisor's
 * stuckTicks (vocabulary/config.ts: the Linux driver gives up after about five failed tries).
 */
export const STALL_PROBES = 5;
/**
 * A (balloon actual, MemTotal) pair counts as settled once the actual has not changed for 2 s:
 * the agent reads meminfo once a second, so its report may describe the guest up to 1 s back.
 */
export const SETTLED_MS = 2000;
/**
 * A refused QMP socket is tried again after 60 s (silently while it keeps failing): a QEMU too
 * busy to greet within the timeout is not lost for good, and a stale socket file costs one
 * refused connect a minute.
 */
export const REFUSED_RETRY_MS = 60_000;
/** Probes without an agent hello before the guest-stats fallback starts: 10, the silence window. */
export const FALLBACK_AFTER_PROBES = 10;
/** The kernel share is logged when it has grown by 1 MiB since last logged (not every report). */
export const KERNEL_LOG_STEP_KIB = 1024;
/** guest-stats polling period asked of QEMU: 2 s (the driver's stats queue; QEMU's unit is s). */
export const STATS_POLL_S = 2;

export interface KvmSettings {
  guestsDir: string | null;
  guests: readonly GuestSockets[];
  poolKiB: number;
  hostMinAvailableKiB: number;
  overheadKiB: number;
  maxOverheadKiB: number;
  maxKernelShareKiB: number;
  statsFallback: boolean;
}

export interface KvmHostOptions {
  logger: Logger;
  guests: GuestsConfig;
  kvm: KvmSettings;
  probeMs: number;
  /** The host's meminfo (default /proc/meminfo); tests point it at a file. */
  meminfoPath?: string;
  qmpTimeoutMs?: number;
}

interface Guest {
  name: string;
  sockets: GuestSockets;
  identity: string;
  handle: number;
  log: Logger;
  qmp: QmpClient | null;
  announced: boolean;
  baseKiB: number;
  actualKiB: number;
  actualSince: number;
  overhead: OverheadEstimate;
  kernel: KernelShare;
  /** The kernel share last logged (logged when it grows by a MiB or more). */
  kernelLoggedKiB: number;
  overheadLogged: boolean;
  agent: AgentChannel | null;
  /** The last agent message was bad (a good one then earns a "good again" line). */
  bad: boolean;
  /** At most one "bad" and one "good again" line a minute, however the agent flips. */
  logBudget: { bad: LogBudget; good: LogBudget };
  helloSeen: boolean;
  probesWithoutHello: number;
  fallback: 'off' | 'on' | 'failed';
  /** The last balloon target written and its progress; `at` (host clock, ms) measures the lag. */
  target: { balloonKiB: number; at: number; fromKiB: number; lastActual: number; still: number; logged: boolean } | null;
  querying: boolean;
}

export class KvmHost implements Host {
  readonly kind = 'kvm';
  private readonly subject = new Subject<HostEvent>();
  readonly events$: Observable<HostEvent> = this.subject.asObservable();
  private readonly log: Logger;
  private readonly guests = new Map<string, Guest>();
  /**
   * Socket paths refused (not QMP, not answering, refusing): skipped for REFUSED_RETRY_MS, and
   * logged again only when the socket is a new one (a new identity).
   */
  private readonly refused = new Map<string, { identity: string; at: number }>();
  private readonly invalidLogged = new Set<string>();
  private nextHandle = 1;
  private dom0GrantKiB = 0;
  private overLogged = false;
  private timer: NodeJS.Timeout | null = null;
  private probing = false;
  private closed = false;

  constructor(private readonly opts: KvmHostOptions) {
    this.log = opts.logger;
  }

  async start(): Promise<void> {
    this.log.info({ poolKiB: this.opts.kvm.poolKiB, guestsDir: this.opts.kvm.guestsDir, listed: this.opts.kvm.guests.length }, 'KVM host: guests from QMP sockets');
    // Discovery first: the guests there now are announced before start() resolves.
    await this.probe(true);
    this.timer = setInterval(() => void this.probe(false), this.opts.probeMs);
  }

  /**
   * One probe: discovery, each guest's balloon, a host.sample. Later probes do not wait for new
   * connections (a socket that never greets takes the QMP timeout): the guests already known
   * keep being sampled every tick meanwhile.
   */
  private async probe(waitConnects: boolean): Promise<void> {
    if (this.probing || this.closed) return;
    this.probing = true;
    try {
      const { connected } = await this.discover();
      if (waitConnects) await connected;
      await Promise.all([...this.guests.values()].filter((g) => g.announced).map((g) => this.query(g)));
      await this.sample();
    } catch (err) {
      this.log.error({ err }, 'KVM probe failed');
    } finally {
      this.probing = false;
    }
  }

  /** Re-reads the guests; `connected` settles when the new connections have (it never rejects). */
  private async discover(): Promise<{ connected: Promise<unknown> }> {
    const found = new Map<string, GuestSockets>();
    for (const s of this.opts.kvm.guests) found.set(s.name, s);
    if (this.opts.kvm.guestsDir !== null) {
      const { guests, invalid } = await scanGuestsDir(this.opts.kvm.guestsDir);
      for (const g of guests) if (!found.has(g.name)) found.set(g.name, g);
      for (const n of invalid) {
        if (this.invalidLogged.has(n)) continue;
        this.invalidLogged.add(n);
        this.log.warn({ entry: JSON.stringify(n.slice(0, 64)) }, 'guests directory entry ignored: not a valid guest name (letters, digits, . _ -; not "dom0")');
      }
    }
    for (const g of [...this.guests.values()]) {
      if (!found.has(g.name)) this.drop(g, 'its sockets are gone');
    }
    const connects: Promise<void>[] = [];
    for (const s of found.values()) {
      const identity = await socketIdentity(s.qmp);
      if (identity === null) continue;
      const g = this.guests.get(s.name);
      if (g !== undefined) {
        if (g.identity === identity) continue;
        this.drop(g, 'a new QMP socket replaced it (QEMU restarted)');
      }
      const r = this.refused.get(s.qmp);
      if (r !== undefined && r.identity === identity && Date.now() - r.at < REFUSED_RETRY_MS) continue;
      connects.push(this.connect(s, identity, r !== undefined && r.identity === identity));
    }
    return { connected: Promise.all(connects).catch((err: unknown) => this.log.error({ err }, 'connecting a guest failed')) };
  }

  /** retry: the same socket failed before (and was logged then); a failure now is not logged again. */
  private async connect(s: GuestSockets, identity: string, retry: boolean): Promise<void> {
    const handle = this.nextHandle++;
    const log = this.log.child({ guest: s.name, domid: handle });
    const g: Guest = {
      name: s.name,
      sockets: s,
      identity,
      handle,
      log,
      qmp: null,
      announced: false,
      baseKiB: 0,
      actualKiB: 0,
      actualSince: Date.now(),
      overhead: new OverheadEstimate(this.opts.kvm.overheadKiB, this.opts.kvm.maxOverheadKiB),
      kernel: new KernelShare(this.opts.kvm.maxKernelShareKiB),
      kernelLoggedKiB: 0,
      overheadLogged: false,
      agent: null,
      bad: false,
      logBudget: { bad: new LogBudget(), good: new LogBudget() },
      helloSeen: false,
      probesWithoutHello: 0,
      fallback: 'off',
      target: null,
      querying: false,
    };
    this.guests.set(s.name, g);
    try {
      g.qmp = await QmpClient.connect(s.qmp, {
        ...(this.opts.qmpTimeoutMs !== undefined ? { timeoutMs: this.opts.qmpTimeoutMs } : {}),
        onEvent: (e) => this.onQmpEvent(g, e),
        onClose: (reason, why) => this.onQmpClosed(g, reason, why),
      });
      const [base, balloon] = await Promise.all([g.qmp.execute('query-memory-size-summary'), g.qmp.execute('query-balloon')]);
      const baseKiB = baseMemoryKiB(base);
      const actualKiB = balloonActualKiB(balloon);
      if (baseKiB === null || actualKiB === null) throw new Error('QEMU gave no memory size or balloon actual');
      g.baseKiB = baseKiB;
      g.actualKiB = Math.min(actualKiB, baseKiB);
    } catch (e) {
      g.qmp?.close();
      if (this.guests.get(s.name) === g) this.guests.delete(s.name);
      this.refused.set(s.qmp, { identity, at: Date.now() });
      const why = (e as Error).message;
      if (retry) return;
      log.warn({ reason: why }, why.startsWith('query-balloon refused')
        ? 'QEMU has no balloon device; guest not managed'
        : 'QMP socket dropped: not usable (tried again each minute, logged again for a new socket)');
      return;
    }
    this.refused.delete(s.qmp);
    if (retry) log.info('QMP socket usable now');
    if (this.closed || this.guests.get(s.name) !== g) {
      g.qmp?.close();
      return;
    }
    this.announce(g);
  }

  /** Balloon memory the supervisor does not see as usable: the overhead plus the kernel share. */
  private hidden(g: Guest): number {
    return g.overhead.kib + g.kernel.kib;
  }

  private announce(g: Guest): void {
    const oh = this.hidden(g);
    const maxKiB = usableOf(g.baseKiB, oh);
    const byName = this.opts.guests.byName.get(g.name);
    const settings = { ...this.opts.guests.default, ...byName };
    const minKiB = Math.min(settings.minKiB, maxKiB);
    g.announced = true;
    g.log.info({ baseKiB: g.baseKiB, actualKiB: g.actualKiB, overheadKiB: oh, maxKiB, minKiB, shares: settings.shares }, 'guest found (sizes in usable memory: balloon minus overhead)');
    this.emit({
      type: 'guest.appeared',
      at: Date.now(),
      id: g.name,
      domid: g.handle,
      minKiB,
      maxKiB,
      currentKiB: Math.min(usableOf(g.actualKiB, oh), maxKiB),
      shares: settings.shares,
    });
    g.agent = new AgentChannel({
      path: g.sockets.agent,
      onMessage: (m) => this.onAgentMessage(g, m),
      onState: (connected, reason) => (connected ? g.log.info('agent port connected') : g.log.info({ reason }, 'agent port not connected')),
    });
  }

  private onQmpEvent(g: Guest, e: QmpEvent): void {
    if (e.event === 'BALLOON_CHANGE') {
      const a = balloonActualKiB(e.data);
      if (a !== null) this.setActual(g, a);
    } else if (e.event === 'SHUTDOWN') {
      g.log.info('guest shut down (QEMU will exit)');
    }
  }

  private setActual(g: Guest, actualKiB: number): void {
    const a = Math.min(actualKiB, g.baseKiB);
    if (a !== g.actualKiB) {
      g.actualKiB = a;
      g.actualSince = Date.now();
      this.checkLanded(g);
    }
  }

  /** A balloon within the slack of its target has landed: its lag (write to landing) is logged. */
  private checkLanded(g: Guest): boolean {
    const t = g.target;
    if (t === null || Math.abs(g.actualKiB - t.balloonKiB) > BALLOON_SLACK_KIB) return false;
    if (t.logged) g.log.info({ actualKiB: g.actualKiB }, 'balloon reached its target');
    g.log.debug({ fromKiB: t.fromKiB, targetKiB: t.balloonKiB, lagMs: Date.now() - t.at }, 'balloon landed');
    g.target = null;
    return true;
  }

  private onQmpClosed(g: Guest, reason: string, why: QmpCloseKind): void {
    if (this.closed || this.guests.get(g.name) !== g || !g.announced) return;
    // A dead QEMU leaves its socket file: remember it so it is not reconnected every probe. A
    // command that timed out is reconnected at the next probe (a wedged QEMU then fails its
    // greeting and is refused with a log line; a busy one comes back as a new guest).
    if (why !== 'timeout') this.refused.set(g.sockets.qmp, { identity: g.identity, at: Date.now() });
    this.drop(g, `QMP connection ended: ${reason}`);
  }

  private drop(g: Guest, why: string): void {
    this.guests.delete(g.name);
    g.qmp?.close();
    g.agent?.close();
    if (g.announced) {
      g.log.info({ reason: why }, 'guest left');
      this.emit({ type: 'guest.left', at: Date.now(), id: g.name });
    }
  }

  /** One probe of a guest: its balloon, the stall watch, and the stats fallback. */
  private async query(g: Guest): Promise<void> {
    const qmp = g.qmp;
    if (qmp === null || g.querying) return;
    g.querying = true;
    try {
      const a = balloonActualKiB(await qmp.execute('query-balloon'));
      if (a !== null) this.setActual(g, a);
      this.watchStall(g);
      if (!g.helloSeen && ++g.probesWithoutHello >= FALLBACK_AFTER_PROBES && this.opts.kvm.statsFallback) await this.fallbackStats(g, qmp);
    } catch (e) {
      // A timeout has already ended the connection (and so the guest); a refused command has not.
      if (!qmp.closed) g.log.warn({ reason: (e as Error).message }, 'QMP query failed');
    } finally {
      g.querying = false;
    }
  }

  private watchStall(g: Guest): void {
    const t = g.target;
    if (t === null) return;
    const gap = g.actualKiB - t.balloonKiB;
    if (this.checkLanded(g)) return;
    if (g.actualKiB !== t.lastActual) {
      if (t.logged) g.log.info({ actualKiB: g.actualKiB, targetKiB: t.balloonKiB }, 'balloon moving again');
      t.lastActual = g.actualKiB;
      t.still = 0;
      t.logged = false;
      return;
    }
    if (++t.still === STALL_PROBES && !t.logged) {
      t.logged = true;
      g.log.warn(
        { actualKiB: g.actualKiB, targetKiB: t.balloonKiB, probes: STALL_PROBES },
        gap > 0
          ? 'balloon not moving: the guest stays above its target (no balloon driver, or it cannot give up memory)'
          : 'balloon not moving: the guest stays below its target (no balloon driver, or it cannot take memory)',
      );
    }
  }

  /**
   * No agent: ask the balloon driver's own statistics. They lack Committed_AS, so they never
   * stand in for an agent report (the guest stays held, as the supervisor holds any guest without
   * an agent); they measure the overhead (stat-total-memory is MemTotal) and are logged.
   */
  private async fallbackStats(g: Guest, qmp: QmpClient): Promise<void> {
    if (g.fallback === 'failed') return;
    if (g.fallback === 'off') {
      try {
        await qmp.execute('qom-set', { path: BALLOON_QOM_PATH, property: 'guest-stats-polling-interval', value: STATS_POLL_S });
      } catch (e) {
        g.fallback = 'failed';
        g.log.warn({ reason: (e as Error).message }, `no agent, and no guest-stats at ${BALLOON_QOM_PATH}: guest held, overhead not measured`);
        return;
      }
      g.fallback = 'on';
      g.log.warn('no agent hello: guest-stats fallback (no Committed_AS: the guest stays held; used to measure overhead and for the log)');
    }
    const stats = parseGuestStats(await qmp.execute('qom-get', { path: BALLOON_QOM_PATH, property: 'guest-stats' }));
    if (stats === null) return;
    g.log.debug({ fallback: true, totalKiB: stats.totalKiB, freeKiB: stats.freeKiB, availableKiB: stats.availableKiB }, 'guest stats (fallback, no agent)');
    this.overheadSample(g, stats.totalKiB);
  }

  private overheadSample(g: Guest, memTotalKiB: number): void {
    if (Date.now() - g.actualSince < SETTLED_MS) return;
    const before = g.overhead.kib;
    const wasMeasured = g.overhead.measured;
    if (!g.overhead.add(g.actualKiB, memTotalKiB)) {
      if (!g.overheadLogged) {
        g.overheadLogged = true;
        g.log.warn({ maxOverheadKiB: this.opts.kvm.maxOverheadKiB }, 'reported MemTotal ignored for the overhead: balloon minus MemTotal out of bounds');
      }
      return;
    }
    if (!wasMeasured || g.overhead.kib !== before) g.log.info({ overheadKiB: g.overhead.kib, previousKiB: before }, 'guest overhead (balloon minus MemTotal) measured');
  }

  /** A report's sizes: the overhead (when settled) and the kernel share. */
  private reportSample(g: Guest, kib: ReadonlyMap<string, number>): void {
    const total = kib.get('MemTotal');
    const available = kib.get('MemAvailable');
    const committed = kib.get('Committed_AS');
    if (total === undefined) return;
    this.overheadSample(g, total);
    if (available === undefined || committed === undefined || available > total) return;
    g.kernel.add(total, available, committed);
    if (g.kernel.kib >= g.kernelLoggedKiB + KERNEL_LOG_STEP_KIB) {
      g.kernelLoggedKiB = g.kernel.kib;
      g.log.info({ kernelShareKiB: g.kernel.kib, overheadKiB: g.overhead.kib }, 'guest kernel share (MemTotal - MemAvailable - Committed_AS) measured');
    }
  }

  private onAgentMessage(g: Guest, m: AgentMessage): void {
    if (this.closed || this.guests.get(g.name) !== g) return;
    const at = Date.now();
    let event: HostEvent | null = null;
    let fields: ReadonlyMap<string, number> | null = null;
    let problem: string | null = null;
    if (m.kind === 'bad') {
      problem = m.problem;
    } else if (m.kind === 'hello') {
      const h = parseHello(m.text);
      if (h.ok) {
        const hello: AgentHello = { type: 'agent.hello', at, id: g.name, protocol: h.value.protocol, selfAdjust: h.value.selfAdjust };
        event = hello;
        g.helloSeen = true;
      } else problem = h.problem;
    } else {
      const r = parseReport(g.name, at, m.text);
      if (r.ok) {
        event = r.value;
        // MemTotal and MemAvailable from the same strict parser (parseReport accepted the text).
        fields = parseMeminfo(m.text).kib;
      } else problem = r.problem;
    }
    if (problem !== null) {
      // In memcoop's words, never the guest's; within the guest's log budget, with what it held back.
      g.bad = true;
      const b = g.logBudget.bad.take(at);
      if (b.log) g.log.warn({ problem, suppressed: b.suppressed }, 'bad agent message ignored');
      return;
    }
    if (g.bad) {
      g.bad = false;
      const b = g.logBudget.good.take(at);
      if (b.log) g.log.info({ suppressed: b.suppressed }, 'agent messages good again');
    }
    if (fields !== null) this.reportSample(g, fields);
    if (event !== null) this.emit(event);
  }

  private async sample(): Promise<void> {
    let available: number | null = null;
    try {
      available = memAvailableKiB(await readFile(this.opts.meminfoPath ?? '/proc/meminfo', 'utf8'));
    } catch {
      available = null;
    }
    if (this.closed) return;
    const connected = [...this.guests.values()].filter((g) => g.qmp !== null && !g.qmp.closed && g.baseKiB > 0);
    const p = poolSample({
      poolKiB: this.opts.kvm.poolKiB,
      actualsKiB: connected.map((g) => g.actualKiB),
      dom0GrantKiB: this.dom0GrantKiB,
      hostAvailableKiB: available,
      hostMinAvailableKiB: this.opts.kvm.hostMinAvailableKiB,
    });
    if (p.overKiB > 0 && !this.overLogged) {
      this.overLogged = true;
      this.log.warn({ overKiB: p.overKiB, poolKiB: this.opts.kvm.poolKiB }, 'guests hold more than the pool (booted larger than it, or the pool was set too small)');
    } else if (p.overKiB === 0 && this.overLogged) {
      this.overLogged = false;
      this.log.info('guests back within the pool');
    }
    const allocations: Record<string, number> = {};
    for (const g of connected) if (g.announced) allocations[g.name] = usableOf(g.actualKiB, this.hidden(g));
    this.emit({ type: 'host.sample', at: Date.now(), freeKiB: p.freeKiB, dom0: p.dom0, allocations });
  }

  async setTarget(id: string, targetKiB: number): Promise<void> {
    if (!Number.isSafeInteger(targetKiB) || targetKiB < 0) throw new RangeError(`bad target ${targetKiB} KiB for ${id}`);
    if (id === DOM0_ID) {
      // The host's own memory has no balloon: Dom0's target is its grant out of the pool.
      this.dom0GrantKiB = Math.min(targetKiB, this.opts.kvm.poolKiB);
      return;
    }
    const g = this.guests.get(id);
    if (g === undefined || !g.announced || g.qmp === null) throw new Error(`no guest ${JSON.stringify(id.slice(0, 64))} connected; nothing written`);
    const balloonKiB = balloonOf(targetKiB, this.hidden(g), g.baseKiB);
    const at = Date.now();
    await g.qmp.execute('balloon', { value: balloonKiB * 1024 });
    // A target the balloon is already at lands at once (and is not timed).
    g.target = Math.abs(g.actualKiB - balloonKiB) <= BALLOON_SLACK_KIB ? null : { balloonKiB, at, fromKiB: g.actualKiB, lastActual: g.actualKiB, still: 0, logged: false };
  }

  async setMode(id: string, mode: Mode, protocol: number): Promise<void> {
    if (id === DOM0_ID) throw new Error('Dom0 runs no agent: no mode to write');
    const g = this.guests.get(id);
    if (g === undefined || g.agent === null) throw new Error(`no guest ${JSON.stringify(id.slice(0, 64))} connected; no mode written`);
    await g.agent.sendMode(mode, protocol);
  }

  private emit(e: HostEvent): void {
    if (!this.closed) this.subject.next(e);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const g of this.guests.values()) {
      g.qmp?.close();
      g.agent?.close();
    }
    this.guests.clear();
    this.subject.complete();
  }
}

export { validGuestName };
