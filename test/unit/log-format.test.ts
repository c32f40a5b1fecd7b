// Logs for people on a terminal (pino-pretty), JSON lines otherwise: the daemon as a process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemonChild } from '../../testbed/daemon-child.ts';

test('MEMCOOP_LOG_FORMAT=pretty: readable lines; without a terminal: JSON', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'memcoop-log-'));
  try {
    const p = startDaemonChild(['--host', 'sim', '--lock', join(dir, 'a.pid')], { MEMCOOP_LOG_FORMAT: 'pretty' });
    await p.waitFor((l) => /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(memcoop\): memcoop supervisor started/.test(l.msg ?? ''), 'a pretty line');
    assert.equal(await p.stop(), 0, p.stderr());
    const j = startDaemonChild(['--host', 'sim', '--lock', join(dir, 'b.pid')], { MEMCOOP_LOG_FORMAT: '' });
    const line = await j.waitFor((l) => l.msg === 'memcoop supervisor started', 'a JSON line');
    assert.equal(line.level, 30);
    assert.equal(await j.stop(), 0, j.stderr());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
