// The shell's own failure paths: a host that cannot start, and an input stream that fails.
// The Host here is a test double (named as such): these tests are about startDaemon's wiring,
// not about any hypervisor, and the real hosts (sim, xen) have their own tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject } from 'rxjs';
import { startDaemon } from '../../src/daemon/daemon.ts';
import { DEFAULT_SUPERVISOR_CONFIG } from '../../src/machines/config.ts';
import type { Host, HostEvent } from '../../src/hosts/host.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { parseJournal } from '../../src/journal/format.ts';

function testDoubleHost(opts: { startFails?: boolean } = {}) {
  const events$ = new Subject<HostEvent>();
  let closed = 0;
  const host: Host = {
    kind: 'test-double',
    events$,
    async start() {
      if (opts.startFails) throw new Error('no hypervisor here');
    },
    async setTarget() {},
    async setMode() {},
    async close() {
      closed++;
    },
  };
  return { host, events$, closed: () => closed };
}

test('a host that fails to start: startDaemon rejects, the host is closed and the journal is complete', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'memcoop-daemon-'));
  const journalPath = join(dir, 'j.jsonl');
  const t = testDoubleHost({ startFails: true });
  await assert.rejects(
    startDaemon({ host: t.host, config: DEFAULT_SUPERVISOR_CONFIG, logger: silentLogger(), journalPath }),
    /no hypervisor here/,
  );
  assert.equal(t.closed(), 1);
  // The header was written and the file closed: it reads back as a journal with no inputs.
  const parsed = parseJournal(readFileSync(journalPath, 'utf8'));
  assert.equal(parsed.inputs.length, 0);
});

test('an input stream that fails stops the daemon and rejects `done`', async () => {
  const t = testDoubleHost();
  const daemon = await startDaemon({ host: t.host, config: DEFAULT_SUPERVISOR_CONFIG, logger: silentLogger(), tickMs: 60_000 });
  t.events$.next({ type: 'guest.appeared', at: 1, id: 'vm1', domid: 1, minKiB: 65536, maxKiB: 262144, currentKiB: 131072, shares: 1 });
  t.events$.error(new Error('watch connection lost for good'));
  await assert.rejects(daemon.done, /watch connection lost for good/);
  assert.equal(t.closed(), 1);
  assert.equal(daemon.actor.getSnapshot().status, 'stopped');
  await daemon.stop(); // a second stop is harmless
  assert.equal(t.closed(), 1);
});

test('stop() resolves `done`', async () => {
  const t = testDoubleHost();
  const daemon = await startDaemon({ host: t.host, config: DEFAULT_SUPERVISOR_CONFIG, logger: silentLogger(), tickMs: 60_000 });
  await daemon.stop();
  await daemon.done;
  assert.equal(t.closed(), 1);
});
