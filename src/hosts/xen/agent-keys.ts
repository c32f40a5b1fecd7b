// One guest's agent keys (data/memcoop/hello and meminfo), read each time the watch on its
// data/memcoop directory fires for them, as plain callbacks. This replaced an RxJS chain per guest
// (watch$ -> mergeMap -> connect -> merge of two filter/throttleTime/readOnEach/map chains,
// subscribed through a switchMap on the connection): at 1,000 guests that was ~14 subscribers,
// their closures and finalizer arrays per guest kept alive, and every report went through about
// ten of them on its way in. The rules are the same (ingress.ts): one watch per guest, each key's
// reads coalesced (at most one in flight and one after it), hello reads limited to one per
// HELLO_READ_MIN_INTERVAL_MS (the first change read at once, the latest one when the interval is
// up), and a failed read delivered as a value.
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { RateGate } from '../../streams/rate.ts';
import type { XenStore, XsWatch } from './xenstore.ts';
import { agentDataPath, helloPath, meminfoPath } from './layout.ts';
import { agentKeysOfEvent, HELLO_READ_MIN_INTERVAL_MS, uniqueToken, type AgentKey, type AgentKeyRead, type AgentKeysOptions } from './ingress.ts';

/** One key's reads: coalesced, and rate-limited when `minIntervalMs` > 0. */
class KeyReads {
  private running = false;
  private again = false;
  private readonly gate: RateGate<true> | null;

  constructor(
    private readonly owner: AgentKeyReader,
    private readonly key: AgentKey,
    minIntervalMs: number,
    scheduler: SchedulerLike,
  ) {
    this.gate = minIntervalMs > 0 ? new RateGate<true>(minIntervalMs, scheduler, () => this.read()) : null;
  }

  changed(): void {
    if (this.gate === null) this.read();
    else this.gate.offer(true);
  }

  cancel(): void {
    this.gate?.cancel();
  }

  private read(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.again = false;
    this.owner.store.read(this.key === 'hello' ? helloPath(this.owner.domid) : meminfoPath(this.owner.domid)).then(
      (value) => this.finish({ domid: this.owner.domid, key: this.key, result: { ok: true, value } }),
      (error: unknown) => this.finish({ domid: this.owner.domid, key: this.key, result: { ok: false, error } }),
    );
  }

  private finish(r: AgentKeyRead): void {
    this.running = false;
    if (this.owner.closed) return;
    this.owner.deliver(r);
    if (this.again) this.read();
  }
}

/**
 * A guest's agent keys on one connection: `onRead` gets each read's outcome, `onError` a failed
 * watch registration. close() stops both and removes the watch.
 */
export class AgentKeyReader {
  closed = false;
  private handle: XsWatch | null = null;
  private readonly hello: KeyReads;
  private readonly meminfo: KeyReads;

  constructor(
    readonly store: XenStore,
    readonly domid: number,
    opts: AgentKeysOptions,
    private readonly onRead: (read: AgentKeyRead) => void,
    onError: (err: unknown) => void,
  ) {
    const scheduler = opts.scheduler ?? asyncScheduler;
    this.hello = new KeyReads(this, 'hello', opts.helloMinIntervalMs ?? HELLO_READ_MIN_INTERVAL_MS, scheduler);
    this.meminfo = new KeyReads(this, 'meminfo', opts.meminfoMinIntervalMs ?? 0, scheduler);
    store.watch(agentDataPath(domid), uniqueToken(`agent:${domid}`), (path) => this.fired(path)).then(
      (h) => {
        if (this.closed) void h.unwatch().catch(() => {});
        else this.handle = h;
      },
      (err: unknown) => {
        if (!this.closed) onError(err);
      },
    );
  }

  /** Called by a key's reads (not after close). */
  deliver(read: AgentKeyRead): void {
    this.onRead(read);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.hello.cancel();
    this.meminfo.cancel();
    // An unwatch that fails (the connection is gone) leaves nothing to remove.
    if (this.handle) void this.handle.unwatch().catch(() => {});
  }

  private fired(path: string): void {
    if (this.closed) return;
    for (const key of agentKeysOfEvent(this.domid, path)) (key === 'hello' ? this.hello : this.meminfo).changed();
  }
}
