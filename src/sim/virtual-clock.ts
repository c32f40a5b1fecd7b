// The simulator's clock: an RxJS scheduler whose time moves only when the runner says so. It is
// what startDaemon's ticks, the per-guest report rate limit and effect failures are timed on in
// `memcoop sim` (asyncScheduler in production), so the same shell code runs in both.
//
// Why not rxjs's VirtualTimeScheduler: it re-sorts its whole queue on every schedule, which at
// 1,000 guests (a rate-limit timer per report) costs more than the supervisor being measured,
// and its flush cannot stop between two instants. This one keeps a binary heap ordered by
// (due, order scheduled), so equal-time actions run in the order they were scheduled, and it can
// run what is due strictly before an instant, move to the instant, and then run what is due at it.
import { Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs';

class ClockAction<T> extends Subscription implements SchedulerAction<T> {
  /** Heap entry this action is waiting under (0: not scheduled); stale entries are skipped. */
  ticket = 0;
  due = 0;
  state: T | undefined;

  constructor(
    private readonly clock: VirtualClock,
    private readonly work: (this: SchedulerAction<T>, state?: T) => void,
  ) {
    super();
  }

  schedule(state?: T, delay = 0): Subscription {
    if (this.closed) return this;
    this.state = state;
    // Infinity: never runs (as rxjs's own schedulers treat it).
    if (!Number.isFinite(delay)) {
      this.ticket = 0;
      return this;
    }
    this.due = this.clock.now() + Math.max(0, delay);
    this.ticket = this.clock.enqueue(this);
    return this;
  }

  run(): void {
    this.ticket = 0;
    try {
      this.work(this.state);
    } catch (err) {
      this.unsubscribe();
      throw err;
    }
  }

  override unsubscribe(): void {
    this.ticket = 0;
    super.unsubscribe();
  }
}

interface Entry {
  due: number;
  ticket: number;
  action: ClockAction<unknown>;
}

const before = (a: Entry, b: Entry): boolean => a.due < b.due || (a.due === b.due && a.ticket < b.ticket);

export class VirtualClock implements SchedulerLike {
  private nowMs: number;
  private readonly heap: Entry[] = [];
  private tickets = 0;

  constructor(startMs = 0) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    return new ClockAction<T>(this, work).schedule(state, delay);
  }

  /** Actions waiting (stale heap entries of rescheduled or cancelled actions not counted). */
  get pending(): number {
    return this.heap.filter((e) => e.action.ticket === e.ticket && !e.action.closed).length;
  }

  /** @internal: files an action under a fresh ticket; returns the ticket. */
  enqueue(action: ClockAction<any>): number {
    const e: Entry = { due: action.due, ticket: ++this.tickets, action };
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
    return e.ticket;
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
    return top;
  }

  /** Runs every action due before `untilMs` (strictly, or up to and including it), in order. */
  private runWhile(untilMs: number, inclusive: boolean): number {
    let ran = 0;
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.due > untilMs || (!inclusive && top.due === untilMs)) break;
      this.pop();
      const a = top.action;
      if (a.ticket !== top.ticket || a.closed) continue; // rescheduled or cancelled since
      if (top.due > this.nowMs) this.nowMs = top.due;
      a.run();
      ran += 1;
    }
    return ran;
  }

  /** Runs what is due before `atMs`, then moves the clock to `atMs` (nothing at `atMs` runs yet). */
  advanceTo(atMs: number): number {
    if (atMs < this.nowMs) throw new RangeError(`the clock cannot go back (now ${this.nowMs}, asked ${atMs})`);
    const ran = this.runWhile(atMs, false);
    this.nowMs = atMs;
    return ran;
  }

  /** Runs everything due now (actions that schedule more at the same instant run too). */
  runDue(): number {
    return this.runWhile(this.nowMs, true);
  }
}
