// Keeps `at` from going back in a merged input stream. Host events are stamped when the host
// sees them and ticks when they fire; a host whose read is asynchronous (a XenStore read after a
// watch fired) can deliver an event stamped before a tick that was emitted meanwhile. The
// supervisor, and the journal that replays it, need `at` never to decrease, so such an event
// enters at the time of the latest input before it: the moment it actually reached the supervisor.
import { defer, map, type MonoTypeOperatorFunction } from 'rxjs';

export function nonDecreasingAt<T extends { at: number }>(): MonoTypeOperatorFunction<T> {
  // defer: each subscription keeps its own `last`.
  return (source) =>
    defer(() => {
      let last = -Infinity;
      return source.pipe(
      map((e) => {
        if (e.at >= last) {
          last = e.at;
          return e;
        }
        return { ...e, at: last };
      }),
      );
    });
}
