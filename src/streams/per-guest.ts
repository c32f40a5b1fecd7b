// Per-guest grouping: one inner stream (and so one piece of state: a smoothing window, a rate
// limiter) per guest id, closed when that guest's guest.left arrives so a guest that leaves is
// let go. A guest that comes back (or a new guest that reuses the id) starts fresh.
//
// Each open group waits for its own guest.left through a Subject of its own, fed by ONE
// subscription to left$ that looks the guest up: a filter on left$ per group would make every
// host event pass through a filter per guest (at 1,000 guests, 2 million filter calls a tick,
// most of the supervisor's per-tick cost in bench:sim).
import { groupBy, mergeMap, Observable, Subject, takeUntil, type OperatorFunction } from 'rxjs';

/**
 * `left$` must be hot (or shared with the source): it is subscribed once per subscription to the
 * result. `project` gets the guest id and that guest's events; what it returns is merged into
 * the output.
 */
export function perGuest<T extends { id: string }, R>(
  left$: Observable<{ id: string }>,
  project: (id: string, events$: Observable<T>) => Observable<R>,
): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      const leaving = new Map<string, Subject<void>>();
      const leftOf = (id: string): Subject<void> => {
        let s = leaving.get(id);
        if (s === undefined) {
          s = new Subject<void>();
          leaving.set(id, s);
        }
        return s;
      };
      const leftSub = left$.subscribe((l) => {
        const s = leaving.get(l.id);
        if (s === undefined) return;
        leaving.delete(l.id);
        s.next();
        s.complete();
      });
      const sub = source
        .pipe(
          // duration: the group (and everything project keeps for it) ends when the guest leaves.
          groupBy((e) => e.id, { duration: (g) => leftOf(g.key) }),
          // takeUntil: nothing for a guest once it has left, not even what project still holds
          // back (a rate limiter's trailing value would otherwise arrive after guest.left).
          mergeMap((g) => project(g.key, g).pipe(takeUntil(leftOf(g.key)))),
        )
        .subscribe(subscriber);
      return () => {
        sub.unsubscribe();
        leftSub.unsubscribe();
      };
    });
}
