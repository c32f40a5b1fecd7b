// The tick's target writes take turns; a prompt write does not wait for them.
//
// xenstored answers one connection's requests in the order they came. A tick at 1,000 guests
// issued ~500 target transactions at once (five requests each), and a prompt self step's write
// made just after it queued behind all of them: bench:scale measured report -> target p99 at
// 192-405 ms for prompt writes while their p50 was 6-8 ms, and 25-44 ms with the lane. With at
// most TICK_WRITES_IN_FLIGHT tick transactions on the connection, a prompt write waits behind
// at most that many at each of its round trips, and the tick's writes still keep the
// connection busy (they land within ~200 ms of the tick, as before).

/**
 * Tick transactions in flight at once. The tick's throughput is unchanged while this many keep
 * xenstored busy (each waits its round trips); the choice, and the figures either side of it,
 * are in docs/measurements.md ("Tick writes in flight").
 */
export const TICK_WRITES_IN_FLIGHT = 16;

/** Called when the write that entered is done (settled either way). */
export type Release = () => void;

const NOTHING_TO_RELEASE: Release = () => {};

interface Waiting {
  start: (release: Release) => void;
  /** Hurried out of the lane: skipped when its turn would come. */
  gone: boolean;
}

export class TickLane {
  private running = 0;
  private readonly waiting: Waiting[] = [];
  /** Entries of `waiting` not gone (a hurried one is marked, not spliced out: O(1) per hurry). */
  private waitingCount = 0;

  constructor(private readonly limit: number = TICK_WRITES_IN_FLIGHT) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`tick lane: limit ${limit} is not a whole number >= 1`);
  }

  /**
   * Waits for a turn. `hurry`, called while still waiting, lets the write go at once outside the
   * lane (a prompt target replaced the waiting tick target); after the turn came it does nothing.
   */
  enter(): { turn: Promise<Release>; hurry: () => void } {
    if (this.running < this.limit) {
      this.running += 1;
      return { turn: Promise.resolve(this.releaser()), hurry: () => {} };
    }
    let start!: (release: Release) => void;
    const turn = new Promise<Release>((resolve) => (start = resolve));
    const w: Waiting = { start, gone: false };
    this.waiting.push(w);
    this.waitingCount += 1;
    let started = false;
    const hurry = () => {
      if (started || w.gone) return;
      w.gone = true;
      this.waitingCount -= 1;
      w.start(NOTHING_TO_RELEASE);
    };
    w.start = (release) => {
      started = true;
      start(release);
    };
    return { turn, hurry };
  }

  /** Tick writes in flight, and waiting (for the tests). */
  get size(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waitingCount };
  }

  private releaser(): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      let next = this.waiting.shift();
      while (next !== undefined && next.gone) next = this.waiting.shift();
      if (next === undefined) {
        this.running -= 1;
        return;
      }
      // The turn passes straight to the next write: `running` stays as it is.
      this.waitingCount -= 1;
      next.start(this.releaser());
    };
  }
}
