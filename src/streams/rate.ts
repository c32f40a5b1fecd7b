// A per-guest rate limit on agent reports that costs no timer while an agent keeps to its rate.
// rxjs throttleTime(leading + trailing) schedules a timer for every value it lets through (to end
// its window): at 1,000 guests reporting once a second that was 1,000 timers a second for
// nothing. Here a report passes at once if the last one passed at least `minIntervalMs` ago;
// otherwise it is held, and the latest held one passes when the interval is up (a timer only
// then). Same outcome as throttleTime with leading and trailing: a normal agent is never
// delayed, a flood yields at most one report per interval, and always its latest.
import { Observable, type MonoTypeOperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';

export function limitRate<T>(minIntervalMs: number, scheduler: SchedulerLike): MonoTypeOperatorFunction<T> {
  if (!Number.isFinite(minIntervalMs) || minIntervalMs < 0) throw new RangeError(`rate limit interval must be >= 0 ms, got ${minIntervalMs}`);
  if (minIntervalMs === 0) return (source) => source;
  return (source) =>
    new Observable<T>((subscriber) => {
      let lastPassed = -Infinity;
      let held: { value: T } | null = null;
      let timer: Subscription | null = null;
      const pass = (value: T) => {
        lastPassed = scheduler.now();
        subscriber.next(value);
      };
      const release = () => {
        timer = null;
        if (held === null) return;
        const { value } = held;
        held = null;
        pass(value);
      };
      const sub = source.subscribe({
        next: (value) => {
          if (scheduler.now() - lastPassed >= minIntervalMs) {
            // The interval is up: this one is newer than anything held.
            held = null;
            timer?.unsubscribe();
            timer = null;
            pass(value);
            return;
          }
          held = { value };
          timer ??= scheduler.schedule(release, lastPassed + minIntervalMs - scheduler.now());
        },
        error: (err) => subscriber.error(err),
        // A held report still goes out at the end of its interval, as throttleTime's trailing value would.
        complete: () => {
          if (held === null) subscriber.complete();
          else {
            timer?.unsubscribe();
            timer = scheduler.schedule(() => {
              release();
              subscriber.complete();
            }, Math.max(0, lastPassed + minIntervalMs - scheduler.now()));
          }
        },
      });
      return () => {
        timer?.unsubscribe();
        sub.unsubscribe();
      };
    });
}
