// Churn: how often the supervisor rewrites the guests' balloon targets, and how many of its
// decreases it replaces before the balloon has reached them. A target rewritten every tick wakes
// the balloon driver every tick, and a decrease replaced before it lands (above all by a higher
// target: a reversal) moved memory for nothing. The runner feeds every guest target write with
// the balloon's allocation at that instant (the simulator knows it exactly); `memcoop sim` prints
// the result. Dom0's writes are not counted: Dom0 is served first, whatever it costs.

/** One guest's last written target and whether it was a decrease still under way. */
interface Last {
  targetKiB: number;
  /** The write asked the balloon to go down (target below the allocation by more than the slack). */
  decrease: boolean;
}

export interface ChurnReport {
  /** Target writes to guests (ticks and prompt self steps). */
  targetWrites: number;
  /** targetWrites / (guests x run minutes). */
  writesPerGuestMinute: number;
  /** Writes that asked a balloon to go down. */
  decreases: number;
  /** Decreases replaced by another target before the balloon reached them. */
  decreasesOvertaken: number;
  /** Of those, replaced by a higher target (a step in the other direction). */
  decreasesReversed: number;
  /** decreasesOvertaken / decreases (0 without decreases). */
  overtakenShare: number;
}

export class ChurnMeter {
  private readonly last = new Map<string, Last>();
  private writes = 0;
  private decreases = 0;
  private overtaken = 0;
  private reversed = 0;

  /** slackKiB: within this of its target a balloon counts as there (the supervisor's balloonSlackKiB). */
  constructor(private readonly slackKiB: number) {}

  /** A target written for guest `id`, whose balloon is at actualKiB right now. */
  write(id: string, targetKiB: number, actualKiB: number): void {
    this.writes += 1;
    const prev = this.last.get(id);
    if (prev !== undefined && prev.decrease && actualKiB > prev.targetKiB + this.slackKiB && targetKiB !== prev.targetKiB) {
      this.overtaken += 1;
      if (targetKiB > prev.targetKiB) this.reversed += 1;
    }
    const decrease = targetKiB < actualKiB - this.slackKiB;
    if (decrease) this.decreases += 1;
    this.last.set(id, { targetKiB, decrease });
  }

  report(guests: number, durationMs: number): ChurnReport {
    const guestMinutes = (guests * durationMs) / 60_000;
    return {
      targetWrites: this.writes,
      writesPerGuestMinute: guestMinutes > 0 ? this.writes / guestMinutes : 0,
      decreases: this.decreases,
      decreasesOvertaken: this.overtaken,
      decreasesReversed: this.reversed,
      overtakenShare: this.decreases > 0 ? this.overtaken / this.decreases : 0,
    };
  }
}

/** One line for the sim report. */
export function churnLine(c: ChurnReport): string {
  const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
  return (
    `churn:   ${c.targetWrites} guest target writes (${c.writesPerGuestMinute.toFixed(1)} per guest-minute); ` +
    `${c.decreases} decreases, ${c.decreasesOvertaken} overtaken before landing (${pct(c.overtakenShare)}), ${c.decreasesReversed} of them by a higher target`
  );
}
