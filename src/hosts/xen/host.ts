// XenHost: the Host interface on Xen. Guests are the domains under /local/domain (domain 0 is the
// control domain, never a guest); their agents speak through data/memcoop/ (untrusted, parsed by
// agent-protocol.ts) and read their mode from memcoop/ (written here, guest read-only). Targets go
// to memory/target in KiB; on a real Xen the domain's max pages are raised first (libxl caps a
// domain at its creation size + 1 MiB, docs/measurements.md section 3). Host free memory and domain sizes
// come from libxenctrl, or, with no hypervisor, from the stand-in of stand-in.ts (it says so).
//
// Each probe (one per tick) re-reads the domain listing (that request is also how a dead
// xenstored is noticed: a connection with only watches does not notice) and emits a host.sample.
// A lost connection is reopened (reconnect.ts); the watches re-arm on the new one and discovery
// runs again against the guests already known, so nothing is announced twice and no target is
// written that the supervisor did not issue.
import { Subject, Subscription, asyncScheduler, interval, switchMap, EMPTY, type Observable, type SchedulerLike } from 'rxjs';
import { guestSettings, type GuestsConfig, MAX_NAME_CHARS } from '../../config/daemon-config.ts';
import { guestLogger, type Logger } from '../../log/logger.ts';
import { LogBudget } from '../../util/log-budget.ts';
import type { AgentHello } from '../../vocabulary/events.ts';
import { diffDomains, domainListing$, readDomainListing, type AgentKey, type AgentKeyRead, type ReadResult } from './ingress.ts';
import { AgentKeyReader } from './agent-keys.ts';
import type { Host, HostCounters, HostEvent, TargetWriteOptions } from '../host.ts';
import { TickLane, TICK_WRITES_IN_FLIGHT, type Release } from './tick-lane.ts';
import { requireXenAddon } from './addon.ts';
import { parseHello, parseReport } from './agent-protocol.ts';
import { xenctrlMemory, type DomainMemory } from './domain-memory.ts';
import {
  DOM0_DOMID,
  controlPath,
  domidOf,
  guestId,
  modePath,
  modePermissions,
  namePath,
  parseKiB,
  protocolPath,
  staticMaxPath,
  targetPath,
} from './layout.ts';
import { NotConnectedError, ReconnectingStore, type ReconnectOptions } from './reconnect.ts';
import { HypervisorStandIn, type StandInConfig } from './stand-in.ts';
import { isXenCtrlUnavailable, openXenCtrl } from './xenctrl.ts';
import { CONNECTION_LOST_CODES, openXenStore, type XenStore, type XsOps } from './xenstore.ts';
import type { Mode } from '../../vocabulary/mode.ts';

/**
 * Max pages are set to the target plus 1 MiB: libxl's LIBXL_MAXMEM_CONSTANT, the slack `xl
 * mem-set` leaves (docs/measurements.md section 3: a domain stops at its cap + 1 MiB).
 */
export const MAXMEM_SLACK_KIB = 1024;
/**
 * After a reconnect, a domain missing from the listing is given this long to come back before it
 * is reported gone: a xenstored that restarted empty is repopulated by the toolstack (in the
 * tests, by the test) a moment later, and dropping every guest meanwhile would reset them all.
 */
export const RECONNECT_GRACE_MS = 5000;

export type TransactionOp = 'setTarget' | 'setMode';

/** A target write waiting its turn; newer targets replace `targetKiB` and wait with it. */
interface QueuedTarget {
  targetKiB: number;
  /** A prompt self step's target, or Dom0's: it does not wait for the tick's writes (tick-lane.ts). */
  urgent: boolean;
  /** While waiting in the tick lane: let it go at once (a prompt target replaced it). */
  hurry: (() => void) | null;
  waiters: { resolve: () => void; reject: (err: unknown) => void }[];
}

export interface XenHostOptions {
  logger: Logger;
  guests: GuestsConfig;
  /** Probe period (the daemon's tick). */
  probeMs: number;
  /** A xenstored socket (the fixture); default: libxenstore's choice. */
  socketPath?: string;
  /** Used when libxenctrl is unavailable (no hypervisor). */
  standIn: StandInConfig;
  /** Default: libxenctrl when it opens, else the stand-in. */
  memory?: DomainMemory;
  scheduler?: SchedulerLike;
  reconnect?: ReconnectOptions;
  reconnectGraceMs?: number;
  /**
   * Test seam: awaited inside each transaction after its reads, before its commit (the tests use
   * it to make another connection write what the transaction read, forcing a real conflict).
   */
  inTransaction?: (op: TransactionOp, domid: number, attempt: number) => Promise<void>;
  /** The tick's target transactions in flight at once (default TICK_WRITES_IN_FLIGHT). */
  tickWritesInFlight?: number;
}

interface KnownDomain {
  domid: number;
  id: string;
  /** guest.appeared sent (its static-max and target were readable). */
  announced: boolean;
  log: Logger;
  /** The last value of this key was bad (a good one then earns a "good again" line). */
  bad: { hello: boolean; meminfo: boolean };
  /** Lines about this guest's agent keys: per key, at most one "bad" and one "good again" line a minute, however they flip. */
  logBudget: { hello: { bad: LogBudget; good: LogBudget }; meminfo: { bad: LogBudget; good: LogBudget } };
  /** Listing time from which it was missing (within a reconnect's grace), else null. */
  missingSince: number | null;
  /** Its agent keys' watch and reads on the live connection (announced domains only). */
  agent: AgentKeyReader | null;
}

export class XenHost implements Host {
  readonly kind = 'xen';
  private readonly subject = new Subject<HostEvent>();
  readonly events$: Observable<HostEvent> = this.subject.asObservable();
  private readonly log: Logger;
  private readonly scheduler: SchedulerLike;
  private readonly domains = new Map<number, KnownDomain>();
  /** Per domain, the last write issued (settled or not): see inOrder. */
  private readonly writeChains = new Map<number, Promise<void>>();
  /** Per domain, a target write queued and not yet started (see setTarget). */
  private readonly queuedTargets = new Map<number, QueuedTarget>();
  /** The tick's target writes take turns here; prompt ones go around it (tick-lane.ts). */
  private readonly tickLane: TickLane;
  private readonly probe$ = new Subject<void>();
  private readonly subs = new Subscription();
  private graceUntil = -Infinity;
  private listingChain: Promise<void> = Promise.resolve();
  private sampling = false;
  private started = false;
  private closed = false;

  private constructor(
    private readonly conn: ReconnectingStore,
    readonly memory: DomainMemory,
    private readonly opts: XenHostOptions,
  ) {
    this.log = opts.logger;
    this.scheduler = opts.scheduler ?? asyncScheduler;
    this.tickLane = new TickLane(opts.tickWritesInFlight ?? TICK_WRITES_IN_FLIGHT);
  }

  /**
   * Connects to xenstored and picks the memory source. Throws XenAddonUnavailableError (one
   * sentence: what to install) without the addon, XenStoreError if xenstored is not reachable.
   */
  static async open(opts: XenHostOptions): Promise<XenHost> {
    requireXenAddon();
    const log = opts.logger;
    const open = (onLost: (s: XenStore) => void): Promise<XenStore> => {
      let store: XenStore | null = null;
      return openXenStore({
        ...(opts.socketPath !== undefined ? { socketPath: opts.socketPath, socketOnly: true } : {}),
        onWatchError: (err) => {
          log.warn({ code: err.code }, 'XenStore watch connection failed');
          if (store) onLost(store);
        },
      }).then((s) => (store = s));
    };
    const conn = await ReconnectingStore.connect(open, log, opts.reconnect);
    let memory = opts.memory;
    if (!memory) {
      try {
        memory = xenctrlMemory(openXenCtrl());
      } catch (e) {
        if (!isXenCtrlUnavailable(e)) {
          await conn.close();
          throw e;
        }
        memory = new HypervisorStandIn(opts.standIn);
        log.warn({ reason: e.reason }, `libxenctrl unavailable; using the ${memory.description}`);
      }
    }
    log.info({ memory: memory.kind }, memory.description);
    return new XenHost(conn, memory, opts);
  }

  private now(): number {
    return this.scheduler.now();
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    // Discovery first: the domains there now are announced before start() resolves.
    const first = await this.conn.use((s) => readDomainListing(s)).then(
      (value): ReadResult<number[]> => ({ ok: true, value }),
      (error: unknown): ReadResult<number[]> => ({ ok: false, error }),
    );
    await this.enqueueListing(first);
    // A new connection opens a grace period (before its listing can arrive: subscribed first).
    this.subs.add(
      this.conn.store$.subscribe((s) => {
        if (s !== null && this.conn.generation > 1) this.graceUntil = this.now() + (this.opts.reconnectGraceMs ?? RECONNECT_GRACE_MS);
        // Agent keys' watches re-armed on the new connection (none while there is none).
        for (const d of this.domains.values()) if (d.announced && d.agent?.store !== s) this.watchAgent(d, s);
      }),
    );
    // Then the watches, re-armed on every new connection.
    this.subs.add(
      this.conn.store$
        .pipe(switchMap((s) => (s ? domainListing$(s, this.probe$) : EMPTY)))
        .subscribe({
          next: (r) => void this.enqueueListing(r),
          error: (err: unknown) => this.log.error({ err }, 'domain watch failed'),
        }),
    );
    this.subs.add(interval(this.opts.probeMs, this.scheduler).subscribe(() => this.probe()));
    await this.sample();
  }

  /** One probe: re-read the listing (through the stream) and sample memory. */
  private probe(): void {
    if (this.closed) return;
    this.probe$.next();
    void this.sample();
  }

  /** Listings are handled one at a time, in order (handling one reads XenStore). */
  private enqueueListing(r: ReadResult<number[]>): Promise<void> {
    this.listingChain = this.listingChain.then(() => this.onListing(r)).catch((err: unknown) => {
      this.log.error({ err }, 'handling the domain listing failed');
    });
    return this.listingChain;
  }

  private async onListing(r: ReadResult<number[]>): Promise<void> {
    if (this.closed) return;
    if (!r.ok) {
      this.noteFailure(r.error, 'reading /local/domain failed');
      return;
    }
    const listed = r.value.filter((d) => d !== DOM0_DOMID);
    const at = this.now();
    const { added, removed } = diffDomains(new Set(this.domains.keys()), listed);
    for (const domid of added) this.domains.set(domid, this.newDomain(domid));
    for (const domid of listed) {
      const d = this.domains.get(domid)!;
      if (d.missingSince !== null) {
        d.log.info('domain back in /local/domain');
        d.missingSince = null;
      }
    }
    for (const domid of removed) {
      const d = this.domains.get(domid)!;
      if (at < this.graceUntil) {
        if (d.missingSince === null) {
          d.missingSince = at;
          d.log.info({ graceMs: Math.round(this.graceUntil - at) }, 'domain missing from /local/domain after a reconnect; waiting for it');
        }
        continue;
      }
      this.forget(d);
    }
    // All at once: their reads share batches (xenstore.ts), where one domain after another cost
    // a round trip each (100 new domains in a listing took seconds at 1,000 guests).
    const unannounced = listed.map((domid) => this.domains.get(domid)).filter((d): d is KnownDomain => d !== undefined && !d.announced);
    await Promise.all(unannounced.map((d) => this.tryAnnounce(d)));
  }

  private newDomain(domid: number): KnownDomain {
    return {
      domid,
      id: guestId(domid),
      announced: false,
      log: guestLogger(this.log, domid),
      bad: { hello: false, meminfo: false },
      logBudget: { hello: { bad: new LogBudget(), good: new LogBudget() }, meminfo: { bad: new LogBudget(), good: new LogBudget() } },
      missingSince: null,
      agent: null,
    };
  }

  private forget(d: KnownDomain): void {
    this.domains.delete(d.domid);
    d.agent?.close();
    d.agent = null;
    if (d.announced) {
      d.log.info('domain left');
      this.emit({ type: 'guest.left', at: this.now(), id: d.id });
    }
  }

  /** Announces a domain once its memory keys are readable (a domain being built has none yet). */
  private async tryAnnounce(d: KnownDomain): Promise<void> {
    let facts: { maxKiB: number | null; currentKiB: number | null; name: string | null };
    try {
      facts = await this.conn.use(async (s) => {
        const [max, name, current] = await Promise.all([
          s.read(staticMaxPath(d.domid)),
          s.read(namePath(d.domid)),
          this.memory.sizeOf(s, d.domid),
        ]);
        return { maxKiB: parseKiB(max), currentKiB: current, name };
      });
    } catch (e) {
      this.noteFailure(e, 'reading a new domain failed');
      return;
    }
    if (this.closed || this.domains.get(d.domid) !== d || d.announced) return;
    if (facts.maxKiB === null || facts.currentKiB === null) return; // not ready: next listing
    // The name only selects config entries; it is never logged or bound.
    const name = facts.name !== null && facts.name.length <= MAX_NAME_CHARS ? facts.name : null;
    const settings = guestSettings(this.opts.guests, d.domid, name);
    const minKiB = Math.min(settings.minKiB, facts.maxKiB);
    d.announced = true;
    d.log.info({ maxKiB: facts.maxKiB, currentKiB: facts.currentKiB, minKiB, shares: settings.shares }, 'domain found');
    this.emit({
      type: 'guest.appeared',
      at: this.now(),
      id: d.id,
      domid: d.domid,
      minKiB,
      maxKiB: facts.maxKiB,
      currentKiB: Math.min(facts.currentKiB, facts.maxKiB),
      shares: settings.shares,
    });
    this.watchAgent(d, this.conn.current);
  }

  /** The domain's agent keys read on `store` from now on (none when null). */
  private watchAgent(d: KnownDomain, store: XenStore | null): void {
    d.agent?.close();
    d.agent = store === null ? null : new AgentKeyReader(store, d.domid, { scheduler: this.scheduler }, (read) => this.onAgentKey(d, read), (err) => this.noteFailure(err, 'agent key watch failed'));
  }

  /** Agent keys refused (the metrics' refused reports). */
  private refusedReports = 0;

  counters(): HostCounters {
    return { refusedReports: this.refusedReports, reconnects: Math.max(0, this.conn.generation - 1) };
  }

  private onAgentKey(d: KnownDomain, read: AgentKeyRead): void {
    if (this.closed || this.domains.get(d.domid) !== d) return;
    const r = read.result;
    if (!r.ok) {
      this.noteFailure(r.error, 'reading an agent key failed');
      return;
    }
    if (r.value === null) return; // not written (yet), or removed
    const at = this.now();
    const parsed = this.parseAgentKey(d, read.key, at, r.value);
    if (!parsed.ok) {
      // In memcoop's words, not the guest's; within the key's log budget, with what it held back.
      d.bad[read.key] = true;
      this.refusedReports += 1;
      const b = d.logBudget[read.key].bad.take(at);
      if (b.log) d.log.warn({ key: read.key, problem: parsed.problem, suppressed: b.suppressed }, `bad agent ${read.key} ignored`);
      return;
    }
    if (d.bad[read.key]) {
      d.bad[read.key] = false;
      const b = d.logBudget[read.key].good.take(at);
      if (b.log) d.log.info({ key: read.key, suppressed: b.suppressed }, `agent ${read.key} good again`);
    }
    this.emit(parsed.event);
  }

  /** An agent key's text as the event it stands for, or why it does not. */
  private parseAgentKey(d: KnownDomain, key: AgentKey, at: number, text: string): { ok: true; event: HostEvent } | { ok: false; problem: string } {
    if (key === 'hello') {
      const h = parseHello(text);
      if (!h.ok) return h;
      const hello: AgentHello = { type: 'agent.hello', at, id: d.id, protocol: h.value.protocol, selfAdjust: h.value.selfAdjust };
      return { ok: true, event: hello };
    }
    const p = parseReport(d.id, at, text);
    return p.ok ? { ok: true, event: p.value } : p;
  }

  /** host.sample: host free memory, Dom0, and each announced guest's allocation. */
  private async sample(): Promise<void> {
    if (this.sampling || this.closed) return;
    this.sampling = true;
    try {
      const guests = [...this.domains.values()].filter((d) => d.announced);
      const m = await this.conn.use((s) => this.memory.sample(s, guests.map((d) => d.domid)));
      if (this.closed) return;
      const allocations: Record<string, number> = {};
      for (const d of guests) {
        const size = m.sizes.get(d.domid);
        if (size !== undefined && this.domains.get(d.domid) === d) allocations[d.id] = size;
      }
      this.emit({
        type: 'host.sample',
        at: this.now(),
        freeKiB: m.freeKiB,
        dom0: { currentKiB: m.dom0KiB, committedKiB: m.dom0CommittedKiB },
        allocations,
      });
    } catch (e) {
      this.noteFailure(e, 'host sample failed');
    } finally {
      this.sampling = false;
    }
  }

  /**
   * Writes a target. Writes to one domain queue behind each other (inOrder); a target still
   * waiting in that queue is replaced by a newer one rather than followed by it, so the queue
   * holds at most one target per domain and a busy XenStore never works through stale targets
   * (1,000 guests reporting every second backed writes up by seconds). Every caller whose
   * target was replaced settles with the write that replaced it.
   *
   * A tick's writes take turns in the tick lane (tick-lane.ts); a prompt self step's write, and
   * Dom0's (always served first), go around it, and a prompt target that replaces a tick target
   * still waiting there takes it out of the lane.
   */
  async setTarget(id: string, targetKiB: number, opts?: TargetWriteOptions): Promise<void> {
    const domid = this.domidFor(id);
    if (!Number.isSafeInteger(targetKiB) || targetKiB <= 0) throw new RangeError(`bad target ${targetKiB} KiB for ${id}`);
    const urgent = opts?.prompt === true || domid === DOM0_DOMID;
    const queued = this.queuedTargets.get(domid);
    if (queued !== undefined) {
      queued.targetKiB = targetKiB;
      if (urgent && !queued.urgent) {
        queued.urgent = true;
        queued.hurry?.();
      }
      return new Promise<void>((resolve, reject) => queued.waiters.push({ resolve, reject }));
    }
    const slot: QueuedTarget = { targetKiB, urgent, hurry: null, waiters: [] };
    this.queuedTargets.set(domid, slot);
    await this.inOrder(domid, async () => {
      let release: Release | null = null;
      try {
        if (!slot.urgent) {
          const { turn, hurry } = this.tickLane.enter();
          slot.hurry = hurry;
          release = await turn;
          slot.hurry = null;
        }
        // From here the slot is being written: a newer target queues behind it.
        if (this.queuedTargets.get(domid) === slot) this.queuedTargets.delete(domid);
        await this.writeTarget(id, domid, slot.targetKiB);
      } catch (e) {
        for (const w of slot.waiters) w.reject(e);
        throw e;
      } finally {
        release?.();
      }
      for (const w of slot.waiters) w.resolve();
    });
  }

  private async writeTarget(id: string, domid: number, targetKiB: number): Promise<void> {
    const maxKiB = targetKiB + MAXMEM_SLACK_KIB;
    const prev = await this.conn.use((s) => {
      if (domid === DOM0_DOMID) {
        // Dom0 always exists, and may have no memory/target until this write creates it.
        return s.read(targetPath(domid)).then(async (p) => {
          const before = parseKiB(p);
          if (before === null || targetKiB > before) this.raiseMax(domid, maxKiB);
          await s.write(targetPath(domid), String(targetKiB));
          return before;
        });
      }
      // A transaction: check the domain is still there and write in one step, so a domain that
      // went away is not brought back as a stray /local/domain/<domid>/memory/target.
      return s.transaction(async (tx, attempt) => {
        this.logRetry('setTarget', domid, attempt);
        // The reads and the write leave together, right after the start: three round trips
        // (start, these, end), not four. Nothing is seen before the commit, and a check below
        // that fails aborts the transaction, write and all.
        const reads = Promise.all([this.requireDomain(tx, domid), tx.read(targetPath(domid))]);
        const written = tx.write(targetPath(domid), String(targetKiB));
        written.catch(() => {}); // if a check below fails, its error is the one reported (the abort discards the write)
        const [staticMax, current] = await reads;
        // static-max as it is now: `xl mem-max` may have lowered it since the domain was
        // announced, and raising max pages past it would undo the operator's ceiling.
        if (staticMax !== null && targetKiB > staticMax) {
          throw new RangeError(`target ${targetKiB} KiB for ${id} is above its static-max ${staticMax} KiB; nothing written`);
        }
        const before = parseKiB(current);
        await this.opts.inTransaction?.('setTarget', domid, attempt);
        // Raise max pages before the commit shows the balloon a larger target (idempotent if retried).
        if (before === null || targetKiB > before) this.raiseMax(domid, maxKiB);
        await written;
        return before;
      });
    });
    this.memory.targetWritten?.(domid, targetKiB);
    this.log.debug({ domid, targetKiB }, 'memory/target written');
    // Lower max pages once the smaller target is out: the domain cannot grow back behind our back.
    if (prev !== null && targetKiB < prev) this.memory.setMaxKiB(domid, maxKiB);
  }

  /** Max pages before a larger target; logged (debug) so the order can be checked on a real Xen. */
  private raiseMax(domid: number, maxKiB: number): void {
    this.memory.setMaxKiB(domid, maxKiB);
    this.log.debug({ domid, maxKiB }, 'max pages raised');
  }

  async setMode(id: string, mode: Mode, protocol: number): Promise<void> {
    const domid = this.domidFor(id);
    if (domid === DOM0_DOMID) throw new Error('Dom0 runs no agent: no mode to write');
    if (!Number.isSafeInteger(protocol) || protocol < 0) throw new RangeError(`bad protocol ${protocol}`);
    const perms = modePermissions(domid);
    // Mode and protocol in one transaction: the agent never sees one without the other. An answer
    // the keys already hold (an agent that says hello again and again) costs two reads, not a
    // transaction; a removed key (xenstored restarted) reads back null and is written again.
    await this.inOrder(domid, () => this.conn.use(async (s) => {
      const [m, p] = await Promise.all([s.read(modePath(domid)), s.read(protocolPath(domid))]);
      if (m === mode && p === String(protocol)) return;
      await s.transaction(async (tx, attempt) => {
        this.logRetry('setMode', domid, attempt);
        await this.requireDomain(tx, domid);
        await this.opts.inTransaction?.('setMode', domid, attempt);
        // Asked together, so they go in one batch, in this order (xenstore.ts).
        await Promise.all([
          tx.mkdir(controlPath(domid)),
          tx.setPermissions(controlPath(domid), perms),
          tx.write(protocolPath(domid), String(protocol)),
          tx.setPermissions(protocolPath(domid), perms),
          tx.write(modePath(domid), mode),
          tx.setPermissions(modePath(domid), perms),
        ]);
      });
    }));
  }

  /**
   * Runs one domain's writes one at a time, in the order they were issued. The supervisor does
   * not wait for a write before issuing the next (a tick's and a prompt one can overlap): two
   * transactions on one key in flight together let the earlier one, retried after the conflict,
   * commit last, leaving a target (and max pages) the supervisor has already replaced.
   */
  private inOrder<T>(domid: number, fn: () => Promise<T>): Promise<T> {
    const run = (this.writeChains.get(domid) ?? Promise.resolve()).then(fn);
    const tail = run.then(
      () => {},
      () => {},
    );
    this.writeChains.set(domid, tail);
    void tail.then(() => {
      if (this.writeChains.get(domid) === tail) this.writeChains.delete(domid);
    });
    return run;
  }

  private domidFor(id: string): number {
    const domid = domidOf(id);
    if (domid === null) throw new Error(`not a Xen domain id: ${JSON.stringify(id.slice(0, 32))}`);
    return domid;
  }

  /** Throws unless the domain is in XenStore; returns its static-max (null if not a KiB value). */
  private async requireDomain(tx: XsOps, domid: number): Promise<number | null> {
    const staticMax = await tx.read(staticMaxPath(domid));
    if (staticMax === null) {
      throw new Error(`domain ${domid} is not in XenStore (gone, or xenstored lost it); nothing written`);
    }
    return parseKiB(staticMax);
  }

  private logRetry(op: TransactionOp, domid: number, attempt: number): void {
    if (attempt > 0) this.log.info({ domid, op, attempt }, 'XenStore transaction conflict; retrying');
  }

  /** Logs a failed request; a lost connection is the reconnect's to report, and only once. */
  private noteFailure(e: unknown, what: string): void {
    if (this.closed) return;
    if (e instanceof NotConnectedError) return;
    const store = this.conn.current;
    if (store !== null && !store.closed) this.conn.lost(store, e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECTION_LOST_CODES.has(code)) return;
    this.log.warn({ err: e }, what);
  }

  private emit(e: HostEvent): void {
    if (!this.closed) this.subject.next(e);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.subs.unsubscribe();
    for (const d of this.domains.values()) d.agent?.close();
    this.domains.clear();
    this.probe$.complete();
    await this.listingChain;
    await this.conn.close();
    this.memory.close();
    this.subject.complete();
  }
}
