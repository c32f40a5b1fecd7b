// Per-guest child loggers, bound to the domid only (never to text a guest could supply), made
// once per domid: the guest machines and the supervisor (which logs the per-tick facts it keeps
// for the guests: targets written, failed effects) share one cache per parent logger.
import { guestLogger, type Logger } from '../log/logger.ts';

export interface GuestLoggers {
  (domid: number): Logger;
  /** Drops the child of a guest that left. */
  forget(domid: number): void;
}

const byParent = new WeakMap<Logger, GuestLoggers>();

export function guestLoggers(parent: Logger): GuestLoggers {
  const known = byParent.get(parent);
  if (known !== undefined) return known;
  const children = new Map<number, Logger>();
  const get = ((domid: number): Logger => {
    let l = children.get(domid);
    if (l === undefined) {
      l = guestLogger(parent, domid);
      children.set(domid, l);
    }
    return l;
  }) as GuestLoggers;
  get.forget = (domid) => void children.delete(domid);
  byParent.set(parent, get);
  return get;
}
