// Per-guest grouping: one inner stream (and so one piece of state: a smoothing window, a rate
// limiter) per guest id, closed when that guest's guest.left arrives so a guest that leaves is
// let go. A guest that comes back (or a new guest that reuses the id) starts fresh.
import { filter, groupBy, mergeMap, takeUntil, type Observable, type OperatorFunction } from 'rxjs';

/**
 * `left$` must be hot (or shared with the source): it is subscribed once per group opened.
 * `project` gets the guest id and that guest's events; what it returns is merged into the output.
 */
export function perGuest<T extends { id: string }, R>(
  left$: Observable<{ id: string }>,
  project: (id: string, events$: Observable<T>) => Observable<R>,
): OperatorFunction<T, R> {
  const leftOf = (id: string) => left$.pipe(filter((l) => l.id === id));
  return (source) =>
    source.pipe(
      // duration: the group (and everything project keeps for it) ends when the guest leaves.
      groupBy((e) => e.id, { duration: (g) => leftOf(g.key) }),
      // takeUntil: nothing for a guest once it has left, not even what project still holds back
      // (a rate limiter's trailing value would otherwise arrive after guest.left).
      mergeMap((g) => project(g.key, g).pipe(takeUntil(leftOf(g.key)))),
    );
}
