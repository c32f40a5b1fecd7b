// The native XenStore binding against real xenstored daemons (oxenstored and the C xenstored of
// xen-utils-4.17, run with no hypervisor by testbed/xenstored-fixture.ts). Skipped, with the
// reason printed, where the addon is not built or the Xen packages are missing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadXenAddon, XEN_ADDON_ENV, XEN_ADDON_MISSING } from '../../src/hosts/xen/addon.ts';
import { isConnectionLost, isXenStoreError, openXenStore, XenStoreError, type XenStore } from '../../src/hosts/xen/xenstore.ts';
import { isXenCtrlUnavailable, openXenCtrl } from '../../src/hosts/xen/xenctrl.ts';
import { startXenstored, xenstoredUnavailable, type XenstoredFixture, type XenstoredKind } from '../../testbed/xenstored-fixture.ts';

const CHILD = fileURLToPath(new URL('../../testbed/xs-watch-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** oxenstored's quota-maxsize in Debian's oxenstored.conf: larger values get E2BIG. */
const OXENSTORED_MAX_VALUE_BYTES = 2048;
/** XENSTORE_PAYLOAD_MAX (xen/io/xs_wire.h): libxenstore refuses larger requests itself. */
const XENSTORE_PAYLOAD_MAX = 4096;

const addon = loadXenAddon();

function skipReason(kind: XenstoredKind): string | false {
  if (!addon.ok) return `Xen tier skipped: ${addon.reason}`;
  const why = xenstoredUnavailable(kind);
  return why ? `Xen tier skipped for ${kind}: ${why}` : false;
}

/** Collects watch events; `next` resolves with the first event matching a predicate. */
function eventLog() {
  const seen: string[] = [];
  const waiters: Array<{ pred: (p: string) => boolean; resolve: (p: string) => void }> = [];
  return {
    seen,
    cb: (path: string) => {
      seen.push(path);
      for (const w of [...waiters]) if (w.pred(path)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(path);
      }
    },
    next(pred: (p: string) => boolean): Promise<string> {
      const hit = seen.find(pred);
      if (hit !== undefined) return Promise.resolve(hit);
      return new Promise((resolve) => waiters.push({ pred, resolve }));
    },
  };
}

function runChild(args: string[], onLine?: (line: string) => void): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => {
      const text = d.toString();
      out += text;
      for (const l of text.split('\n')) if (l) onLine?.(l);
    });
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolve({ code, out }) : reject(new Error(`child exited ${code}: ${err}`))));
  });
}

for (const kind of ['oxenstored', 'cxenstored'] as const) {
  describe(`XenStore addon against ${kind}`, { skip: skipReason(kind) }, () => {
    let fx: XenstoredFixture;
    let xs: XenStore;
    let other: XenStore;

    before(async () => {
      fx = await startXenstored(kind);
      xs = await openXenStore({ socketPath: fx.socketPath, socketOnly: true });
      other = await openXenStore({ socketPath: fx.socketPath });
    });
    after(async () => {
      await xs?.close();
      await other?.close();
      await fx?.stop();
    });

    test('write, read, directory, mkdir and rm', async () => {
      const base = '/memcoop-test/basic';
      await xs.write(`${base}/a`, 'alpha');
      await xs.write(`${base}/b`, new Uint8Array([0x62, 0x65, 0x74, 0x61]));
      assert.equal(await xs.read(`${base}/a`), 'alpha');
      assert.equal(await other.read(`${base}/b`), 'beta', 'a second connection sees the write');
      assert.deepEqual((await xs.directory(base)).sort(), ['a', 'b']);
      await xs.mkdir(`${base}/dir`);
      assert.equal(await xs.read(`${base}/dir`), '', 'mkdir makes an empty node');
      assert.equal(await xs.read(`${base}/missing`), null, 'a missing node reads as null');
      await xs.rm(base);
      assert.equal(await xs.read(`${base}/a`), null);
      assert.equal(await xs.read(base), null);
    });

    test('many concurrent requests on one connection each get their own answer', async () => {
      const base = '/memcoop-test/concurrent';
      const n = 64;
      await Promise.all(Array.from({ length: n }, (_, i) => xs.write(`${base}/k${i}`, `v${i * 7}`)));
      const values = await Promise.all(Array.from({ length: n }, (_, i) => xs.read(`${base}/k${i}`)));
      assert.deepEqual(values, Array.from({ length: n }, (_, i) => `v${i * 7}`));
      await xs.rm(base);
    });

    test('permissions are stored and read back', async () => {
      const key = '/memcoop-test/perms/mode';
      await xs.write(key, 'self');
      // Owner dom0 with no access for others, read for guest 5: what memcoop gives a guest's mode key.
      await xs.setPermissions(key, [
        { domid: 0, access: 'none' },
        { domid: 5, access: 'read' },
      ]);
      assert.deepEqual(await other.getPermissions(key), [
        { domid: 0, access: 'none' },
        { domid: 5, access: 'read' },
      ]);
      await xs.setPermissions(key, [
        { domid: 7, access: 'read' },
        { domid: 0, access: 'both' },
        { domid: 9, access: 'write' },
      ]);
      assert.deepEqual(await xs.getPermissions(key), [
        { domid: 7, access: 'read' },
        { domid: 0, access: 'both' },
        { domid: 9, access: 'write' },
      ]);
    });

    test('a transaction conflict is EAGAIN, and transaction() retries it to success', async () => {
      const key = '/memcoop-test/tx/counter';
      await xs.write(key, '0');
      // Without retries the conflict comes out as it is.
      const raw = await xs
        .transaction(
          async (tx) => {
            const v = Number(await tx.read(key));
            await other.write(key, '100'); // another writer changes what this transaction read
            await tx.write(key, String(v + 1));
          },
          { maxRetries: 0 },
        )
        .then(
          () => null,
          (e: unknown) => e,
        );
      assert.ok(isXenStoreError(raw, 'EAGAIN'), `expected EAGAIN, got ${String(raw)}`);
      assert.equal((raw as XenStoreError).op, 'transaction_end');
      assert.equal(await xs.read(key), '100', 'the conflicting transaction did not commit');

      // With retries: the first attempt conflicts, the second reads the other writer's value.
      let attempts = 0;
      const result = await xs.transaction(async (tx, attempt) => {
        attempts++;
        const v = Number(await tx.read(key));
        if (attempt === 0) await other.write(key, '10');
        await tx.write(key, String(v + 1));
        return v + 1;
      });
      assert.equal(attempts, 2);
      assert.equal(result, 11);
      assert.equal(await xs.read(key), '11');
    });

    test('an error thrown inside a transaction aborts it and is rethrown', async () => {
      const key = '/memcoop-test/tx/aborted';
      await xs.write(key, 'before');
      await assert.rejects(
        xs.transaction(async (tx) => {
          await tx.write(key, 'inside');
          throw new Error('changed my mind');
        }),
        /changed my mind/,
      );
      assert.equal(await xs.read(key), 'before');
    });

    test('watches fire on the JS thread in order, and unwatch stops them', async () => {
      const base = '/memcoop-test/watch';
      await xs.mkdir(base);
      const w1 = eventLog();
      const sentinel = eventLog();
      const h1 = await xs.watch(base, 'w1', w1.cb);
      const hs = await xs.watch(base, 'sentinel', sentinel.cb);
      assert.equal(await w1.next((p) => p === base), base, 'xenstored fires a new watch once at once');
      await other.write(`${base}/x`, '1');
      await other.write(`${base}/y`, '2');
      await w1.next((p) => p === `${base}/y`);
      const changes = w1.seen.filter((p) => p !== base);
      assert.deepEqual(changes, [`${base}/x`, `${base}/y`]);

      await h1.unwatch();
      const before = w1.seen.length;
      await other.write(`${base}/z`, '3');
      // The sentinel watch covers the same path, so once it has seen z, w1 would have too.
      await sentinel.next((p) => p === `${base}/z`);
      assert.equal(w1.seen.length, before, 'no events after unwatch');
      assert.ok(!w1.seen.includes(`${base}/z`));
      await hs.unwatch();
    });

    test('a second watch with a token in use is refused', async () => {
      const h = await xs.watch('/memcoop-test/dup', 'dup', () => {});
      await assert.rejects(xs.watch('/memcoop-test/dup2', 'dup', () => {}), (e: unknown) => isXenStoreError(e, 'EEXIST'));
      await h.unwatch();
    });

    test('a ref\'d watch keeps a process alive; an unref\'d one lets it exit', { timeout: 60_000 }, async () => {
      const key = '/memcoop-test/child';
      await xs.mkdir(key);
      const unref = await runChild([fx.socketPath, 'unref', key]);
      assert.equal(unref.out.trim(), 'watching', 'exited by itself, without the stop key');

      const ref = await runChild([fx.socketPath, 'ref', key], (line) => {
        if (line === 'watching') void other.write(`${key}/stop`, '1');
      });
      assert.deepEqual(ref.out.trim().split('\n'), ['watching', 'got stop'], 'stayed alive until the watch fired');
    });

    test('errors carry code, op and path', async () => {
      const missing = '/memcoop-test/no/such/dir';
      const e1 = await xs.directory(missing).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(e1 instanceof XenStoreError);
      assert.equal(e1.code, 'ENOENT');
      assert.equal(e1.op, 'directory');
      assert.equal(e1.path, missing);
      assert.equal(e1.errno, -2);
      assert.match(e1.message, /directory \/memcoop-test\/no\/such\/dir.*ENOENT/);

      const bad = '/memcoop-test/bad path!';
      const e2 = await xs.write(bad, 'x').then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(e2 instanceof XenStoreError);
      assert.equal(e2.code, 'EINVAL');
      assert.equal(e2.op, 'write');
      assert.equal(e2.path, bad);

      const e3 = await openXenStore({ socketPath: `${fx.dir}/no-such-socket`, socketOnly: true }).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(e3 instanceof XenStoreError);
      assert.equal(e3.code, 'ENOENT');
      assert.equal(e3.op, 'open');
      assert.equal(e3.path, `${fx.dir}/no-such-socket`);
    });

    test('oversized values', async () => {
      const key = '/memcoop-test/big';
      const justOver = 'x'.repeat(OXENSTORED_MAX_VALUE_BYTES + 1);
      if (kind === 'oxenstored') {
        await assert.rejects(xs.write(key, justOver), (e: unknown) => isXenStoreError(e, 'E2BIG') && e.op === 'write');
        assert.equal(await xs.read(key), null);
      } else {
        // The C xenstored has no such per-value quota for dom0.
        await xs.write(key, justOver);
        assert.equal(await xs.read(key), justOver);
      }
      await xs.write(key, 'x'.repeat(OXENSTORED_MAX_VALUE_BYTES)); // at the limit: fine on both
      // Past the protocol's payload limit libxenstore refuses before sending, on both daemons.
      await assert.rejects(xs.write(key, 'x'.repeat(XENSTORE_PAYLOAD_MAX + 1)), (e: unknown) => isXenStoreError(e, 'E2BIG'));
    });

    test('after xenstored restarts, requests on old connections fail as connection lost', async () => {
      const own = await startXenstored(kind); // its own daemon: the shared one stays up
      try {
        const plain = await openXenStore({ socketPath: own.socketPath });
        const watching = await openXenStore({ socketPath: own.socketPath });
        await plain.write('/memcoop-test/restart', 'before');
        await watching.watch('/memcoop-test/restart', 'r', () => {});
        const oldPid = own.pid;
        await own.restart();
        assert.notEqual(own.pid, oldPid);
        for (const c of [plain, watching]) {
          const e = await c.read('/memcoop-test/restart').then(
            () => null,
            (err: unknown) => err,
          );
          assert.ok(isConnectionLost(c, e), `expected a connection-lost error, got ${String(e)}`);
          await c.close();
        }
        const fresh = await openXenStore({ socketPath: own.socketPath });
        assert.equal(await fresh.read('/memcoop-test/restart'), null, 'a restarted daemon starts with an empty tree');
        await fresh.write('/memcoop-test/restart', 'after');
        assert.equal(await fresh.read('/memcoop-test/restart'), 'after');
        await fresh.close();
      } finally {
        await own.stop();
      }
    });

    test('a closed connection refuses requests with EBADF', async () => {
      const c = await openXenStore({ socketPath: fx.socketPath });
      await c.write('/memcoop-test/closed', '1');
      const w = await c.watch('/memcoop-test/closed', 'c', () => {});
      await c.close();
      await c.close(); // twice is fine
      assert.equal(c.closed, true);
      const e = await c.read('/memcoop-test/closed').then(
        () => null,
        (err: unknown) => err,
      );
      assert.ok(isXenStoreError(e, 'EBADF'));
      assert.equal(isConnectionLost(c, e), false, 'our own close is not a lost connection');
      await w.unwatch(); // after close: a no-op, not an error
    });
  });
}

describe('Xen addon absent', () => {
  test('openXenStore fails with one sentence naming what to install and the build command', () => {
    // A child process, so that the loader's cached state here is not disturbed.
    const script =
      "import { openXenStore } from './src/hosts/xen/xenstore.ts';" +
      "import { openXenCtrl } from './src/hosts/xen/xenctrl.ts';" +
      "try { openXenCtrl(); } catch (e) { console.log(e.code + ': ' + e.message); }" +
      "openXenStore().then(() => console.log('opened?!'), (e) => console.log(e.code + ': ' + e.message));";
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      env: { ...process.env, [XEN_ADDON_ENV]: 'absent' },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(lines, [`XENCTRL_UNAVAILABLE: ${XEN_ADDON_MISSING}`, `XEN_ADDON_UNAVAILABLE: ${XEN_ADDON_MISSING}`]);
    assert.match(XEN_ADDON_MISSING, existsSync('/usr/include/xenstore.h') ? /libxen-dev is installed/ : /install libxen-dev/);
    assert.match(XEN_ADDON_MISSING, /npm run build:native/);
    assert.equal(XEN_ADDON_MISSING.split(/\.\s/).length, 1, 'one sentence');
  });
});

describe('libxenctrl', { skip: addon.ok ? false : `Xen tier skipped: ${addon.reason}` }, () => {
  const onXen = existsSync('/dev/xen/privcmd');
  test('off Xen, opening libxenctrl reports XenCtrlUnavailableError', { skip: onXen ? 'this machine runs on Xen' : false }, () => {
    assert.throws(
      () => openXenCtrl(),
      (e: unknown) => isXenCtrlUnavailable(e) && e.code === 'XENCTRL_UNAVAILABLE' && /hypervisor/.test(e.message),
    );
  });
  test('on Xen, physinfo and the domain list are in KiB', { skip: onXen ? false : 'needs a real Xen hypervisor (/dev/xen/privcmd is absent here)' }, () => {
    const xc = openXenCtrl();
    try {
      const p = xc.physinfo();
      assert.ok(p.totalKiB > 0 && p.freeKiB >= 0 && p.freeKiB <= p.totalKiB);
      assert.equal(p.totalKiB % 4, 0);
      const doms = xc.domains();
      assert.ok(doms.some((d) => d.domid === 0), 'Dom0 is listed');
      for (const d of doms) assert.equal(d.currentKiB % 4, 0);
    } finally {
      xc.close();
    }
  });
});
