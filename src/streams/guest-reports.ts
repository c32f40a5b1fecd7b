// Agent reports rate-limited (rate.ts) and then smoothed (smooth.ts) per guest, in one operator
// over all host events. Each guest's rate gate and smoothing window live in a Map entry made at
// its first report and dropped when its guest.left comes through, so a guest that leaves is let
// go, and one that comes back (or a new guest reusing the id) starts fresh. Every other event
// passes through as it came.
//
// This replaced a groupBy with a rate limit + smoothing chain per guest: each report went through
// about ten subscribers on its way, and at 1,000 guests that chain was a third of the
// supervisor's per-tick cost in bench:sim.
import { Observable, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import type { HostEvent } from '../vocabulary/events.ts';
import type { AgentReport } from '../vocabulary/events.ts';
import { INITIAL_SMOOTH_STATE, type SmoothState } from '../policy/smoothing.ts';
import { checkMinInterval, RateGate } from './rate.ts';
import { checkSmoothOptions, smoothReport, type SmoothFreeOptions } from './smooth.ts';

export interface GuestReportOptions {
  /** At most one report per guest per this many ms; 0: no limit. */
  minIntervalMs: number;
  /** The clock of the rate limit's held reports. */
  scheduler: SchedulerLike;
  smoothing: SmoothFreeOptions;
}

/** Where the filter's reports go (an operator's subscriber). */
export interface ReportSink {
  next(report: AgentReport): void;
  /** A report the smoothing refused (a sample that is not whole KiB >= 0): the stream fails. */
  error(err: unknown): void;
}

interface GuestEntry {
  /** null when there is no rate limit. */
  gate: RateGate<AgentReport> | null;
  window: SmoothState;
}

/** The per-guest state behind reportsPerGuest: one entry per guest that reported and has not left. */
export class GuestReportFilter {
  private readonly guests = new Map<string, GuestEntry>();

  constructor(
    private readonly opts: GuestReportOptions,
    private readonly sink: ReportSink,
  ) {
    checkMinInterval(opts.minIntervalMs);
    checkSmoothOptions(opts.smoothing);
  }

  /** Guests with state kept (reported, not left). */
  get size(): number {
    return this.guests.size;
  }

  report(r: AgentReport): void {
    let g = this.guests.get(r.id);
    if (g === undefined) g = this.add(r.id);
    if (g.gate === null) this.smoothed(g, r);
    else g.gate.offer(r);
  }

  /** The guest left: its window and anything its gate holds are dropped. */
  left(id: string): void {
    const g = this.guests.get(id);
    if (g === undefined) return;
    g.gate?.cancel();
    this.guests.delete(id);
  }

  /** No more reports: held ones still go out at the end of their intervals, then `done` runs. */
  drain(done: () => void): void {
    let pending = 1; // this call's own, released last, so `done` runs once whatever the gates do
    const one = () => {
      pending -= 1;
      if (pending === 0) done();
    };
    for (const g of this.guests.values()) {
      if (g.gate?.holding) {
        pending += 1;
        g.gate.drain(one);
      }
    }
    one();
  }

  /** Drops everything held and every timer. */
  cancel(): void {
    for (const g of this.guests.values()) g.gate?.cancel();
    this.guests.clear();
  }

  private add(id: string): GuestEntry {
    const g: GuestEntry = { gate: null, window: INITIAL_SMOOTH_STATE };
    if (this.opts.minIntervalMs > 0) g.gate = new RateGate<AgentReport>(this.opts.minIntervalMs, this.opts.scheduler, (r) => this.smoothed(g, r));
    this.guests.set(id, g);
    return g;
  }

  private smoothed(g: GuestEntry, r: AgentReport): void {
    let out: AgentReport;
    try {
      const s = smoothReport(g.window, r, this.opts.smoothing);
      g.window = s.state;
      out = s.report;
    } catch (err) {
      this.sink.error(err);
      return;
    }
    this.sink.next(out);
  }
}

/**
 * Host events with each guest's agent reports rate-limited then smoothed (a guest's state
 * dropped at its guest.left, which passes through after); every other event unchanged, in order.
 */
export function reportsPerGuest(opts: GuestReportOptions): MonoTypeOperatorFunction<HostEvent> {
  checkMinInterval(opts.minIntervalMs);
  checkSmoothOptions(opts.smoothing);
  return (source) =>
    new Observable<HostEvent>((subscriber) => {
      const filter = new GuestReportFilter(opts, subscriber);
      const sub = source.subscribe({
        next: (e) => {
          if (e.type === 'agent.report') {
            filter.report(e);
            return;
          }
          if (e.type === 'guest.left') filter.left(e.id);
          subscriber.next(e);
        },
        error: (err) => subscriber.error(err),
        complete: () => filter.drain(() => subscriber.complete()),
      });
      return () => {
        filter.cancel();
        sub.unsubscribe();
      };
    });
}
