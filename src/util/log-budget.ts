// A log budget, first for what guests send: a guest whose agent alternates a bad and a good value
// defeated "logged once until a good one arrives" (50 such guests gave 257 log lines a second).
// Now each guest's key earns at most one line per interval, bad or good-again alike, and the
// line says how many it stands for. Time comes from the caller (the host's scheduler).

/** One warning a minute per guest and key: an operator still sees a broken agent at once. */
export const INPUT_LOG_INTERVAL_MS = 60_000;

export class LogBudget {
  private lastAt = -Infinity;
  private held = 0;

  constructor(private readonly intervalMs = INPUT_LOG_INTERVAL_MS) {}

  /**
   * Whether a line may be logged at `now`; if so, how many lines were held back since the last
   * one (to log with it). A held-back line is counted, not lost.
   */
  take(now: number): { log: true; suppressed: number } | { log: false } {
    if (now - this.lastAt < this.intervalMs) {
      this.held += 1;
      return { log: false };
    }
    const suppressed = this.held;
    this.held = 0;
    this.lastAt = now;
    return { log: true, suppressed };
  }
}
