// src/hosts/xen/ingress.ts against a real xenstored: a watch is an observable (subscribe watches,
// unsubscribe unwatches, each subscription under its own token), the domain listing follows
// probes and domain watches, and a guest's agent keys (agent-keys.ts) are read when they change.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Subject, type Subscription } from 'rxjs';
import { helloPath, meminfoPath } from '../../src/hosts/xen/layout.ts';
import { openXenStore, type XenStore } from '../../src/hosts/xen/xenstore.ts';
import { domainListing$, watch$, type AgentKeyRead, type AgentKeysOptions, type ReadResult } from '../../src/hosts/xen/ingress.ts';
import { AgentKeyReader } from '../../src/hosts/xen/agent-keys.ts';
import { startXenstored, type XenstoredFixture } from '../../testbed/xenstored-fixture.ts';
import { skipReason, until } from './xen-harness.ts';

for (const kind of ['oxenstored', 'cxenstored'] as const) {
  describe(`XenStore streams against ${kind}`, { skip: skipReason(kind) }, () => {
    let fx: XenstoredFixture;
    let xs: XenStore;
    let other: XenStore;
    const subs: Subscription[] = [];
    /** A guest's agent keys read as the host reads them; the reader closes with the suite. */
    const readKeys = (domid: number, opts: AgentKeysOptions, onRead: (r: AgentKeyRead) => void): void => {
      const reader = new AgentKeyReader(xs, domid, opts, onRead, (err) => {
        throw err;
      });
      subs.push({ unsubscribe: () => reader.close() } as Subscription);
    };

    before(async () => {
      fx = await startXenstored(kind);
      xs = await openXenStore({ socketPath: fx.socketPath, socketOnly: true });
      other = await openXenStore({ socketPath: fx.socketPath, socketOnly: true });
    });
    after(async () => {
      for (const s of subs) s.unsubscribe();
      await xs?.close();
      await other?.close();
      await fx?.stop();
    });

    test('subscribe watches, unsubscribe unwatches; two subscriptions to one path each get their own token', async () => {
      const base = '/memcoop-test/streams';
      await other.mkdir(base);
      const a: string[] = [];
      const b: string[] = [];
      const errors: unknown[] = [];
      const sa = watch$(xs, base).subscribe({ next: (p) => a.push(p), error: (e: unknown) => errors.push(e) });
      const sb = watch$(xs, base).subscribe({ next: (p) => b.push(p), error: (e: unknown) => errors.push(e) });
      subs.push(sb);
      await until(() => a.includes(base) && b.includes(base), 'the first firing of both');
      await other.write(`${base}/x`, '1');
      await until(() => a.includes(`${base}/x`) && b.includes(`${base}/x`), 'both see the write');
      sa.unsubscribe();
      const seenByA = a.length;
      await other.write(`${base}/y`, '2');
      await until(() => b.includes(`${base}/y`), 'the other subscription still sees writes');
      assert.equal(a.length, seenByA, 'nothing after unsubscribe');
      assert.deepEqual(errors, [], 'no token clash');
    });

    test('the domain listing follows probes (the fixture fires no domain events after the first)', async () => {
      const probe$ = new Subject<void>();
      const seen: ReadResult<number[]>[] = [];
      subs.push(domainListing$(xs, probe$).subscribe((r) => seen.push(r)));
      await until(() => seen.length >= 1, 'the listing at once (the domain watches fire on registration)');
      await other.write('/local/domain/7/name', 'seven');
      await other.write('/local/domain/3/name', 'three');
      await other.write('/local/domain/not-a-domid/name', 'x');
      probe$.next();
      await until(() => seen.some((r) => r.ok && r.value.includes(7)), 'the probe to see the new domains');
      assert.deepEqual(seen.at(-1), { ok: true, value: [3, 7] });
      await other.rm('/local/domain/7');
      probe$.next();
      await until(() => { const l = seen.at(-1); return l !== undefined && l.ok && !l.value.includes(7); }, 'the probe to see 7 gone');
      assert.deepEqual(seen.at(-1), { ok: true, value: [3] });
      await other.rm('/local/domain');
    });

    test('a guest\'s agent keys are read when they change, each key on its own', async () => {
      const reads: AgentKeyRead[] = [];
      await other.write(helloPath(9), 'protocol=1 selfAdjust=0');
      readKeys(9, {}, (r) => reads.push(r));
      // The first firing reads both: the hello that is there, and no report yet.
      await until(() => reads.length >= 2, 'the first reads');
      const first = reads.slice(0, 2).map((r) => [r.key, r.result.ok ? r.result.value : 'error']).sort();
      assert.deepEqual(first, [
        ['hello', 'protocol=1 selfAdjust=0'],
        ['meminfo', null],
      ]);
      await other.write(meminfoPath(9), 'MemTotal: 1 kB\n');
      await until(() => reads.some((r) => r.key === 'meminfo' && r.result.ok && r.result.value === 'MemTotal: 1 kB\n'), 'the report read');
      await other.write('/local/domain/9/data/memcoop/unrelated', 'x');
      await other.write(meminfoPath(9), 'MemTotal: 2 kB\n');
      await until(() => reads.some((r) => r.key === 'meminfo' && r.result.ok && r.result.value === 'MemTotal: 2 kB\n'), 'the next report read');
      assert.equal(reads.filter((r) => r.key === 'hello').length, 1, 'the hello was not re-read for other keys\' changes');
      assert.ok(reads.every((r) => r.domid === 9));
    });

    test('a guest rewriting a key in a loop costs a bounded number of reads, the latest value among them', async () => {
      const reads: AgentKeyRead[] = [];
      // A long interval, so that the whole burst falls inside one.
      readKeys(11, { helloMinIntervalMs: 2000, meminfoMinIntervalMs: 2000 }, (r) => reads.push(r));
      await until(() => reads.length >= 2, 'the first reads');
      for (let i = 0; i < 50; i++) await other.write(helloPath(11), `protocol=1 selfAdjust=${i % 2}${i === 49 ? '\n' : ''}`);
      await until(() => reads.some((r) => r.key === 'hello' && r.result.ok && r.result.value?.endsWith('\n')), 'the last hello read');
      const hellos = reads.filter((r) => r.key === 'hello');
      // The first firing, the burst's first write (at once) and its last (at the interval's end).
      assert.ok(hellos.length <= 3, `50 writes, ${hellos.length} reads`);
    });
  });
}
