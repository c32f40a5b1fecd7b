// XenStore as RxJS: a watch is an observable (subscribe registers it under a token no one else
// uses, unsubscribe removes it), reads triggered by watches are coalesced (a burst of writes
// costs at most one read in flight and one after it), and on top of those the two things the Xen
// host listens to: the /local/domain listing (re-read on @introduceDomain/@releaseDomain and on
// every probe, since a hypervisor-less xenstored fires no domain events) and the rules for each
// guest's agent keys (agent-keys.ts reads them). Values are delivered raw; the host parses them
// (src/hosts/xen/agent-protocol.ts).
import { Observable, merge, type OperatorFunction, type SchedulerLike } from 'rxjs';
import type { XenStore, XsWatch } from './xenstore.ts';
import {
  INTRODUCE_DOMAIN,
  LOCAL_DOMAIN,
  RELEASE_DOMAIN,
  agentDataPath,
  helloPath,
  meminfoPath,
  parseDomid,
} from './layout.ts';

/** What watch$ needs of a connection. */
export type WatchSource = Pick<XenStore, 'watch'>;

let tokenSeq = 0;

/** A token unique in this process (and so on every connection it opens). */
export function uniqueToken(label: string): string {
  tokenSeq += 1;
  return `memcoop:${tokenSeq}:${label}`;
}

/**
 * The paths a watch fires with. xenstored fires once as soon as the watch is registered (with
 * the watched path), then on every change at or below it. A failed registration errors the
 * observable; unsubscribing unwatches, and an unwatch that fails (the connection is gone) is
 * ignored: there is nothing left to remove.
 */
export function watch$(store: WatchSource, path: string, label: string = path): Observable<string> {
  return new Observable<string>((sub) => {
    const token = uniqueToken(label);
    let handle: XsWatch | null = null;
    let closed = false;
    store.watch(path, token, (p) => sub.next(p)).then(
      (h) => {
        if (closed) void h.unwatch().catch(() => {});
        else handle = h;
      },
      (err: unknown) => sub.error(err),
    );
    return () => {
      closed = true;
      if (handle) void handle.unwatch().catch(() => {});
    };
  });
}

/** One read's outcome: a failed read is a value, so one error does not end the stream. */
export type ReadResult<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * Runs `read` for each trigger, never two at once: a trigger while a read is in flight asks for
 * one more read after it (later triggers fold into that one). Each read's outcome is emitted.
 */
export function readOnEach<T>(read: () => Promise<T>): OperatorFunction<unknown, ReadResult<T>> {
  return (trigger$) =>
    new Observable<ReadResult<T>>((sub) => {
      let running = false;
      let again = false;
      let done = false;
      const run = (): void => {
        running = true;
        again = false;
        read().then(
          (value) => finish({ ok: true, value }),
          (error: unknown) => finish({ ok: false, error }),
        );
      };
      const finish = (r: ReadResult<T>): void => {
        running = false;
        if (done) return;
        sub.next(r);
        if (again) run();
      };
      const inner = trigger$.subscribe({
        next: () => {
          if (running) again = true;
          else run();
        },
        error: (e: unknown) => sub.error(e),
        complete: () => {
          done = true;
          sub.complete();
        },
      });
      return () => {
        done = true;
        inner.unsubscribe();
      };
    });
}

/** The domids in a /local/domain listing, sorted; entries that are not domids are ignored. */
export function domidsOfListing(entries: readonly string[]): number[] {
  const out: number[] = [];
  for (const e of entries) {
    const d = parseDomid(e);
    if (d !== null) out.push(d);
  }
  return out.sort((a, b) => a - b);
}

/** What changed between two listings (pure). */
export function diffDomains(known: ReadonlySet<number>, listed: readonly number[]): { added: number[]; removed: number[] } {
  const now = new Set(listed);
  return {
    added: listed.filter((d) => !known.has(d)),
    removed: [...known].filter((d) => !now.has(d)).sort((a, b) => a - b),
  };
}

/** Reads /local/domain; a missing /local/domain (a fresh, empty xenstored) is an empty listing. */
export async function readDomainListing(store: Pick<XenStore, 'directory'>): Promise<number[]> {
  try {
    return domidsOfListing(await store.directory(LOCAL_DOMAIN));
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOENT') return [];
    throw e;
  }
}

/**
 * The domain listing, re-read whenever @introduceDomain or @releaseDomain fires (each fires once
 * on registration, so the first listing comes at once) and on every emission of probe$ (the
 * host's tick-rate probe: the request that also tells whether xenstored is still there).
 */
export function domainListing$(store: XenStore, probe$: Observable<unknown>): Observable<ReadResult<number[]>> {
  return merge(
    watch$(store, INTRODUCE_DOMAIN, 'introduce'),
    watch$(store, RELEASE_DOMAIN, 'release'),
    probe$,
  ).pipe(readOnEach(() => readDomainListing(store)));
}

export type AgentKey = 'hello' | 'meminfo';

/** One read of an agent key: the value (null: the key does not exist), or why the read failed. */
export interface AgentKeyRead {
  domid: number;
  key: AgentKey;
  result: ReadResult<string | null>;
}

/** Which agent keys a watch event on data/memcoop asks to re-read. */
export function agentKeysOfEvent(domid: number, path: string): AgentKey[] {
  if (path === agentDataPath(domid)) return ['hello', 'meminfo']; // the first firing, or the dir itself
  if (path === helloPath(domid)) return ['hello'];
  if (path === meminfoPath(domid)) return ['meminfo'];
  return []; // anything else an agent writes there is not memcoop's protocol
}

/**
 * At most one hello read per guest per second: an agent says hello when it starts, and each
 * hello costs Dom0 a mode transaction, so an agent rewriting it in a loop must not cost more.
 */
export const HELLO_READ_MIN_INTERVAL_MS = 1000;

export interface AgentKeysOptions {
  /** The clock of the read limits (default asyncScheduler). */
  scheduler?: SchedulerLike;
  helloMinIntervalMs?: number;
  /**
   * Reports: a read limit the host may add (default 0: none). The report rate limit itself is
   * the input stream's (src/streams/inputs.ts, every host alike); here meminfo reads are only
   * coalesced: at most one in flight and one after it, whatever a guest writes.
   */
  meminfoMinIntervalMs?: number;
}
