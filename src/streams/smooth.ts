// The free-memory smoothing of section 5.1 as an RxJS operator over one guest's agent reports,
// built on the pure step in policy/smoothing.ts. One subscription = one guest's window: apply it
// inside per-guest grouping (per-guest.ts) so guests never share a window.
import { map, scan, type MonoTypeOperatorFunction } from 'rxjs';
import type { AgentReport } from '../machines/events.ts';
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

/** Replaces each report's freeKiB by its smoothed value; every other field passes unchanged. */
export function smoothFreeKiB(opts: SmoothFreeOptions = DEFAULT_SMOOTH_OPTIONS): MonoTypeOperatorFunction<AgentReport> {
  // Check the options now, not at the first report.
  smoothStep(INITIAL_SMOOTH_STATE, 0, opts);
  return (source) =>
    source.pipe(
      scan(
        (acc: { state: SmoothState; out: AgentReport | null }, report: AgentReport) => {
          const r = smoothStep(acc.state, report.freeKiB, opts);
          if (r.outlier) opts.onOutlier?.(report, r.valueKiB);
          return { state: r.state, out: r.valueKiB === report.freeKiB ? report : { ...report, freeKiB: r.valueKiB } };
        },
        { state: INITIAL_SMOOTH_STATE, out: null },
      ),
      map((acc) => acc.out as AgentReport),
    );
}
