// `memcoop reserve`: memory made free for a domain about to start (squeezed's reserve-memory,
// qmemman's request). Each reservation is held here, in the shell; their total reaches the
// supervisor as a reserve.set input (journaled), which serves it as Dom0's need: first, and
// reclaimed from the guests in the two-phase way, never below a guest's minimum. The request is
// answered once host free memory (beyond the configured reserve) covers every reservation, or at
// its timeout with how much could be freed and why not (and then released: a host must not stay
// squeezed for a domain that will not come). A reservation goes on --release, at its expiry, or
// when a new domain of its size appears (the domain it was for).
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log/logger.ts';
import type { SupervisorInput } from '../vocabulary/events.ts';
import { mib } from '../policy/explain.ts';
import type { Daemon } from '../daemon/daemon.ts';
import type { DaemonObserver } from './observer.ts';
import { ControlError } from './server.ts';

/**
 * A new domain "of that size": its allocation or maximum within 1 MiB of the reservation (the
 * balloon's own slack, DEFAULT_BALLOON_SLACK_KIB: Xen gives a domain its size + up to 1 MiB).
 */
export const SIZE_MATCH_SLACK_KIB = 1024;
/**
 * How long a reservation holds unless told (--for): 5 minutes, long enough for a toolstack to
 * build and boot a domain, short enough that a forgotten one does not squeeze the host for long.
 */
export const DEFAULT_RESERVE_FOR_S = 300;
/**
 * How long a request waits for the memory: 60 s. Balloons give memory back at ~100 MiB/s
 * (docs/measurements.md section 2), so even a few GiB come back well within it; past it, what
 * is missing is not coming (guests at their minimum).
 */
export const DEFAULT_RESERVE_TIMEOUT_S = 60;
/** The largest reservation accepted: 16 TiB, a bound against typos, not a host size. */
export const MAX_RESERVE_KIB = 16 * 1024 ** 3;

export interface Reservation {
  id: string;
  sizeKiB: number;
  /** Daemon-clock ms. */
  at: number;
  expiresAt: number;
}

export interface ReserveAnswer {
  id: string;
  sizeKiB: number;
  /** Host free memory when answered, and the configured reserve kept beside it. */
  freeKiB: number;
  reserveKiB: number;
  reservedKiB: number;
  expiresAt: number;
  /** The domain the reservation was for, when it started before the answer (the reservation is then gone). */
  startedDomid: number | null;
}

interface Waiter {
  id: string;
  resolve(a: ReserveAnswer): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class Reservations {
  private readonly held = new Map<string, Reservation>();
  private readonly waiters = new Set<Waiter>();
  private freeKiB: number | null = null;

  constructor(
    private readonly daemon: Daemon,
    observer: DaemonObserver,
    private readonly logger: Logger,
  ) {
    observer.listen({ input: (i) => this.seen(i) });
  }

  totalKiB(): number {
    let t = 0;
    for (const r of this.held.values()) t += r.sizeKiB;
    return t;
  }

  list(): Reservation[] {
    return [...this.held.values()];
  }

  private reserveKiB(): number {
    return this.daemon.actor.getSnapshot().context.config.params.reserveKiB;
  }

  /** Free beyond the configured reserve covers every reservation. */
  private covered(): boolean {
    return this.freeKiB !== null && this.freeKiB - this.reserveKiB() >= this.totalKiB();
  }

  private submitTotal(): void {
    this.daemon.submit({ type: 'reserve.set', at: this.daemon.now(), reservedKiB: this.totalKiB() });
  }

  /** Holds `sizeKiB` and resolves once it is free, or rejects at the timeout saying why not. */
  reserve(sizeKiB: number, forS: number, timeoutS: number): Promise<ReserveAnswer> {
    if (!Number.isSafeInteger(sizeKiB) || sizeKiB <= 0 || sizeKiB > MAX_RESERVE_KIB) throw new ControlError(`size must be 1 KiB to ${mib(MAX_RESERVE_KIB)}, got ${sizeKiB} KiB`);
    if (!(forS > 0) || !(timeoutS > 0) || forS > 86_400 || timeoutS > 3_600) throw new ControlError('--for must be in (0, 86400] s and --timeout in (0, 3600] s');
    const at = this.daemon.now();
    const id = `r-${randomBytes(4).toString('hex')}`;
    const r: Reservation = { id, sizeKiB, at, expiresAt: at + forS * 1000 };
    this.held.set(id, r);
    this.submitTotal();
    this.logger.info({ reservation: id, sizeKiB, forS }, `reserved ${mib(sizeKiB)} for a new domain`);
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        id,
        resolve,
        reject,
        timer: setTimeout(() => this.timedOut(w), timeoutS * 1000),
      };
      this.waiters.add(w);
      this.check();
    });
  }

  /** Releases `id`; a request still waiting on it is answered as served when `started` names the domain that came. */
  release(id: string, why: string, started: number | null = null): Reservation | null {
    const r = this.held.get(id);
    if (r === undefined) return null;
    this.held.delete(id);
    this.submitTotal();
    this.logger.info({ reservation: id, sizeKiB: r.sizeKiB, why }, `reservation released: ${why}`);
    for (const w of this.waiters) {
      if (w.id !== id) continue;
      clearTimeout(w.timer);
      this.waiters.delete(w);
      if (started !== null) {
        w.resolve({ ...this.answerOf(r), startedDomid: started });
      } else w.reject(new ControlError(`reservation ${id} released before the memory was free: ${why}`));
    }
    // The others may be covered now.
    this.check();
    return r;
  }

  close(): void {
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new ControlError('the daemon is stopping'));
    }
    this.waiters.clear();
  }

  private answerOf(r: Reservation): ReserveAnswer {
    return { id: r.id, sizeKiB: r.sizeKiB, freeKiB: this.freeKiB ?? 0, reserveKiB: this.reserveKiB(), reservedKiB: this.totalKiB(), expiresAt: r.expiresAt, startedDomid: null };
  }

  private answer(w: Waiter): ReserveAnswer {
    return this.answerOf(this.held.get(w.id)!);
  }

  private check(): void {
    if (!this.covered()) return;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      this.waiters.delete(w);
      w.resolve(this.answer(w));
    }
  }

  private timedOut(w: Waiter): void {
    this.waiters.delete(w);
    const r = this.held.get(w.id);
    if (r === undefined) return;
    const free = Math.max(0, (this.freeKiB ?? 0) - this.reserveKiB());
    const others = this.totalKiB() - r.sizeKiB;
    const could = Math.max(0, Math.min(r.sizeKiB, free - others));
    const d = this.daemon.actor.getSnapshot().context;
    const why = d.last.overcommitted
      ? 'every guest is at its minimum and Dom0 at its need: nothing more can be taken back'
      : d.last.reclaimKiB > 0
        ? `the guests' balloons are still giving memory back (${mib(d.last.reclaimKiB)} being reclaimed)`
        : 'the guests did not give it back in time';
    this.held.delete(r.id);
    this.submitTotal();
    this.logger.warn({ reservation: r.id, sizeKiB: r.sizeKiB, freeKiB: could }, 'reservation timed out; released');
    w.reject(new ControlError(`could free ${mib(could)} of ${mib(r.sizeKiB)} (${why}); the reservation is released`));
  }

  private seen(i: SupervisorInput): void {
    if (i.type === 'host.sample') {
      this.freeKiB = i.freeKiB;
      this.check();
    } else if (i.type === 'guest.appeared') {
      // The domain the reservation was for has come: its memory is in use now.
      for (const r of this.held.values()) {
        if (Math.abs(i.currentKiB - r.sizeKiB) <= SIZE_MATCH_SLACK_KIB || Math.abs(i.maxKiB - r.sizeKiB) <= SIZE_MATCH_SLACK_KIB) {
          this.release(r.id, `domain ${i.domid} of ${mib(r.sizeKiB)} appeared`, i.domid);
          break;
        }
      }
    } else if (i.type === 'tick') {
      for (const r of [...this.held.values()]) if (r.expiresAt <= i.at) this.release(r.id, 'expired');
    }
  }
}
