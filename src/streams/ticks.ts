// The tick that drives Algorithm 1 (paper: once a second). Streams own time: the scheduler is
// injected (a TestScheduler or a virtual clock in tests and the simulator, asyncScheduler in the
// daemon), and each tick is stamped with that scheduler's now(), never the wall clock directly.
import { asyncScheduler, interval, map, type Observable, type SchedulerLike } from 'rxjs';
import { DEFAULT_TICK_MS, type Tick } from '../vocabulary/events.ts';

/** A tick every `intervalMs`, the first one interval after subscription. */
export function ticks(intervalMs: number = DEFAULT_TICK_MS, scheduler: SchedulerLike = asyncScheduler): Observable<Tick> {
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) throw new RangeError(`tick interval must be > 0 ms, got ${intervalMs}`);
  return interval(intervalMs, scheduler).pipe(map((): Tick => ({ type: 'tick', at: scheduler.now() })));
}
