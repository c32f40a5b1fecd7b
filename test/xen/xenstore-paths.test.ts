// The two ways requests reach xenstored (xenstore.ts): pipelined on its unix socket (xs-pipe.ts,
// the default wherever a socket is), and through libxenstore in batched pool jobs (the xenbus
// device's way, taken here with MEMCOOP_XENSTORE_PIPE=off). Both against both real daemons:
// the same answers, transactions that commit or abort whole, and a listing longer than one
// XenStore message (1,500 children: through libxenstore oxenstored's answer broke the
// connection, so the pipe reads it in parts or whole, as the daemon sends it).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadXenAddon } from '../../src/hosts/xen/addon.ts';
import { isXenStoreError, openXenStore, XS_PIPE_ENV, type XenStore } from '../../src/hosts/xen/xenstore.ts';
import { startXenstored, xenstoredUnavailable, type XenstoredFixture, type XenstoredKind } from '../../testbed/xenstored-fixture.ts';

const addon = loadXenAddon();
/** More children than fit in one 4,096-byte XenStore answer. */
const MANY = 1500;

async function open(socketPath: string, pipe: boolean): Promise<XenStore> {
  const was = process.env[XS_PIPE_ENV];
  if (!pipe) process.env[XS_PIPE_ENV] = 'off';
  try {
    return await openXenStore({ socketPath, socketOnly: true });
  } finally {
    if (was === undefined) delete process.env[XS_PIPE_ENV];
    else process.env[XS_PIPE_ENV] = was;
  }
}

for (const kind of ['oxenstored', 'cxenstored'] as XenstoredKind[]) {
  const why = !addon.ok ? addon.reason : xenstoredUnavailable(kind);
  describe(`XenStore requests, pipelined and through libxenstore, on ${kind}`, { skip: why ?? false }, () => {
    let fx: XenstoredFixture;
    let pipe: XenStore;
    let lib: XenStore;
    before(async () => {
      fx = await startXenstored(kind);
      pipe = await open(fx.socketPath, true);
      lib = await open(fx.socketPath, false);
    });
    after(async () => {
      await pipe?.close();
      await lib?.close();
      await fx?.stop();
    });

    for (const [name, a, b] of [['pipe writes, libxenstore reads', () => pipe, () => lib], ['libxenstore writes, pipe reads', () => lib, () => pipe]] as const) {
      test(`${name}: values, listings, permissions, a missing key`, async () => {
        const w = a();
        const r = b();
        const base = `/t/${name.split(' ')[0]}`;
        await Promise.all([w.write(`${base}/x`, 'one'), w.write(`${base}/y`, Buffer.from([0, 1, 2])), w.mkdir(`${base}/d`)]);
        await w.setPermissions(`${base}/x`, [{ domid: 0, access: 'none' }, { domid: 7, access: 'read' }]);
        assert.equal(await r.read(`${base}/x`), 'one');
        assert.deepEqual(Buffer.from((await r.read(`${base}/y`))!, 'utf8'), Buffer.from([0, 1, 2]));
        assert.deepEqual((await r.directory(base)).sort(), ['d', 'x', 'y']);
        assert.deepEqual(await r.getPermissions(`${base}/x`), [{ domid: 0, access: 'none' }, { domid: 7, access: 'read' }]);
        assert.equal(await r.read(`${base}/absent`), null);
        await assert.rejects(r.directory(`${base}/absent`), (e: unknown) => isXenStoreError(e, 'ENOENT') && e.op === 'directory');
        await w.rm(base);
        assert.equal(await r.read(`${base}/x`), null);
      });
    }

    for (const [name, get] of [['pipe', () => pipe], ['libxenstore', () => lib]] as const) {
      test(`${name}: many transactions at once each commit whole; one that fails commits nothing`, async () => {
        const xs = get();
        // Each transaction under a parent of its own: creating nodes under a common parent would
        // make them conflict on its child list (the C xenstored counts that), as it should.
        await Promise.all(Array.from({ length: 50 }, (_, i) => xs.mkdir(`/tx-${name}/${i}`)));
        await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            xs.transaction(async (tx) => {
              const [before] = await Promise.all([tx.read(`/tx-${name}/${i}/a`), tx.read(`/tx-${name}/${i}/b`)]);
              assert.equal(before, null);
              await Promise.all([tx.write(`/tx-${name}/${i}/a`, String(i)), tx.write(`/tx-${name}/${i}/b`, String(i))]);
            }),
          ),
        );
        for (let i = 0; i < 50; i++) assert.equal(await (i % 2 ? pipe : lib).read(`/tx-${name}/${i}/b`), String(i));
        await assert.rejects(
          xs.transaction(async (tx) => {
            await tx.write(`/tx-${name}/failed/a`, 'written before the failure');
            await tx.write(`/tx-${name}/failed/not a valid name`, 'refused by xenstored');
          }),
          (e: unknown) => isXenStoreError(e, 'EINVAL'),
        );
        assert.equal(await xs.read(`/tx-${name}/failed/a`), null, 'nothing of the failed transaction is there');
      });
    }

    test(`a listing of ${MANY} children, longer than one XenStore answer, through the pipe`, async () => {
      await Promise.all(Array.from({ length: MANY }, (_, i) => pipe.write(`/many/${i + 1}`, 'v')));
      const names = await pipe.directory('/many');
      assert.equal(names.length, MANY);
      assert.deepEqual(new Set(names), new Set(Array.from({ length: MANY }, (_, i) => String(i + 1))));
    });
  });
}
