// XenHost's writes against a real xenstored, with a FAKE libxenctrl standing in for the one part
// that needs a hypervisor (xc_domain_setmaxmem): it records each call and can be told to fail,
// which is how these tests see that max pages are raised before a target is (docs/measurements.md
// section 3). Also: Dom0's target, domains that are gone, ids that are not domains.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDaemonConfig } from '../../src/config/daemon-config.ts';
import type { DomainMemory, MemorySample } from '../../src/hosts/xen/domain-memory.ts';
import { MAXMEM_SLACK_KIB, XenHost } from '../../src/hosts/xen/host.ts';
import { TICK_WRITES_IN_FLIGHT } from '../../src/hosts/xen/tick-lane.ts';
import { domainPath, staticMaxPath, targetPath } from '../../src/hosts/xen/layout.ts';
import { openXenStore, type XenStore } from '../../src/hosts/xen/xenstore.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { DOM0_ID } from '../../src/vocabulary/writes.ts';
import { startXenstored, type XenstoredFixture } from '../../testbed/xenstored-fixture.ts';
import { MIB, readKiB, seedDomain, skipReason } from './xen-harness.ts';

/** FAKE libxenctrl (no hypervisor here): records setmaxmem calls; fails them on request. */
class FakeLibxenctrl implements DomainMemory {
  readonly kind = 'libxenctrl';
  readonly description = 'FAKE libxenctrl for this test (no hypervisor here): records setmaxmem calls';
  readonly calls: Array<[number, number]> = [];
  failNext = false;
  async sample(): Promise<MemorySample> {
    return { freeKiB: 0, dom0KiB: 512 * MIB, dom0CommittedKiB: 256 * MIB, sizes: new Map() };
  }
  async sizeOf(): Promise<number | null> {
    return 256 * MIB;
  }
  setMaxKiB(domid: number, maxKiB: number): void {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('xc_domain_setmaxmem failed (fake)');
    }
    this.calls.push([domid, maxKiB]);
  }
  close(): void {}
}

const kind = skipReason('cxenstored') === false ? 'cxenstored' : 'oxenstored';

describe(`XenHost writes against ${kind}, with a FAKE libxenctrl`, { skip: skipReason(kind) }, () => {
  let fx: XenstoredFixture;
  let xs: XenStore;
  let host: XenHost;
  const xc = new FakeLibxenctrl();
  const config = parseDaemonConfig({});

  before(async () => {
    fx = await startXenstored(kind);
    xs = await openXenStore({ socketPath: fx.socketPath, socketOnly: true });
    await seedDomain(xs, 5, { name: 'five', staticMaxKiB: 1024 * MIB, targetKiB: 256 * MIB });
    host = await XenHost.open({
      logger: silentLogger(),
      guests: config.guests,
      probeMs: 1000,
      socketPath: fx.socketPath,
      standIn: config.xen.standIn,
      memory: xc,
    });
  });
  after(async () => {
    await host?.close();
    await xs?.close();
    await fx?.stop();
  });

  test('raising: max pages go up (to target + 1 MiB) before memory/target does', async () => {
    await host.setTarget('dom5', 300 * MIB);
    assert.deepEqual(xc.calls, [[5, 300 * MIB + MAXMEM_SLACK_KIB]]);
    assert.equal(await readKiB(xs, targetPath(5)), 300 * MIB);

    // If raising max pages fails, the target is not raised: the balloon would stop short anyway.
    xc.failNext = true;
    await assert.rejects(host.setTarget('dom5', 400 * MIB), /setmaxmem failed/);
    assert.equal(await readKiB(xs, targetPath(5)), 300 * MIB, 'memory/target untouched');
    assert.equal(xc.calls.length, 1);
  });

  test('lowering: memory/target first, then max pages follow it down', async () => {
    xc.failNext = true;
    await assert.rejects(host.setTarget('dom5', 200 * MIB), /setmaxmem failed/);
    assert.equal(await readKiB(xs, targetPath(5)), 200 * MIB, 'the decrease was written before max pages were touched');
    await host.setTarget('dom5', 192 * MIB);
    assert.deepEqual(xc.calls.at(-1), [5, 192 * MIB + MAXMEM_SLACK_KIB]);
  });

  test('Dom0\'s target is created when it has none', async () => {
    assert.equal(await xs.read(targetPath(0)), null);
    await host.setTarget(DOM0_ID, 600 * MIB);
    assert.equal(await readKiB(xs, targetPath(0)), 600 * MIB);
    assert.deepEqual(xc.calls.at(-1), [0, 600 * MIB + MAXMEM_SLACK_KIB]);
  });

  test('a domain that is gone is not brought back by a write', async () => {
    await seedDomain(xs, 6, { name: 'six', staticMaxKiB: 512 * MIB, targetKiB: 256 * MIB });
    await xs.rm(domainPath(6));
    await assert.rejects(host.setTarget('dom6', 300 * MIB), /not in XenStore/);
    await assert.rejects(host.setMode('dom6', 'self', 1), /not in XenStore/);
    assert.equal(await xs.read(domainPath(6)), null);
  });

  test('a target above the domain\'s static-max as it is now (xl mem-max lowered it) is refused, max pages untouched', async () => {
    await seedDomain(xs, 7, { name: 'seven', staticMaxKiB: 1024 * MIB, targetKiB: 256 * MIB });
    await host.setTarget('dom7', 300 * MIB);
    // The operator lowers the ceiling at run time: libxl writes static-max (and sets max pages).
    await xs.write(staticMaxPath(7), String(512 * MIB));
    const calls = xc.calls.length;
    await assert.rejects(host.setTarget('dom7', 800 * MIB), /static-max/);
    assert.equal(await readKiB(xs, targetPath(7)), 300 * MIB, 'memory/target untouched');
    assert.equal(xc.calls.length, calls, 'max pages not raised past the operator\'s ceiling');
    await host.setTarget('dom7', 512 * MIB);
    assert.equal(await readKiB(xs, targetPath(7)), 512 * MIB, 'up to static-max is still fine');
  });

  test('two target writes for one domain in flight together land in the order they were issued', async () => {
    await seedDomain(xs, 8, { name: 'eight', staticMaxKiB: 1024 * MIB, targetKiB: 256 * MIB });
    // The first write is held inside its transaction (after its reads) until the second is done:
    // what happens when a tick's write and a prompt one overlap on a slow xenstored.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let entered = 0;
    const fake = new FakeLibxenctrl();
    const h2 = await XenHost.open({
      logger: silentLogger(),
      guests: config.guests,
      probeMs: 1000,
      socketPath: fx.socketPath,
      standIn: config.xen.standIn,
      memory: fake,
      inTransaction: async (op, domid, attempt) => {
        // Only the first call's first attempt is held.
        if (op === 'setTarget' && domid === 8 && attempt === 0 && entered++ === 0) await held;
      },
    });
    try {
      const first = h2.setTarget('dom8', 400 * MIB);
      const second = h2.setTarget('dom8', 300 * MIB);
      // Release the first once the second has either finished or is waiting behind it.
      await Promise.race([second, new Promise((r) => setTimeout(r, 200))]);
      release();
      await Promise.all([first, second]);
      assert.equal(await readKiB(xs, targetPath(8)), 300 * MIB, 'the later target is the one in memory/target');
      assert.deepEqual(fake.calls.at(-1), [8, 300 * MIB + MAXMEM_SLACK_KIB], 'max pages follow the later target');
    } finally {
      release();
      await h2.close();
    }
  });

  test('a prompt write goes ahead of a tick\'s writes waiting in the tick lane', async () => {
    // Three rounds of the lane: without it the prompt write's requests would queue behind all of
    // the tick's at xenstored, and it would finish about last.
    const n = 3 * TICK_WRITES_IN_FLIGHT;
    for (let k = 0; k < n; k++) await seedDomain(xs, 100 + k, { name: `t${k}`, staticMaxKiB: 1024 * MIB, targetKiB: 256 * MIB });
    await seedDomain(xs, 200, { name: 'prompt', staticMaxKiB: 1024 * MIB, targetKiB: 256 * MIB });
    const done: string[] = [];
    const writes = Array.from({ length: n }, (_, k) => host.setTarget(`dom${100 + k}`, 300 * MIB).then(() => done.push(`dom${100 + k}`)));
    await new Promise((r) => setImmediate(r)); // the tick's writes are out on the connection
    writes.push(host.setTarget('dom200', 320 * MIB, { prompt: true }).then(() => done.push('dom200')));
    await Promise.all(writes);
    const at = done.indexOf('dom200');
    assert.ok(at < 2 * TICK_WRITES_IN_FLIGHT, `the prompt write finished ${at + 1}th of ${n + 1}`);
    for (let k = 0; k < n; k++) assert.equal(await readKiB(xs, targetPath(100 + k)), 300 * MIB, `dom${100 + k}'s tick target landed`);
    assert.equal(await readKiB(xs, targetPath(200)), 320 * MIB);
  });

  test('a prompt target that replaces a tick target still waiting in the lane takes it out of the lane', async () => {
    const n = 3 * TICK_WRITES_IN_FLIGHT;
    const done: string[] = [];
    const writes = Array.from({ length: n }, (_, k) => host.setTarget(`dom${100 + k}`, 280 * MIB).then(() => done.push(`tick ${100 + k}`)));
    await new Promise((r) => setImmediate(r));
    // The last tick write is still waiting its turn: the prompt target replaces it and both
    // callers settle with the one write, made at once.
    const last = 100 + n - 1;
    writes.push(host.setTarget(`dom${last}`, 330 * MIB, { prompt: true }).then(() => done.push(`prompt ${last}`)));
    await Promise.all(writes);
    const at = done.indexOf(`prompt ${last}`);
    assert.ok(at < 2 * TICK_WRITES_IN_FLIGHT, `the prompt write finished ${at + 1}th of ${n + 1}`);
    assert.ok(done.indexOf(`tick ${last}`) < 2 * TICK_WRITES_IN_FLIGHT, 'the replaced tick write settled with it');
    assert.equal(await readKiB(xs, targetPath(last)), 330 * MIB, 'the newer target is the one written');
    assert.equal(await readKiB(xs, targetPath(100)), 280 * MIB);
  });

  test('ids that are not domains, bad targets, and a mode for Dom0 are refused', async () => {
    await assert.rejects(host.setTarget('vm1', 300 * MIB), /not a Xen domain id/);
    await assert.rejects(host.setTarget('dom5', 0), /bad target/);
    await assert.rejects(host.setTarget('dom5', 1.5), /bad target/);
    await assert.rejects(host.setMode(DOM0_ID, 'self', 1), /Dom0 runs no agent/);
  });
});
