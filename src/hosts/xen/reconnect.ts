// One XenStore connection that comes back: when a request fails because xenstored went away
// (isConnectionLost), the old connection is closed and a new one opened with a capped
// exponential backoff, each failure logged. Whoever watches store$ re-arms on the new connection
// (the streams switchMap onto it); requests made meanwhile fail at once with NotConnectedError,
// so the supervisor sees a failed effect and issues it again on a later tick.
import { BehaviorSubject, type Observable } from 'rxjs';
import type { Logger } from '../../log/logger.ts';
import { isConnectionLost, type XenStore } from './xenstore.ts';

/**
 * First retry 50 ms after the loss: a restarting xenstored answers 40-100 ms after it is
 * spawned (docs/measurements.md section 1), so the first or second try usually lands.
 */
export const RECONNECT_FIRST_DELAY_MS = 50;
/** Doubling stops here: a daemon that is down for long is retried every 2 s, not ever more rarely. */
export const RECONNECT_MAX_DELAY_MS = 2000;

export interface ReconnectOptions {
  firstDelayMs?: number;
  maxDelayMs?: number;
}

/** A request while the connection is being re-established. */
export class NotConnectedError extends Error {
  readonly code = 'ENOTCONN';
  constructor() {
    super('XenStore connection lost; reconnecting');
    this.name = 'NotConnectedError';
  }
}

export class ReconnectingStore {
  private readonly subject: BehaviorSubject<XenStore | null>;
  private reconnecting = false;
  private closed = false;
  /** Connections opened so far (1 after the first open). */
  generation = 0;
  private wake: (() => void) | null = null;

  private constructor(
    private readonly open: () => Promise<XenStore>,
    first: XenStore,
    private readonly log: Logger,
    private readonly opts: Required<ReconnectOptions>,
  ) {
    this.subject = new BehaviorSubject<XenStore | null>(first);
    this.generation = 1;
  }

  /**
   * Opens the first connection (its errors propagate: a daemon that cannot reach xenstored at
   * start does not start). `open` gets a callback to call when a watch reports the connection dead.
   */
  static async connect(
    open: (onLost: (store: XenStore) => void) => Promise<XenStore>,
    log: Logger,
    opts: ReconnectOptions = {},
  ): Promise<ReconnectingStore> {
    let self: ReconnectingStore | null = null;
    const onLost = (s: XenStore) => self?.lost(s, null, true);
    const first = await open(onLost);
    self = new ReconnectingStore(
      () => open(onLost),
      first,
      log,
      { firstDelayMs: opts.firstDelayMs ?? RECONNECT_FIRST_DELAY_MS, maxDelayMs: opts.maxDelayMs ?? RECONNECT_MAX_DELAY_MS },
    );
    return self;
  }

  /** The live connection, or null while reconnecting. Streams switchMap on it. */
  get store$(): Observable<XenStore | null> {
    return this.subject.asObservable();
  }

  get current(): XenStore | null {
    return this.subject.value;
  }

  /**
   * Runs fn on the live connection. If it fails because the connection was lost, a reconnect
   * starts and the error is rethrown; so is every other error.
   */
  async use<T>(fn: (store: XenStore) => Promise<T>): Promise<T> {
    const store = this.subject.value;
    if (store === null) throw new NotConnectedError();
    try {
      return await fn(store);
    } catch (e) {
      this.lost(store, e);
      throw e;
    }
  }

  /**
   * Call with the error a request on `store` failed with: starts a reconnect if it says the
   * connection is gone (or, `certain`, when a watch reported the connection dead).
   */
  lost(store: XenStore, e: unknown, certain = false): void {
    if (this.closed || store !== this.subject.value || this.reconnecting) return;
    if (!certain && !isConnectionLost(store, e)) return;
    void this.reconnect(store, e);
  }

  private async reconnect(old: XenStore, cause: unknown): Promise<void> {
    this.reconnecting = true;
    const since = Date.now(); // the shell's clock: only for the log line
    const code = (cause as { code?: unknown } | null)?.code;
    this.log.warn({ code: typeof code === 'string' ? code : undefined, generation: this.generation }, 'XenStore connection lost; reconnecting');
    this.subject.next(null);
    await old.close().catch(() => {});
    let delay = this.opts.firstDelayMs;
    for (let attempt = 1; !this.closed; attempt++) {
      await this.sleep(delay);
      if (this.closed) break;
      try {
        const store = await this.open();
        if (this.closed) {
          await store.close().catch(() => {});
          break;
        }
        this.generation += 1;
        this.reconnecting = false;
        this.log.info({ attempts: attempt, downMs: Date.now() - since, generation: this.generation }, 'XenStore reconnected');
        this.subject.next(store);
        return;
      } catch (e) {
        const c = (e as { code?: unknown }).code;
        const level = attempt === 1 || delay >= this.opts.maxDelayMs ? 'warn' : 'debug';
        this.log[level]({ attempt, code: typeof c === 'string' ? c : undefined, retryInMs: Math.min(delay * 2, this.opts.maxDelayMs) }, 'XenStore reconnect failed');
        delay = Math.min(delay * 2, this.opts.maxDelayMs);
      }
    }
    this.reconnecting = false;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    const store = this.subject.value;
    this.subject.next(null);
    this.subject.complete();
    await store?.close().catch(() => {});
  }
}
