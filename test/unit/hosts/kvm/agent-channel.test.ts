// AgentChannel over real unix sockets (fast): a missing port is one state line however many
// retries; a port that accepts gets `hello?`; a closed connection is retried and says hello? again.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentChannel } from '../../../../src/hosts/kvm/agent-channel.ts';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('agent channel', () => {
  test('a missing port: one state line across retries', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'memcoop-chan-'));
    const states: string[] = [];
    const c = new AgentChannel({ path: join(dir, 'none.sock'), onMessage: () => {}, onState: (k, r) => states.push(`${k} ${r}`), retryMs: 20 });
    await wait(300);
    c.close();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(states, ['false agent port error ENOENT']);
    await assert.rejects(c.sendMode('self', 1), /not connected/);
  });

  test('hello? on every connect; messages delivered; mode written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'memcoop-chan-'));
    const path = join(dir, 'port.sock');
    const got: string[] = [];
    const conns: Socket[] = [];
    const srv = createServer((s) => {
      conns.push(s);
      s.on('data', (b) => got.push(b.toString()));
      s.on('error', () => {});
    });
    await new Promise<void>((r) => srv.listen(path, r));
    const msgs: string[] = [];
    const c = new AgentChannel({ path, onMessage: (m) => msgs.push(m.kind), retryMs: 20 });
    try {
      for (let i = 0; i < 100 && conns.length === 0; i++) await wait(10);
      conns[0]!.write('hello protocol=1 selfAdjust=1\n');
      for (let i = 0; i < 100 && msgs.length === 0; i++) await wait(10);
      assert.deepEqual(msgs, ['hello']);
      await c.sendMode('global', 1);
      for (let i = 0; i < 100 && !got.join('').includes('mode'); i++) await wait(10);
      conns[0]!.destroy(); // the port goes away and comes back: reconnected, asked again
      for (let i = 0; i < 200 && conns.length < 2; i++) await wait(10);
      for (let i = 0; i < 100 && got.join('').split('hello?').length < 3; i++) await wait(10);
      assert.equal(got.join(''), 'hello?\nmode global protocol=1\nhello?\n');
    } finally {
      c.close();
      conns.forEach((s) => s.destroy());
      await new Promise<void>((r) => srv.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
