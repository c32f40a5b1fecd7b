// The reliability tier (npm run test:reliability): what an adversarial operator found wrong,
// each case repeated against the real daemon process on a real xenstored, asserting the fixed
// behaviour. Cases, as numbered in the report that found them:
//   1 a restart keeps the previous journal        2 a full disk: balancing goes on, no torn line
//   3 a symbolic link at the journal's path       4 SIGHUP does not kill the daemon
//   5 a second daemon on the same host            8 replays that reproduce, missing lines, UTF-8
//   9 configs that are not files, absurd numbers  10 impossible decide snapshots, sim --out FILE
// (6, 1,000 guests, is `npm run bench:scale`'s; 7, a flipping agent, is in test/xen/host.test.ts and test/unit/log-budget.test.ts.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modePath, targetPath } from '../../src/hosts/xen/layout.ts';
import { openXenStore, type XenStore } from '../../src/hosts/xen/xenstore.ts';
import { readJournalFile } from '../../src/journal/format.ts';
import { PROTOCOL_VERSION } from '../../src/vocabulary/events.ts';
import { loadScenario } from '../../src/sim/scenario.ts';
import { runScenario } from '../../src/sim/runner.ts';
import { startXenstored, type XenstoredFixture } from '../../testbed/xenstored-fixture.ts';
import { MIB, readKiB, seedDomain, skipReason, until, writeHello, writeReport } from '../xen/xen-harness.ts';
import { BIN, ROOT, startXenDaemon } from '../../testbed/daemon-child.ts';
import { writeConfig } from './daemon-process.ts';

const memcoop = (args: string[], input = '') => spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', input });
const kind = skipReason('oxenstored') === false ? 'oxenstored' : 'cxenstored';

describe(`reliability: the daemon against ${kind}`, { skip: skipReason(kind) }, () => {
  let fx: XenstoredFixture;
  let xs: XenStore;
  let dir: string;

  before(async () => {
    fx = await startXenstored(kind);
    xs = await openXenStore({ socketPath: fx.socketPath, socketOnly: true });
    dir = mkdtempSync(join(tmpdir(), 'memcoop-rel-'));
    await seedDomain(xs, 1, { name: 'web', staticMaxKiB: 1024 * MIB, targetKiB: 512 * MIB });
    await writeHello(xs, 1, { protocol: PROTOCOL_VERSION, selfAdjust: true });
  });
  after(async () => {
    await xs?.close();
    await fx?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('1, 4, 5: a restart keeps the previous journal; SIGHUP reloads the configuration (the daemon keeps running); a second daemon is refused', { timeout: 120_000 }, async () => {
    const cfg = writeConfig(dir);
    const journal = join(dir, 'j1', 'journal.jsonl'); // its folder does not exist yet
    const first = startXenDaemon(['--config', cfg, '--socket', fx.socketPath, '--journal', journal]);
    try {
      await first.waitFor('memcoop supervisor started');
      await until(async () => (await xs.read(modePath(1))) === 'self', 'the handshake answered');
      await writeReport(xs, 1, { totalKiB: 512 * MIB, freeKiB: 100 * MIB, committedKiB: 640 * MIB });
      await until(async () => (await readKiB(xs, targetPath(1))) === 640 * MIB, 'the target written');
      const second = memcoop(['run', '--host', 'xen', '--config', cfg, '--socket', fx.socketPath]);
      assert.equal(second.status, 1);
      assert.match(second.stderr, new RegExp(`another memcoop daemon \\(pid ${first.child.pid}\\)`));
      first.child.kill('SIGHUP');
      await first.waitFor(/configuration reloaded/);
      assert.equal(first.child.exitCode, null, 'still running after SIGHUP');
    } finally {
      assert.equal(await first.stop(), 0, first.stderr());
    }
    const firstRun = await readJournalFile(journal);
    const again = startXenDaemon(['--config', cfg, '--socket', fx.socketPath, '--journal', journal]);
    try {
      await again.waitFor('memcoop supervisor started');
    } finally {
      await again.stop();
    }
    const kept = await readJournalFile(`${journal}.1`);
    assert.deepEqual(kept.inputs, firstRun.inputs, 'the first run is kept whole at journal.1');
    assert.ok((await readJournalFile(journal)).inputs.length > 0, 'the second run has its own journal');
  });

  test('3: a symbolic link at the journal path is refused, its target untouched', { timeout: 60_000 }, () => {
    const cfg = writeConfig(dir);
    const target = join(dir, 'precious.txt');
    writeFileSync(target, 'keep', { mode: 0o600 });
    const link = join(dir, 'link.jsonl');
    symlinkSync(target, link);
    const r = memcoop(['run', '--host', 'xen', '--config', cfg, '--socket', fx.socketPath, '--journal', link]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /is a symbolic link/);
    assert.equal(readFileSync(target, 'utf8'), 'keep');
  });

  test('2: a full disk under the journal: targets keep moving, one log line, whole lines only, a gap line after', { timeout: 180_000 }, async (t) => {
    const mnt = join(dir, 'small');
    mkdirSync(mnt);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=48k', 'tmpfs', mnt], { encoding: 'utf8' });
    if (m.status !== 0) {
      t.skip(`cannot mount a small tmpfs here: ${m.stderr.trim()}`);
      return;
    }
    const journal = join(mnt, 'journal.jsonl');
    const d = startXenDaemon(['--config', writeConfig(dir), '--socket', fx.socketPath, '--journal', journal]);
    t.after(() => void spawnSync('umount', ['-l', mnt]));
    try {
      await d.waitFor('memcoop supervisor started');
      // Fill what is left, then keep the guest reporting: its target must still follow.
      spawnSync('sh', ['-c', `dd if=/dev/zero of=${join(mnt, 'filler')} bs=1k 2>/dev/null; true`]);
      await d.waitFor(/journal: the disk refused a line/, 'the gap opened', 30_000);
      // 100 MiB free: the working room (used + 64 MiB, src/policy/pressure.ts) stays below the
      // commit, so the target is the commit itself.
      for (const c of [700, 760, 820]) {
        await writeReport(xs, 1, { totalKiB: 512 * MIB, freeKiB: 100 * MIB, committedKiB: c * MIB });
        await until(async () => (await readKiB(xs, targetPath(1))) === c * MIB, `target ${c} MiB while the disk is full`);
      }
      assert.equal(d.lines.filter((l) => /journal: the disk refused a line/.test(l.msg ?? '')).length, 1, 'logged once, not per input or per gap');
      unlinkSync(join(mnt, 'filler'));
      await d.waitFor(/journal: writing again/, 'writing resumed', 30_000);
    } finally {
      await d.stop();
    }
    const r = memcoop(['replay', journal]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /input\(s\) before t=\d+ were not recorded/);
    const j = await readJournalFile(journal);
    // A disk at the edge of full may let a short line through between refusals: one gap or a few,
    // each recording what it is missing, and still one log line a minute.
    assert.ok(j.gaps.length >= 1);
    assert.ok(j.gaps.every((g) => g.missing > 0));
  });
});

describe('reliability: inputs that are not what they claim', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'memcoop-rel-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('8: an unsafe scenario replays from its journal alone; a deleted line and bad UTF-8 are named', { timeout: 180_000 }, async () => {
    const journal = join(dir, 'unsafe.jsonl');
    const run = await runScenario(loadScenario('unsafe-no-two-phase'), { journalPath: journal, keepDecisions: true, trace: false });
    const r = memcoop(['replay', journal, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const replayed = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { decision: unknown });
    assert.deepEqual(replayed.map((x) => x.decision), run.decisions.map((x) => x.decision));
    const lines = readFileSync(journal, 'utf8').split('\n');
    const cut = join(dir, 'cut.jsonl');
    writeFileSync(cut, [...lines.slice(0, 40), ...lines.slice(41)].join('\n'));
    const c = memcoop(['replay', cut]);
    assert.equal(c.status, 2);
    assert.match(c.stderr, /line 41\.seq: is \d+ where \d+ was due: 1 line\(s\) missing/);
    // Invalid UTF-8 on the line after the last: once reported as line 1.
    const whole = lines.filter((l) => l !== '');
    assert.ok(whole.length > 300, `a long journal (${whole.length} lines)`);
    const bad = join(dir, 'utf8.jsonl');
    writeFileSync(bad, Buffer.concat([Buffer.from(whole.join('\n') + '\n'), Buffer.from([0x7b, 0xff, 0x0a])]));
    const u = memcoop(['replay', bad]);
    assert.equal(u.status, 2);
    assert.match(u.stderr, new RegExp(`line ${whole.length + 1}: not valid UTF-8`));
  });

  test('9: a config that is not a file, or absurd, is refused at once by name', { timeout: 60_000 }, () => {
    const zero = memcoop(['run', '--host', 'xen', '--config', '/dev/zero']);
    assert.equal(zero.status, 2);
    assert.match(zero.stderr, /\/dev\/zero: not a regular file/);
    const fifo = join(dir, 'fifo');
    spawnSync('mkfifo', [fifo]);
    const f = memcoop(['run', '--host', 'xen', '--config', fifo]);
    assert.equal(f.status, 2);
    assert.match(f.stderr, /not a regular file/);
    const big = join(dir, 'silence.yaml');
    writeFileSync(big, 'supervisor:\n  silenceTicks: 1000000000000000\n');
    const s = memcoop(['run', '--host', 'xen', '--config', big]);
    assert.equal(s.status, 2);
    assert.match(s.stderr, /silenceTicks: must be <= 86400/);
  });

  test('10: decide never answers a target outside [min, max]; impossible snapshots are named; sim --out FILE is one line', { timeout: 60_000 }, () => {
    const base = {
      host: { freeKiB: 51200 },
      dom0: { currentKiB: 9000000, committedKiB: 1048576, minKiB: 524288, maxKiB: 2097152 },
      guests: [{ id: 'a', minKiB: 131072, maxKiB: 524288, currentKiB: 900000, committedKiB: 400000, freeKiB: 65536, swapTotalKiB: 0, swapFreeKiB: 0 }],
    };
    const ok = memcoop(['decide'], JSON.stringify(base));
    assert.equal(ok.status, 0, ok.stderr);
    const d = JSON.parse(ok.stdout) as { dom0: { targetKiB: number }; guests: { targetKiB: number }[] };
    assert.equal(d.dom0.targetKiB, 2097152);
    assert.equal(d.guests[0]!.targetKiB, 524288);
    for (const [guest, field] of [
      [{ freeKiB: 1000000 }, 'freeKiB'],
      [{ currentKiB: 1000, freeKiB: 0 }, 'currentKiB'],
      [{ maxKiB: 1e30 }, 'maxKiB'],
    ] as const) {
      const r = memcoop(['decide'], JSON.stringify({ ...base, guests: [{ ...base.guests[0], ...guest }] }));
      assert.equal(r.status, 2, field);
      assert.match(r.stderr, new RegExp(`input\\.guests\\[0\\]\\.${field}: must be`));
    }
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    const s = memcoop(['sim', '--out', file]);
    assert.equal(s.status, 2);
    assert.doesNotMatch(s.stderr, /\n\s+at /);
    assert.ok(existsSync(file));
  });
});
