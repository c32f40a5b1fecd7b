// The free-memory smoothing of section 5.1 over one guest's agent reports, built on the pure
// step in policy/smoothing.ts: smoothReport for one report (guest-reports.ts keeps a window per
// guest with it), and smoothFreeKiB, an RxJS operator in which one subscription is one window.
import { map, scan, type MonoTypeOperatorFunction } from 'rxjs';
import type { AgentReport } from '../vocabulary/events.ts';
import {
  DEFAULT_SMOOTHING_K,
  FMD_KIB,
  INITIAL_SMOOTH_STATE,
  smoothStep,
  type SmoothOptions,
  type SmoothState,
} from '../policy/smoothing.ts';

export const DEFAULT_SMOOTH_OPTIONS: SmoothOptions = { k: DEFAULT_SMOOTHING_K, fmdKiB: FMD_KIB };

export interface SmoothFreeOptions extends SmoothOptions {
  /** Called for each rejected sample (the shell logs it); `usedKiB` is the mean used instead. */
  onOutlier?: (raw: AgentReport, usedKiB: number) => void;
}

/** Throws now, not at the first report, if the options are bad. */
export function checkSmoothOptions(opts: SmoothOptions): void {
  smoothStep(INITIAL_SMOOTH_STATE, 0, opts);
}

/**
 * One report through a window: the window after it, and the report with its freeKiB smoothed
 * (the same object when the value stands; every other field unchanged).
 */
export function smoothReport(state: SmoothState, report: AgentReport, opts: SmoothFreeOptions): { state: SmoothState; report: AgentReport } {
  const r = smoothStep(state, report.freeKiB, opts);
  if (r.outlier) opts.onOutlier?.(report, r.valueKiB);
  return { state: r.state, report: r.valueKiB === report.freeKiB ? report : { ...report, freeKiB: r.valueKiB } };
}

/** Replaces each report's freeKiB by its smoothed value; every other field passes unchanged. */
export function smoothFreeKiB(opts: SmoothFreeOptions = DEFAULT_SMOOTH_OPTIONS): MonoTypeOperatorFunction<AgentReport> {
  checkSmoothOptions(opts);
  return (source) =>
    source.pipe(
      scan((acc: { state: SmoothState; report: AgentReport | null }, report: AgentReport) => smoothReport(acc.state, report, opts), {
        state: INITIAL_SMOOTH_STATE,
        report: null,
      }),
      map((acc) => acc.report as AgentReport),
    );
}
