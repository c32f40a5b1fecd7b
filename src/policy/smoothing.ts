// Free-memory smoothing (paper, section 5.1), as a pure step. Under pressure the page-frame
// reclaimer frees a burst of pages and MemFree jumps for an instant; taken at face value that
// jump would make the guest look idle and the balance would take memory from it just when it
// needs it. So a sample that exceeds the mean of the previous k accepted samples by more than
// fmd is an outlier, and the mean is used in its place.
//
// Beyond the paper: a free-memory level that really did rise and stays risen (the balloon gave
// the guest memory, a big process exited) would, by that rule alone, be an outlier forever,
// since outliers never enter the window the mean is taken over. After LASTING_RISE_SAMPLES
// consecutive outliers the rise is taken as real: the sample is accepted and the window restarts
// from the run of outliers. A reclaim burst lasts an instant (one report at the paper's 1 s
// interval, two at worst), so three in a row is not a burst.
//
// Drops in free memory are never outliers: less free memory is pressure and must be seen at once.

/** fmd, the largest rise over the mean not taken as an outlier (paper, section 5.1: 5 MiB). */
export const FMD_KIB = 5 * 1024;

/**
 * Default window, in accepted samples. The paper leaves k open; 5 reports at its 1 s interval
 * is a 5 s memory: long enough to outvote a burst, short enough to follow a real change.
 */
export const DEFAULT_SMOOTHING_K = 5;

/**
 * Beyond the paper: this many consecutive outliers are a lasting rise, and the level is accepted
 * (see the header comment). Must be > 1, or every outlier would be accepted.
 */
export const LASTING_RISE_SAMPLES = 3;

export interface SmoothOptions {
  /** Window: the mean is over the previous k accepted samples. Integer >= 1. */
  k: number;
  /** fmd in KiB (paper: FMD_KIB). Integer >= 0. */
  fmdKiB: number;
  /** Consecutive outliers after which the level is accepted; default LASTING_RISE_SAMPLES. */
  lastingRiseSamples?: number;
}

export interface SmoothState {
  /** The last (at most k) accepted samples, oldest first. */
  readonly accepted: readonly number[];
  /** The current run of consecutive outliers, oldest first (empty after an accepted sample). */
  readonly outliers: readonly number[];
}

export interface SmoothResult {
  state: SmoothState;
  /** What to use for this sample: the sample itself, or the window's mean for an outlier. */
  valueKiB: number;
  /** The sample was rejected as an outlier (valueKiB is the mean). */
  outlier: boolean;
}

export const INITIAL_SMOOTH_STATE: SmoothState = Object.freeze({ accepted: Object.freeze([]), outliers: Object.freeze([]) });

/** Integer mean of a non-empty list of KiB (floor: never report more free memory than seen). */
function meanKiB(xs: readonly number[]): number {
  let sum = 0;
  for (const x of xs) sum += x;
  return Math.floor(sum / xs.length);
}

function checkOptions(opts: SmoothOptions): number {
  if (!Number.isSafeInteger(opts.k) || opts.k < 1) throw new RangeError(`smoothing k must be an integer >= 1, got ${opts.k}`);
  if (!Number.isSafeInteger(opts.fmdKiB) || opts.fmdKiB < 0) {
    throw new RangeError(`smoothing fmdKiB must be an integer >= 0, got ${opts.fmdKiB}`);
  }
  const lasting = opts.lastingRiseSamples ?? LASTING_RISE_SAMPLES;
  if (!Number.isSafeInteger(lasting) || lasting < 2) {
    throw new RangeError(`smoothing lastingRiseSamples must be an integer >= 2, got ${lasting}`);
  }
  return lasting;
}

/** One sample through the filter. Pure: returns the next state, never changes `state`. */
/**
 * The sample taken as it is, joining the window. At module level rather than a closure in
 * smoothStep: this runs once per report per guest, and a per-call closure measured 0.6-0.9 ms a
 * tick at 1,000 guests (bench:sim profile).
 */
function accepted(window: readonly number[], sampleKiB: number, k: number): SmoothResult {
  return { state: { accepted: [...window, sampleKiB].slice(-k), outliers: [] }, valueKiB: sampleKiB, outlier: false };
}

export function smoothStep(state: SmoothState, sampleKiB: number, opts: SmoothOptions): SmoothResult {
  const lasting = checkOptions(opts);
  if (!Number.isSafeInteger(sampleKiB) || sampleKiB < 0) {
    throw new RangeError(`free memory sample must be a whole number of KiB >= 0, got ${sampleKiB}`);
  }
  // Nothing to compare with yet: the first sample is taken as it is.
  if (state.accepted.length === 0) return accepted([], sampleKiB, opts.k);
  const mean = meanKiB(state.accepted.slice(-opts.k));
  if (sampleKiB - mean <= opts.fmdKiB) return accepted(state.accepted, sampleKiB, opts.k);
  const run = [...state.outliers, sampleKiB];
  if (run.length >= lasting) {
    // A lasting rise: the new level replaces the old window.
    return { state: { accepted: run.slice(-opts.k), outliers: [] }, valueKiB: sampleKiB, outlier: false };
  }
  return { state: { accepted: state.accepted, outliers: run }, valueKiB: mean, outlier: true };
}
