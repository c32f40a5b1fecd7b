// Host events + ticks (+ effect failures) -> the supervisor's input stream. Agent reports are
// rate-limited and smoothed per guest here, then gathered into `agent.reports` batches (batch.ts);
// every other event passes through as it came. This is the one place the supervisor's inputs are
// timed, so it is also where the journal taps them.
import { asyncScheduler, merge, EMPTY, type Observable, type SchedulerLike } from 'rxjs';
import { DEFAULT_TICK_MS, type EffectFailed, type HostEvent, type SupervisorInput } from '../vocabulary/events.ts';
import { batchReports, REPORT_BATCH_MS } from './batch.ts';
import { DEFAULT_SMOOTH_OPTIONS, type SmoothFreeOptions } from './smooth.ts';
import { reportsPerGuest } from './guest-reports.ts';
import { ticks } from './ticks.ts';
import { nonDecreasingAt } from './ordered.ts';

/**
 * At most one report per guest per this many ms reaches the smoother (beyond the paper: what a
 * guest writes is untrusted, and a flooding agent must not cost Dom0 CPU or push its window
 * around). The paper's agent reports once a second; 250 ms lets an agent run 4x faster.
 */
export const REPORT_MIN_INTERVAL_MS = 250;

export interface InputStreamOptions {
  /** Algorithm 1's period (paper: 1 s). */
  tickMs?: number;
  /** The clock of ticks and rate limits (tests: TestScheduler; simulator: its virtual clock). */
  scheduler?: SchedulerLike;
  smoothing?: SmoothFreeOptions;
  /** 0 turns the per-guest rate limit off. */
  reportMinIntervalMs?: number;
  /** How long a batch of reports stays open (default REPORT_BATCH_MS); 0: one batch per report, at once. */
  reportBatchMs?: number;
  /** Failures of the effects the shell ran for the supervisor. */
  effects$?: Observable<EffectFailed>;
}

export function supervisorInputs(host$: Observable<HostEvent>, opts: InputStreamOptions = {}): Observable<SupervisorInput> {
  const scheduler = opts.scheduler ?? asyncScheduler;
  const smoothing = opts.smoothing ?? DEFAULT_SMOOTH_OPTIONS;
  const minInterval = opts.reportMinIntervalMs ?? REPORT_MIN_INTERVAL_MS;
  if (!Number.isFinite(minInterval) || minInterval < 0) throw new RangeError(`reportMinIntervalMs must be >= 0, got ${minInterval}`);
  const tick$ = ticks(opts.tickMs ?? DEFAULT_TICK_MS, scheduler);
  // One subscription to the host; reports are limited and smoothed per guest on the way (each
  // guest's state kept until its guest.left), every other event passes as it came.
  const fromHost$ = host$.pipe(reportsPerGuest({ minIntervalMs: minInterval, scheduler, smoothing }));
  return merge(fromHost$, tick$, opts.effects$ ?? EMPTY).pipe(
    batchReports<Exclude<SupervisorInput, { type: 'agent.reports' }>>(opts.reportBatchMs ?? REPORT_BATCH_MS, scheduler),
    nonDecreasingAt(),
  );
}
