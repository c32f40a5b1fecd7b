// SimHost: the Host interface over the pure simulator. Time moves only when the owner calls
// step(dtMs); every event carries the virtual clock's `at`. Agents' reports arrive as meminfo
// text and go through the real parser (src/vocabulary/meminfo.ts): what it rejects is dropped here
// and counted, as a real host drops a bad report.
import { Subject, type Observable } from 'rxjs';
import type { Logger } from 'pino';
import type { HostEvent, Host } from '../host.ts';
import type { AgentReport } from '../../vocabulary/events.ts';
import { agentReportFromMeminfo, MeminfoError } from '../../vocabulary/meminfo.ts';
import { memoryOf, initialState, requestTarget, startSim, stepSim, DOM0, type SimOccurrence } from './step.ts';
import { hostFreeKiB, type SimConfig, type SimState } from './state.ts';
import type { Mode } from '../../vocabulary/mode.ts';

export interface SimHostOptions {
  logger?: Logger;
  /** Meminfo text -> report; throws on a bad one. Default: the streams parser. */
  parseReport?: (id: string, at: number, text: string) => AgentReport;
}

export interface SimRequest {
  at: number;
  id: string;
  kind: 'target' | 'mode';
  targetKiB?: number;
  mode?: Mode;
}

export interface GuestOutcome {
  id: string;
  workload: string;
  /** Virtual seconds from creation to the end of the last phase; null while running or if killed. */
  runtimeS: number | null;
  killed: boolean;
  faults: number;
}

export class SimHost implements Host {
  readonly kind = 'sim';
  private readonly subject = new Subject<HostEvent>();
  readonly events$: Observable<HostEvent> = this.subject.asObservable();
  private s: SimState;
  private started = false;
  private closed = false;
  private readonly parse: (id: string, at: number, text: string) => AgentReport;
  private readonly rejectedIds = new Set<string>();
  /** Reports the parser refused, per guest id. */
  readonly rejectedReports = new Map<string, number>();
  /** Every target and mode request, in order (the runner's record of what the supervisor did). */
  readonly requests: SimRequest[] = [];
  /** What the simulator did that a host would not say (finishes, OOM kills), for the runner. */
  readonly outcomes$ = new Subject<SimOccurrence>();

  constructor(
    readonly config: SimConfig,
    private readonly opts: SimHostOptions = {},
  ) {
    this.s = initialState(config);
    this.parse = opts.parseReport ?? agentReportFromMeminfo;
  }

  /** The current state (immutable data; the invariant checker and the live table read it). */
  get state(): SimState {
    return this.s;
  }

  get now(): number {
    return this.s.atMs;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.publish(startSim(this.s));
  }

  /** Advance the virtual clock by dtMs and emit what happened. Returns the host events emitted. */
  step(dtMs: number): HostEvent[] {
    if (!this.started) throw new Error('SimHost.step before start()');
    if (this.closed) throw new Error('SimHost.step after close()');
    return this.publish(stepSim(this.s, dtMs));
  }

  async setTarget(id: string, targetKiB: number): Promise<void> {
    this.known(id);
    if (!Number.isSafeInteger(targetKiB) || targetKiB < 0) throw new RangeError(`target for ${id} must be a whole number of KiB >= 0, got ${targetKiB}`);
    this.requests.push({ at: this.s.atMs, id, kind: 'target', targetKiB });
    this.s = requestTarget(this.s, id, targetKiB);
  }

  async setMode(id: string, mode: Mode, protocol: number): Promise<void> {
    this.known(id);
    if (id === DOM0) throw new Error('Dom0 has no mode');
    this.requests.push({ at: this.s.atMs, id, kind: 'mode', mode });
    this.s = { ...this.s, guests: this.s.guests.map((g) => (g.config.id === id ? { ...g, mode, protocol } : g)) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.subject.complete();
    this.outcomes$.complete();
  }

  /** Each guest's outcome so far. */
  outcomes(): GuestOutcome[] {
    return this.s.guests.map((g) => ({
      id: g.config.id,
      workload: g.config.workload.kind,
      runtimeS: g.finishedAtMs === null || g.startedAtMs === null ? null : (g.finishedAtMs - g.startedAtMs) / 1000,
      killed: g.killedAtMs !== null,
      faults: Math.round(g.faults),
    }));
  }

  /** Every guest's workload has finished or was killed (guests that left or never came count as done). */
  allDone(): boolean {
    return this.s.guests.every((g) => g.status !== 'running' || g.finishedAtMs !== null || g.killedAtMs !== null);
  }

  private known(id: string): void {
    if (id === DOM0) return;
    const g = this.s.guests.find((x) => x.config.id === id);
    if (g === undefined || g.status !== 'running') throw new Error(`no such guest: ${id}`);
  }

  private publish(r: { state: SimState; occurred: SimOccurrence[] }): HostEvent[] {
    this.s = r.state;
    const out: HostEvent[] = [];
    for (const o of r.occurred) {
      const e = this.toHostEvent(o);
      if (e !== null) out.push(e);
      if (o.type === 'finished' || o.type === 'killed') this.outcomes$.next(o);
    }
    for (const e of out) this.subject.next(e);
    return out;
  }

  private toHostEvent(o: SimOccurrence): HostEvent | null {
    const s = this.s;
    switch (o.type) {
      case 'appeared': {
        const g = s.guests.find((x) => x.config.id === o.id);
        if (g === undefined) return null;
        return {
          type: 'guest.appeared',
          at: o.at,
          id: o.id,
          domid: g.config.domid,
          minKiB: g.config.minKiB,
          maxKiB: g.config.maxKiB,
          currentKiB: g.balloon.actualKiB,
          shares: g.config.shares,
        };
      }
      case 'hello':
        return { type: 'agent.hello', at: o.at, id: o.id, protocol: o.protocol, selfAdjust: o.selfAdjust };
      case 'left':
        return { type: 'guest.left', at: o.at, id: o.id };
      case 'report':
        try {
          return this.parse(o.id, o.at, o.text);
        } catch (err) {
          this.rejectedReports.set(o.id, (this.rejectedReports.get(o.id) ?? 0) + 1);
          // Logged once per guest, by line number only: what a guest sent is not copied into logs.
          if (!this.rejectedIds.has(o.id)) {
            this.rejectedIds.add(o.id);
            const line = err instanceof MeminfoError ? err.line : null;
            this.opts.logger?.warn({ at: o.at, guest: o.id, line }, 'bad agent report ignored');
          }
          return null;
        }
      case 'sample': {
        const allocations: Record<string, number> = {};
        for (const g of s.guests) if (g.status === 'running') allocations[g.config.id] = g.balloon.actualKiB;
        return {
          type: 'host.sample',
          at: o.at,
          freeKiB: hostFreeKiB(s),
          dom0: { currentKiB: s.dom0.balloon.actualKiB, committedKiB: s.dom0.committedKiB },
          allocations,
        };
      }
      case 'finished':
      case 'killed':
        return null;
    }
  }
}

export { DOM0, memoryOf };
