// KvmHost against real QEMUs (paused, no guest kernel: real QMP, a balloon with no driver) and
// sockets that are not QMP, all in one guests directory as a running host has it: discovery,
// sizes in usable memory, the pool, a socket dropped with one reason, the balloon that does not
// move, a QEMU that exits and one that comes back; and the agent channel fed by hand through the
// relay (bad lines logged once, never quoted, no effect on the other guest).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvmHost, STALL_PROBES } from '../../src/hosts/kvm/host.ts';
import type { HostEvent } from '../../src/hosts/host.ts';
import { DEFAULT_DAEMON_CONFIG, DEFAULT_KVM_CONFIG } from '../../src/config/daemon-config.ts';
import { qemuSkipReason, startNotQmp, startPausedQemu, type PausedQemu } from './support/paused-qemu.ts';
import { startRelay, type Relay } from './support/relay.ts';
import { MIB, captureLogger, until } from './support/harness.ts';
import type { Server } from 'node:net';

const skip = qemuSkipReason();
if (skip) console.log(`# kvm tier skipped: ${skip}`);

const POOL_KIB = 1536 * MIB;
const PROBE_MS = 100;
const OVERHEAD_KIB = DEFAULT_KVM_CONFIG.overheadKiB;

describe('KvmHost with real QEMUs and sockets that are not QMP', { skip: skip ?? false }, () => {
  let dir: string;
  let guestsDir: string;
  let meminfo: string;
  const qemus: PausedQemu[] = [];
  const servers: Server[] = [];
  const relays: Relay[] = [];
  let host: KvmHost;
  const events: HostEvent[] = [];
  const cap = captureLogger();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'memcoop-kvmhost-'));
    guestsDir = join(dir, 'guests');
    meminfo = join(dir, 'host-meminfo');
    writeFileSync(meminfo, `MemTotal: ${24 * 1024 * MIB} kB\nMemAvailable: ${20 * 1024 * MIB} kB\n`);
    qemus.push(await startPausedQemu(join(guestsDir, 'alpha')), await startPausedQemu(join(guestsDir, 'beta'), 256));
    mkdirSync(join(guestsDir, 'quiet'));
    mkdirSync(join(guestsDir, 'junk'));
    mkdirSync(join(guestsDir, 'bad name'));
    servers.push(await startNotQmp(join(guestsDir, 'quiet', 'qmp.sock'), null));
    servers.push(await startNotQmp(join(guestsDir, 'junk', 'qmp.sock'), '{"hello": "world"}\n'));
    relays.push(await startRelay(join(dir, 'alpha-port.sock'), join(guestsDir, 'alpha', 'agent.sock')));
    relays.push(await startRelay(join(dir, 'beta-port.sock'), join(guestsDir, 'beta', 'agent.sock')));
    host = new KvmHost({
      logger: cap.logger,
      guests: DEFAULT_DAEMON_CONFIG.guests,
      probeMs: PROBE_MS,
      meminfoPath: meminfo,
      // 2 s: a real QEMU answers in ms, but this box is shared (a timeout drops the guest).
      qmpTimeoutMs: 2000,
      kvm: { ...DEFAULT_KVM_CONFIG, guestsDir, poolKiB: POOL_KIB },
    });
    host.events$.subscribe((e) => events.push(e));
    await host.start();
  });
  after(async () => {
    await host?.close();
    for (const r of relays) await r.close();
    for (const s of servers) s.close();
    for (const q of qemus) await q.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const appeared = (id: string) => events.filter((e) => e.type === 'guest.appeared' && e.id === id);
  const logs = (re: RegExp) => cap.lines.filter((l) => re.test(l.msg));

  test('the QEMUs appear, in usable memory; the sockets that are not QMP are dropped with one reason each', async () => {
    const a = await until('alpha', () => appeared('alpha')[0]);
    const b = await until('beta', () => appeared('beta')[0]);
    assert.ok(a.type === 'guest.appeared' && b.type === 'guest.appeared');
    assert.equal(a.maxKiB, 512 * MIB - OVERHEAD_KIB);
    assert.equal(a.currentKiB, 512 * MIB - OVERHEAD_KIB);
    assert.equal(b.maxKiB, 256 * MIB - OVERHEAD_KIB);
    assert.notEqual(a.domid, b.domid);
    assert.equal(appeared('quiet').length + appeared('junk').length, 0);
    await until('both refusals', () => logs(/QMP socket dropped/).length >= 2);
    const reasons = logs(/QMP socket dropped/).map((l) => `${l['guest']}: ${l['reason']}`).sort();
    assert.match(reasons[0]!, /^junk: not a QMP greeting/);
    assert.match(reasons[1]!, /^quiet: no QMP greeting within 2000 ms/);
    assert.equal(logs(/not a valid guest name/).length, 1);
    // not retried while the same sockets stay there
    await new Promise((r) => setTimeout(r, 10 * PROBE_MS));
    assert.equal(logs(/QMP socket dropped/).length, 2);
  });

  test('host.sample: the pool less the balloons; allocations in usable memory', async () => {
    const s = await until('a sample with both', () =>
      events.findLast((e) => e.type === 'host.sample' && Object.keys(e.allocations).length === 2),
    );
    assert.ok(s.type === 'host.sample');
    assert.equal(s.freeKiB, POOL_KIB - 512 * MIB - 256 * MIB);
    assert.deepEqual(s.allocations, { alpha: 512 * MIB - OVERHEAD_KIB, beta: 256 * MIB - OVERHEAD_KIB });
    assert.deepEqual(s.dom0, { currentKiB: 0, committedKiB: 0 });
  });

  test('a target the balloon does not follow (no driver): one clear line, the write itself accepted', async () => {
    await host.setTarget('alpha', 200 * MIB);
    const w = await until('stall warning', () => logs(/balloon not moving: the guest stays above its target/)[0], 5000 + STALL_PROBES * PROBE_MS * 4);
    assert.equal(w['guest'], 'alpha');
    assert.equal(w['targetKiB'], 200 * MIB + OVERHEAD_KIB);
    assert.equal(w['actualKiB'], 512 * MIB);
    await new Promise((r) => setTimeout(r, 5 * PROBE_MS));
    assert.equal(logs(/balloon not moving/).length, 1, 'logged once');
  });

  test('no agent hello for 10 probes: the guest-stats fallback starts, logged once per guest, no agent events', async () => {
    await until('fallback for alpha and beta', () => logs(/guest-stats fallback/).length >= 2, 10_000);
    const guests = logs(/guest-stats fallback/).map((l) => l['guest']).sort();
    assert.deepEqual(guests, ['alpha', 'beta']);
    assert.ok(!events.some((e) => e.type === 'agent.report'), 'the fallback never stands in for an agent report');
  });

  test('Dom0 target is a grant out of the pool; unknown guests are refused', async () => {
    await host.setTarget('dom0', 100 * MIB);
    const s = await until('sample with the grant', () => events.findLast((e) => e.type === 'host.sample' && e.dom0.currentKiB === 100 * MIB));
    assert.ok(s.type === 'host.sample');
    assert.equal(s.freeKiB, POOL_KIB - 768 * MIB - 100 * MIB);
    await host.setTarget('dom0', 0);
    await assert.rejects(host.setTarget('quiet', 100 * MIB), /no guest "quiet" connected/);
    await assert.rejects(host.setMode('dom0', 'global', 1), /Dom0 runs no agent/);
  });

  test('agent channel: hello? on connect; hello and report become events; mode written back', async () => {
    const relay = relays[0]!;
    await until('hello? sent', () => relay.fromHost().includes('hello?\n'));
    const agent = await connectAgent(join(dir, 'alpha-port.sock'));
    agent.write('hello protocol=1 selfAdjust=0\nreport\nMemTotal: 469404 kB\nMemFree: 300000 kB\nCommitted_AS: 120000 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\nend\n');
    const h = await until('hello', () => events.find((e) => e.type === 'agent.hello' && e.id === 'alpha'));
    assert.ok(h.type === 'agent.hello' && h.protocol === 1 && !h.selfAdjust);
    const r = await until('report', () => events.find((e) => e.type === 'agent.report' && e.id === 'alpha'));
    assert.ok(r.type === 'agent.report' && r.committedKiB === 120000 && r.freeKiB === 300000);
    await host.setMode('alpha', 'global', 1);
    await until('mode line', () => relay.fromHost().includes('mode global protocol=1\n'));
    agent.destroy();
  });

  test('bad agent lines: logged once by guest, never quoted, dropped; the other guest is unaffected', async () => {
    const secret = 'GUEST-SECRET-42';
    const agent = await connectAgent(join(dir, 'beta-port.sock'));
    const before = events.length;
    agent.write(`${secret}\n${'A'.repeat(300)}\nreport\nMemTotal: 1 kB\n${secret}: x\nend\nend\nhello protocol=01 selfAdjust=1\n`);
    await until('bad logged', () => logs(/bad agent message ignored/).find((l) => l['guest'] === 'beta'));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(logs(/bad agent message ignored/).filter((l) => l['guest'] === 'beta').length, 1);
    assert.ok(!cap.raw.some((l) => l.includes(secret)), 'the guest text never reaches the log');
    assert.equal(events.slice(before).filter((e) => e.type === 'agent.hello' || e.type === 'agent.report').length, 0);
    // a good hello afterwards goes through and is said to be good again
    agent.write('hello protocol=1 selfAdjust=1\n');
    await until('beta hello', () => events.find((e) => e.type === 'agent.hello' && e.id === 'beta'));
    await until('good again', () => logs(/agent messages good again/).find((l) => l['guest'] === 'beta'));
    // alpha still there and sampled
    const s = events.findLast((e) => e.type === 'host.sample');
    assert.ok(s?.type === 'host.sample' && 'alpha' in s.allocations);
    agent.destroy();
  });

  test('a flood of messages is rate limited', async () => {
    const agent = await connectAgent(join(dir, 'beta-port.sock'));
    const before = events.filter((e) => e.type === 'agent.hello' && e.id === 'beta').length;
    agent.write('hello protocol=1 selfAdjust=1\n'.repeat(50));
    await new Promise((r) => setTimeout(r, 500));
    const got = events.filter((e) => e.type === 'agent.hello' && e.id === 'beta').length - before;
    assert.ok(got >= 1 && got <= 4, `${got} hellos passed`);
    agent.destroy();
  });

  test('a QEMU that exits: guest.left, the others stay; a new QEMU at the same path is a new guest', async () => {
    const beta = qemus[1]!;
    await beta.stop();
    await until('beta left', () => events.find((e) => e.type === 'guest.left' && e.id === 'beta'));
    assert.ok(logs(/guest left/).some((l) => l['guest'] === 'beta'));
    assert.ok(!events.some((e) => e.type === 'guest.left' && e.id === 'alpha'));
    // QEMU leaves its socket file behind: not reconnected every probe
    await new Promise((r) => setTimeout(r, 5 * PROBE_MS));
    assert.equal(logs(/QMP socket dropped/).filter((l) => l['guest'] === 'beta').length, 0);
    rmSync(join(guestsDir, 'beta', 'qmp.sock'), { force: true });
    qemus.push(await startPausedQemu(join(guestsDir, 'beta'), 256));
    await until('beta back', () => appeared('beta').length === 2).catch((e: unknown) => {
      // What the host said about beta, for a failure on a loaded box.
      console.log(cap.raw.filter((l) => l.includes('"beta"')).slice(-8).join('\n'));
      throw e;
    });
    const [first, second] = appeared('beta');
    assert.ok(first?.type === 'guest.appeared' && second?.type === 'guest.appeared');
    assert.notEqual(first.domid, second.domid);
  });
});

function connectAgent(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ path });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}
