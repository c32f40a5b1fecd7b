// QmpClient against a real QEMU (paused, no guest kernel) and against unix sockets that are not
// QMP: what works, what is refused, and that each failure is one clear reason.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpClient, QmpError } from '../../src/hosts/kvm/qmp.ts';
import { balloonActualKiB, baseMemoryKiB } from '../../src/hosts/kvm/qmp-messages.ts';
import { qemuSkipReason, startNotQmp, startPausedQemu, type PausedQemu } from './support/paused-qemu.ts';
import { MIB } from './support/harness.ts';

const skip = qemuSkipReason();
if (skip) console.log(`# kvm tier skipped: ${skip}`);

describe('QMP against a real QEMU', { skip: skip ?? false }, () => {
  let dir: string;
  let q: PausedQemu;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'memcoop-qmp-'));
    q = await startPausedQemu(join(dir, 'g1'));
  });
  after(async () => {
    await q?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('greeting, capabilities, query-balloon, memory size; balloon accepted; unknown command refused', async () => {
    const c = await QmpClient.connect(q.qmp);
    try {
      assert.equal(balloonActualKiB(await c.execute('query-balloon')), 512 * MIB);
      assert.equal(baseMemoryKiB(await c.execute('query-memory-size-summary')), 512 * MIB);
      await c.execute('balloon', { value: 256 * 1024 * 1024 });
      // No driver in a paused machine: the balloon stays where it was.
      assert.equal(balloonActualKiB(await c.execute('query-balloon')), 512 * MIB);
      await assert.rejects(c.execute('no-such-command'), (e: unknown) => e instanceof QmpError && e.errorClass === 'CommandNotFound');
      assert.ok(!c.closed, 'a refused command does not end the connection');
    } finally {
      c.close();
    }
  });

  test('QEMU exiting ends the connection with a reason, and commands in flight fail', async () => {
    const q2 = await startPausedQemu(join(dir, 'g2'));
    let reason = '';
    const c = await QmpClient.connect(q2.qmp, { onClose: (r) => (reason = r) });
    await q2.stop();
    await assert.rejects(c.execute('query-balloon'));
    assert.ok(c.closed);
    assert.match(reason, /closed the QMP socket|socket error/);
  });
});

describe('QMP against sockets that are not QMP', { skip: skip ?? false }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'memcoop-notqmp-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a socket that says nothing: no greeting within the timeout', async () => {
    const srv = await startNotQmp(join(dir, 'silent.sock'), null);
    try {
      await assert.rejects(QmpClient.connect(join(dir, 'silent.sock'), { timeoutMs: 300 }), /no QMP greeting within 300 ms/);
    } finally {
      srv.close();
    }
  });

  test('a socket that says garbage: not a QMP greeting', async () => {
    const srv = await startNotQmp(join(dir, 'garbage.sock'), 'SSH-2.0-OpenSSH_9.2\r\n');
    try {
      await assert.rejects(QmpClient.connect(join(dir, 'garbage.sock'), { timeoutMs: 2000 }), /not a QMP greeting \(not JSON\)/);
    } finally {
      srv.close();
    }
  });

  test('a socket that never ends a line: bounded, then refused', async () => {
    const srv = await startNotQmp(join(dir, 'flood.sock'), 'x'.repeat(70 * 1024));
    try {
      await assert.rejects(QmpClient.connect(join(dir, 'flood.sock'), { timeoutMs: 2000 }), /longer than 65536 bytes/);
    } finally {
      srv.close();
    }
  });

  test('no one listening: cannot connect', async () => {
    await assert.rejects(QmpClient.connect(join(dir, 'nothing.sock')), /cannot connect: ENOENT/);
  });
});
