// A per-guest rate limit on agent reports that costs no timer while an agent keeps to its rate.
// rxjs throttleTime(leading + trailing) schedules a timer for every value it lets through (to end
// its window): at 1,000 guests reporting once a second that was 1,000 timers a second for
// nothing. Here a report passes at once if the last one passed at least `minIntervalMs` ago;
// otherwise it is held, and the latest held one passes when the interval is up (a timer only
// then). Same outcome as throttleTime with leading and trailing: a normal agent is never
// delayed, a flood yields at most one report per interval, and always its latest.
//
// RateGate is that rule for one stream of values; limitRate is it as an operator, and
// guest-reports.ts keeps one gate per guest.
import { Observable, type MonoTypeOperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';

export function checkMinInterval(minIntervalMs: number): void {
  if (!Number.isFinite(minIntervalMs) || minIntervalMs < 0) throw new RangeError(`rate limit interval must be >= 0 ms, got ${minIntervalMs}`);
}

/** One stream's rate limit: `offer` each value; what may pass goes to `pass`, now or when its interval is up. */
export class RateGate<T> {
  private lastPassed = -Infinity;
  private held: { value: T } | null = null;
  private timer: Subscription | null = null;
  private onDrained: (() => void) | null = null;

  constructor(
    private readonly minIntervalMs: number,
    private readonly scheduler: SchedulerLike,
    private readonly pass: (value: T) => void,
  ) {}

  /** A value is held for the end of its interval. */
  get holding(): boolean {
    return this.held !== null;
  }

  offer(value: T): void {
    const now = this.scheduler.now();
    if (now - this.lastPassed >= this.minIntervalMs) {
      // The interval is up: this one is newer than anything held.
      this.held = null;
      if (this.timer !== null) {
        this.timer.unsubscribe();
        this.timer = null;
      }
      this.lastPassed = now;
      this.pass(value);
      return;
    }
    this.held = { value };
    this.timer ??= this.scheduler.schedule(() => this.release(), this.lastPassed + this.minIntervalMs - now);
  }

  /**
   * No more values: a held one still goes out at the end of its interval (as throttleTime's
   * trailing value would), then `done` runs; at once when nothing is held.
   */
  drain(done: () => void): void {
    if (this.held === null) {
      done();
      return;
    }
    this.onDrained = done;
    this.timer?.unsubscribe();
    this.timer = this.scheduler.schedule(() => this.release(), Math.max(0, this.lastPassed + this.minIntervalMs - this.scheduler.now()));
  }

  /** Drops anything held and its timer. */
  cancel(): void {
    this.held = null;
    this.onDrained = null;
    this.timer?.unsubscribe();
    this.timer = null;
  }

  private release(): void {
    this.timer = null;
    const held = this.held;
    if (held !== null) {
      this.held = null;
      this.lastPassed = this.scheduler.now();
      this.pass(held.value);
    }
    const done = this.onDrained;
    this.onDrained = null;
    done?.();
  }
}

export function limitRate<T>(minIntervalMs: number, scheduler: SchedulerLike): MonoTypeOperatorFunction<T> {
  checkMinInterval(minIntervalMs);
  if (minIntervalMs === 0) return (source) => source;
  return (source) =>
    new Observable<T>((subscriber) => {
      const gate = new RateGate<T>(minIntervalMs, scheduler, (value) => subscriber.next(value));
      const sub = source.subscribe({
        next: (value) => gate.offer(value),
        error: (err) => subscriber.error(err),
        complete: () => gate.drain(() => subscriber.complete()),
      });
      return () => {
        gate.cancel();
        sub.unsubscribe();
      };
    });
}
