// status, explain and the metrics endpoint as processes against `memcoop run --host xen` on a
// real xenstored (sizes from the stand-in for the hypervisor), with two hand-made guests whose
// agents this test plays.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Status } from '../../src/control/status.ts';
import { targetPath } from '../../src/hosts/xen/layout.ts';
import { openXenStore, type XenStore } from '../../src/hosts/xen/xenstore.ts';
import { PROTOCOL_VERSION } from '../../src/vocabulary/events.ts';
import { memcoop, parseExposition, startXenDaemon, writeXenConfig, type DaemonChild } from '../../testbed/daemon-child.ts';
import { startXenstored, type XenstoredFixture } from '../../testbed/xenstored-fixture.ts';
import { MIB, readKiB, seedDomain, skipReason, until, writeHello, writeReport } from './xen-harness.ts';

const kind = skipReason('oxenstored') === false ? 'oxenstored' : 'cxenstored';

describe(`memcoop status, explain and metrics against run --host xen on ${kind}`, { skip: skipReason(kind) }, () => {
  let fx: XenstoredFixture;
  let xs: XenStore;
  let dir: string;
  let d: DaemonChild;
  let sock: string;
  let metricsUrl: string;
  let cfg: string;
  const writeConfig = (extra: string[] = []) =>
    writeXenConfig(dir, {
      supervisor: extra,
    });

  before(async () => {
    fx = await startXenstored(kind);
    xs = await openXenStore({ socketPath: fx.socketPath, socketOnly: true });
    dir = mkdtempSync(join(tmpdir(), 'memcoop-xen-control-'));
    sock = join(dir, 'memcoop.sock');
    cfg = writeConfig();
    await seedDomain(xs, 1, { name: 'web', staticMaxKiB: 1024 * MIB, targetKiB: 512 * MIB });
    await seedDomain(xs, 2, { name: 'db', staticMaxKiB: 1024 * MIB, targetKiB: 512 * MIB });
    d = startXenDaemon(['--config', cfg, '--socket', fx.socketPath, '--lock', join(dir, 'memcoop.pid'), '--metrics', '0']);
    metricsUrl = (await d.waitFor((l) => l.msg === 'metrics listening', 'the metrics listener')).metrics as string;
    for (const id of [1, 2]) await writeHello(xs, id, { protocol: PROTOCOL_VERSION, selfAdjust: true });
    // Free memory enough that each guest's working room (used + 64 MiB, src/policy/pressure.ts)
    // stays below its commit as it moves: the targets are the commits.
    await writeReport(xs, 1, { totalKiB: 512 * MIB, freeKiB: 100 * MIB, committedKiB: 700 * MIB });
    await writeReport(xs, 2, { totalKiB: 512 * MIB, freeKiB: 200 * MIB, committedKiB: 300 * MIB });
    await until(async () => (await readKiB(xs, targetPath(1))) === 700 * MIB && (await readKiB(xs, targetPath(2))) === 300 * MIB, 'both targets written');
  });
  after(async () => {
    await d?.stop();
    await xs?.close();
    await fx?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('status --json: each guest self-adjusting at its Committed_AS, root-only socket', async () => {
    assert.equal(statSync(sock).mode & 0o777, 0o600);
    let s: Status | null = null;
    await until(() => {
      const r = memcoop(['status', '--json', '--control', sock]);
      if (r.status !== 0) return false;
      s = JSON.parse(r.stdout) as Status;
      return s.ticks > 0 && s.guests.every((g) => g.goalKiB !== null);
    }, 'a tick with both guests');
    const st = s as unknown as Status;
    assert.equal(st.host, 'xen');
    assert.deepEqual(st.guests.map((g) => [g.id, g.domid, g.state, g.mode, g.committedKiB, g.targetKiB]), [
      ['dom1', 1, 'selfAdjusting', 'self', 700 * MIB, 700 * MIB],
      ['dom2', 2, 'selfAdjusting', 'self', 300 * MIB, 300 * MIB],
    ]);
    assert.equal(st.memory!.regime, 'abundant');
    const table = memcoop(['status', '--control', sock]);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /^dom1 +1 +selfAdjusting +self +/m);
  });

  test('explain dom1: abundant, goal its Committed_AS', () => {
    const r = memcoop(['explain', 'dom1', '--control', sock]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^regime: abundant +\(free after Dom0 F' = .* >= guests' need/m);
    assert.match(r.stdout, /^dom1: allocation .*Committed_AS 700 MiB/m);
    assert.match(r.stdout, /^  goal 700 MiB: its Committed_AS/m);
    assert.doesNotMatch(r.stdout, /^dom2:/m);
  });

  test('SIGHUP: a valid change is taken and logged, an invalid one refused naming the field', async () => {
    const reserve = () => (JSON.parse(memcoop(['status', '--json', '--control', sock]).stdout) as Status).memory!.reserveKiB;
    assert.equal(reserve(), 50 * MIB);
    writeConfig(['  params: { reserveKiB: 65536 }']);
    d.child.kill('SIGHUP');
    const ok = await d.waitFor((l) => l.msg === 'configuration reloaded; the supervisor takes it at the next tick', 'the reload');
    assert.deepEqual(ok.changed, ['supervisor.params.reserveKiB']);
    await until(() => reserve() === 64 * MIB, 'the new reserve in force');
    writeConfig(['  params: { reserveKiB: 65536, tau: 2 }']);
    d.child.kill('SIGHUP');
    const refused = await d.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('reload refused'), 'the refusal');
    assert.equal(refused.field, `${cfg}.supervisor.params.tau`);
    assert.match(refused.msg!, /must be < 1, got 2; the configuration in force stays$/);
    assert.equal(reserve(), 64 * MIB);
    assert.equal(d.child.exitCode, null, 'still running');
  });

  test('reserve: the guests give memory back for a domain about to start; --release gives it back to them', async () => {
    // Stand-in host: 2048 MiB, Dom0 512, guests at 700 and 300 (after the SIGHUP test, reserve 64 MiB):
    // 536 MiB free. 800 MiB more than that can be had only from the guests.
    const r = memcoop(['reserve', '800M', '--timeout', '30', '--control', sock]);
    assert.equal(r.status, 0, r.stderr);
    const m = /^reserved (r-[0-9a-f]{8}): 800 MiB free \(host free ([0-9.]+) MiB/.exec(r.stdout);
    assert.ok(m, r.stdout);
    const s = JSON.parse(memcoop(['status', '--json', '--control', sock]).stdout) as Status;
    assert.equal(s.memory!.reservedKiB, 800 * MIB);
    assert.ok(s.memory!.freeKiB - s.memory!.reserveKiB >= 800 * MIB, JSON.stringify(s.memory));
    for (const g of s.guests) assert.ok(g.allocationKiB >= g.minKiB && (g.targetKiB ?? 0) >= g.minKiB);
    const rel = memcoop(['reserve', '--release', m[1]!, '--control', sock]);
    assert.equal(rel.status, 0, rel.stderr);
    await until(
      async () => (await readKiB(xs, targetPath(1))) === 700 * MIB && (await readKiB(xs, targetPath(2))) === 300 * MIB,
      'both guests back at their Committed_AS',
    );
  });

  test('metrics scraped from the running daemon', async () => {
    const { samples } = parseExposition(await (await fetch(metricsUrl)).text());
    const v = (name: string, guest?: string) => samples.find((s) => s.name === name && (guest === undefined || s.labels.guest === guest))?.value;
    assert.equal(v('memcoop_guest_committed_bytes', 'dom1'), 700 * MIB * 1024);
    assert.equal(v('memcoop_guest_target_bytes', 'dom2'), 300 * MIB * 1024);
    assert.equal(samples.find((s) => s.name === 'memcoop_host_regime' && s.labels.regime === 'abundant')?.value, 1);
    assert.ok((v('memcoop_target_writes_total') ?? 0) >= 2);
    assert.equal(v('memcoop_reconnects_total'), 0);
  });
});
