// `memcoop run` as a real process: against a real xenstored (sizes from the stand-in for the
// hypervisor), stopped by SIGTERM with its journal closed; and its refusals (kvm, no addon, bad
// options and config, no xenstored).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XEN_ADDON_ENV, XEN_ADDON_MISSING } from '../../src/hosts/xen/addon.ts';
import { modePath, targetPath } from '../../src/hosts/xen/layout.ts';
import { STAND_IN_LABEL } from '../../src/hosts/xen/stand-in.ts';
import { openXenStore, type XenStore } from '../../src/hosts/xen/xenstore.ts';
import { readJournalFile } from '../../src/journal/format.ts';
import { PROTOCOL_VERSION } from '../../src/vocabulary/events.ts';
import { memcoop, startXenDaemon, writeXenConfig, type DaemonChild } from '../../testbed/daemon-child.ts';
import { startXenstored, type XenstoredFixture } from '../../testbed/xenstored-fixture.ts';
import { MIB, readKiB, seedDomain, skipReason, until, writeHello, writeReport } from './xen-harness.ts';

function runSync(args: string[], env: Record<string, string> = {}) {
  return memcoop(['run', ...args], env);
}

describe('memcoop run: refusals', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'memcoop-run-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('--help describes the options', () => {
    const r = runSync(['--help']);
    assert.equal(r.status, 0);
    for (const o of ['--host', '--config', '--socket', '--journal']) assert.ok(r.stdout.includes(o), o);
  });

  test('--host kvm without kvm.poolKiB in a config (exit 2)', () => {
    const r = runSync(['--host', 'kvm']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /kvm\.poolKiB/);
  });

  test('bad options and bad config are named (exit 2)', () => {
    assert.equal(runSync(['--host', 'vmware']).status, 2);
    const r1 = runSync(['--bogus']);
    assert.equal(r1.status, 2);
    assert.match(r1.stderr, /unknown option --bogus/);
    const cfg = join(dir, 'bad.yaml');
    writeFileSync(cfg, 'tickMs: 50\nguests:\n  default:\n    minKib: 1\n');
    const r2 = runSync(['--config', cfg]);
    assert.equal(r2.status, 2);
    assert.ok(r2.stderr.includes(`${cfg}.guests.default.minKib`), r2.stderr);
  });

  test('without the addon: the addon\'s one sentence, exit 1', () => {
    const r = runSync(['--host', 'xen'], { [XEN_ADDON_ENV]: 'absent' });
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `${XEN_ADDON_MISSING}\n`);
  });

  test('no xenstored at the socket: exit 1 saying so', { skip: skipReason('cxenstored') }, () => {
    const r = runSync(['--host', 'xen', '--socket', join(dir, 'no-such-socket')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot connect to xenstored/);
  });
});

const kind = skipReason('oxenstored') === false ? 'oxenstored' : 'cxenstored';

describe(`memcoop run --host xen against ${kind}`, { skip: skipReason(kind) }, () => {
  let fx: XenstoredFixture;
  let xs: XenStore;
  let dir: string;
  let daemon: DaemonChild | null = null;

  before(async () => {
    fx = await startXenstored(kind);
    xs = await openXenStore({ socketPath: fx.socketPath, socketOnly: true });
    dir = mkdtempSync(join(tmpdir(), 'memcoop-run-'));
  });
  after(async () => {
    await daemon?.stop();
    await xs?.close();
    await fx?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('runs the daemon until SIGTERM, then stops cleanly with its journal closed', { timeout: 60_000 }, async () => {
    await seedDomain(xs, 1, { name: 'web', staticMaxKiB: 1024 * MIB, targetKiB: 512 * MIB });
    const cfg = writeXenConfig(dir, {
      tickMs: 50,
    });
    const journal = join(dir, 'journal.jsonl');
    const d = startXenDaemon(['--config', cfg, '--socket', fx.socketPath, '--journal', journal]);
    daemon = d;
    const { lines } = d;
    await d.waitFor('memcoop supervisor started', 'the daemon to start');
    assert.ok(lines.some((l) => l.msg?.startsWith(`${STAND_IN_LABEL}: `)), 'the log says where sizes come from');
    await writeHello(xs, 1, { protocol: PROTOCOL_VERSION, selfAdjust: true });
    await until(async () => (await xs.read(modePath(1))) === 'self', 'the handshake answered');
    // 100 MiB free: its working room (used + 64 MiB, src/policy/pressure.ts) stays below its
    // commit as it grows, so the target is its Committed_AS and stays there.
    await writeReport(xs, 1, { totalKiB: 512 * MIB, freeKiB: 100 * MIB, committedKiB: 700 * MIB });
    await until(async () => (await readKiB(xs, targetPath(1))) === 700 * MIB, 'the target written');

    // A second daemon on the same xenstored refuses to start, naming the first one's pid.
    const second = runSync(['--host', 'xen', '--config', cfg, '--socket', fx.socketPath]);
    assert.equal(second.status, 1, second.stderr);
    assert.match(second.stderr, new RegExp(`another memcoop daemon \\(pid ${d.child.pid}\\) holds `));
    // SIGHUP does not kill it: it re-reads the (unchanged) config.
    d.child.kill('SIGHUP');
    await d.waitFor('configuration reloaded', 'SIGHUP: the config re-read');
    // The guest's commit falls and its memory frees (so its working room, used + 64 MiB, is
    // below its commit: src/policy/pressure.ts); the free-memory filter (src/policy/smoothing.ts)
    // takes a jump in MemFree once it lasts, so the agent reports it until then.
    let n = 0;
    await until(async () => {
      await writeReport(xs, 1, { totalKiB: 512 * MIB, freeKiB: (200 + (n++ % 2)) * MIB, committedKiB: 600 * MIB });
      return (await readKiB(xs, targetPath(1))) === 600 * MIB;
    }, 'still balancing after SIGHUP');

    d.child.kill('SIGTERM'); // our own child, by its pid
    assert.equal(await d.exited, 0, d.stderr());
    assert.ok(lines.some((l) => l.msg === 'memcoop supervisor stopped'));
    const j = await readJournalFile(journal);
    assert.equal(j.truncatedLine, null, 'the journal ends on a whole line');
    assert.ok(j.inputs.some((i) => i.type === 'guest.appeared' && i.id === 'dom1'));
    assert.ok(j.inputs.some((i) => i.type === 'agent.hello' && i.id === 'dom1'));
  });
});
