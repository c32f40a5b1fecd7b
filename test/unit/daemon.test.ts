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
import { DEFAULT_SUPERVISOR_CONFIG } from '../../src/vocabulary/config.ts';
import type { Host, HostEvent } from '../../src/hosts/host.ts';
import { createLogger, silentLogger } from '../../src/log/logger.ts';
import { parseJournal } from '../../src/journal/format.ts';
import { guestFacts } from '../../src/machines/supervisor.ts';

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

test("a failed write that a later write already replaced does not make the supervisor forget the later one (its increase stays counted against free memory)", async () => {
  const MIB = 1024;
  const t = testDoubleHost();
  // setTarget calls the test settles by hand: the first will fail, the later ones stay in flight.
  const calls: { targetKiB: number; reject: (err: Error) => void }[] = [];
  t.host.setTarget = (_id, targetKiB) => new Promise<void>((_resolve, reject) => void calls.push({ targetKiB, reject }));
  const config = { ...DEFAULT_SUPERVISOR_CONFIG, dom0: { minKiB: 256 * MIB, maxKiB: 2048 * MIB } };
  const daemon = await startDaemon({ host: t.host, config, logger: silentLogger(), tickMs: 60_000 });
  try {
  const a = daemon.actor;
  const dom0 = { currentKiB: 512 * MIB, committedKiB: 512 * MIB };
  const report = (at: number, committedKiB: number) =>
    a.send({ type: 'agent.reports', at, reports: [{ id: 'vm1', committedKiB, freeKiB: 32 * MIB, swapTotalKiB: 0, swapFreeKiB: 0 }] });
  a.send({ type: 'guest.appeared', at: 1, id: 'vm1', domid: 1, minKiB: 128 * MIB, maxKiB: 1024 * MIB, currentKiB: 512 * MIB, shares: 1 });
  a.send({ type: 'agent.hello', at: 2, id: 'vm1', protocol: 1, selfAdjust: true });
  report(3, 600 * MIB);
  a.send({ type: 'host.sample', at: 4, freeKiB: 2048 * MIB, dom0, allocations: { vm1: 512 * MIB } });
  a.send({ type: 'tick', at: 1000 });
  report(1001, 900 * MIB); // a prompt self step: a second, larger increase while the first is in flight
  const vm1 = () => guestFacts(a.getSnapshot(), 'vm1')!;
  const inFlight = calls.filter((c) => c.targetKiB !== dom0.currentKiB && c.targetKiB > 512 * MIB);
  assert.equal(inFlight.length, 2, `two increases issued to vm1 (${calls.map((c) => c.targetKiB).join(', ')})`);
  const [first, second] = inFlight as [(typeof calls)[number], (typeof calls)[number]];
  assert.ok(second.targetKiB > first.targetKiB);
  first.reject(new Error('EAGAIN (test double)'));
  await new Promise((r) => setImmediate(r));
  assert.equal(vm1().writtenTargetKiB, second.targetKiB, 'the write in flight is still the one written');
  // The next sample (vm1 not grown yet) leaves the in-flight increase out of the prompt budget.
  a.send({ type: 'host.sample', at: 1002, freeKiB: 2048 * MIB, dom0, allocations: { vm1: 512 * MIB } });
  const pending = second.targetKiB - 512 * MIB;
  assert.ok(a.getSnapshot().context.promptBudgetKiB <= 2048 * MIB - pending, 'the in-flight increase is not handed out again');
  } finally {
    await daemon.stop();
  }
});

test('an input the journal refuses is dropped and logged, and the daemon carries on', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'memcoop-daemon-'));
  const journalPath = join(dir, 'j.jsonl');
  const t = testDoubleHost();
  const daemon = await startDaemon({ host: t.host, config: DEFAULT_SUPERVISOR_CONFIG, logger: silentLogger(), journalPath, tickMs: 60_000 });
  const seen: string[] = [];
  daemon.inputs$.subscribe((i) => seen.push(i.type));
  // A host out of its schema (negative domid): the journal cannot take it.
  t.events$.next({ type: 'guest.appeared', at: 1, id: 'bad', domid: -1, minKiB: 65536, maxKiB: 262144, currentKiB: 131072, shares: 1 });
  t.events$.next({ type: 'guest.appeared', at: 2, id: 'vm1', domid: 1, minKiB: 65536, maxKiB: 262144, currentKiB: 131072, shares: 1 });
  assert.deepEqual(seen, ['guest.appeared']);
  assert.ok(daemon.actor.system.get('guest:vm1'), 'the good input still reached the supervisor');
  assert.equal(daemon.actor.system.get('guest:bad'), undefined);
  await daemon.stop();
  const parsed = parseJournal(readFileSync(journalPath, 'utf8'));
  assert.deepEqual(parsed.inputs.map((i) => i.type === 'guest.appeared' && i.id), ['vm1']);
});

test('a stop that cancels writes in flight logs one line for them all, not a warning per guest', async () => {
  const MIB = 1024;
  const t = testDoubleHost();
  // Like a real host: a write in flight fails with "connection lost" when the host closes.
  const pending: ((err: Error) => void)[] = [];
  t.host.setTarget = () => new Promise<void>((_resolve, reject) => void pending.push(reject));
  t.host.close = async () => {
    for (const reject of pending.splice(0)) reject(new Error('connection lost'));
  };
  const lines: { msg: string; writes?: number }[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
  const config = { ...DEFAULT_SUPERVISOR_CONFIG, dom0: { minKiB: 256 * MIB, maxKiB: 2048 * MIB } };
  const daemon = await startDaemon({ host: t.host, config, logger, tickMs: 60_000 });
  const a = daemon.actor;
  const GUESTS = 20;
  for (let i = 0; i < GUESTS; i++) {
    a.send({ type: 'guest.appeared', at: 1, id: `vm${i}`, domid: i + 1, minKiB: 128 * MIB, maxKiB: 1024 * MIB, currentKiB: 256 * MIB, shares: 1 });
    a.send({ type: 'agent.hello', at: 2, id: `vm${i}`, protocol: 1, selfAdjust: true });
  }
  const allocations = Object.fromEntries(Array.from({ length: GUESTS }, (_, i) => [`vm${i}`, 256 * MIB]));
  a.send({ type: 'host.sample', at: 3, freeKiB: 16384 * MIB, dom0: { currentKiB: 512 * MIB, committedKiB: 512 * MIB }, allocations });
  a.send({ type: 'agent.reports', at: 4, reports: Array.from({ length: GUESTS }, (_, i) => ({ id: `vm${i}`, committedKiB: 512 * MIB, freeKiB: 32 * MIB, swapTotalKiB: 0, swapFreeKiB: 0 })) });
  a.send({ type: 'tick', at: 1000 });
  try {
    assert.ok(pending.length >= GUESTS, `a target write in flight per guest (${pending.length})`);
  } finally {
    await daemon.stop();
  }
  assert.deepEqual(lines.filter((l) => /failed/.test(l.msg)), [], 'no per-guest warning');
  const summary = lines.filter((l) => l.msg === 'writes in flight were cancelled by the stop');
  assert.equal(summary.length, 1);
  assert.ok(summary[0]!.writes! >= GUESTS);
});
