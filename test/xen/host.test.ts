// The Xen host and the whole daemon against real xenstored daemons (oxenstored and the C
// xenstored, no hypervisor: testbed/xenstored-fixture.ts). The test plays the toolstack and
// the guests' agents by writing their keys. Host free memory and domain sizes come from the
// stand-in for the hypervisor (src/hosts/xen/stand-in.ts): each domain is as large as its
// memory/target, as if every balloon landed at once. Real timers, 50 ms ticks; every wait is on
// a condition.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../../src/daemon/daemon.ts';
import type { HostEvent } from '../../src/hosts/host.ts';
import { parseDaemonConfig } from '../../src/config/daemon-config.ts';
import { XenHost, type TransactionOp } from '../../src/hosts/xen/host.ts';
import { MAX_HELLO_BYTES, MAX_REPORT_BYTES } from '../../src/hosts/xen/agent-protocol.ts';
import { STAND_IN_LABEL } from '../../src/hosts/xen/stand-in.ts';
import {
  domainPath,
  guestId,
  modePath,
  protocolPath,
  staticMaxPath,
  targetPath,
  helloPath,
  meminfoPath,
  namePath,
} from '../../src/hosts/xen/layout.ts';
import { isXenStoreError, openXenStore, type XenStore } from '../../src/hosts/xen/xenstore.ts';
import { readJournalFile } from '../../src/journal/format.ts';
import { replay } from '../../src/journal/replay.ts';
import type { SupervisorInput } from '../../src/vocabulary/events.ts';
import { PROTOCOL_VERSION } from '../../src/vocabulary/events.ts';
import type { DecisionEvent } from '../../src/vocabulary/writes.ts';
import { startXenstored, type XenstoredFixture } from '../../testbed/xenstored-fixture.ts';
import {
  MIB,
  captureLogger,
  readKiB,
  seedDomain,
  skipReason,
  until,
  writeHello,
  writeReport,
  type DomainSeed,
  type LogLine,
} from './xen-harness.ts';

const TICK_MS = 50;
/** Seeds: two guests of 512 MiB (ceiling 1 GiB) on the stand-in's 2 GiB host with a 512 MiB Dom0. */
const SEEDS: Record<number, DomainSeed> = {
  1: { name: 'web', staticMaxKiB: 1024 * MIB, targetKiB: 512 * MIB },
  2: { name: 'db', staticMaxKiB: 1024 * MIB, targetKiB: 512 * MIB },
};
const LEAVER: DomainSeed = { name: 'batch', staticMaxKiB: 512 * MIB, targetKiB: 256 * MIB };
const CONFLICTED: DomainSeed = { name: 'tx', staticMaxKiB: 512 * MIB, targetKiB: 256 * MIB };

const config = parseDaemonConfig({
  tickMs: TICK_MS,
  xen: { standIn: { hostTotalKiB: 2048 * MIB, dom0KiB: 512 * MIB, dom0CommittedKiB: 256 * MIB } },
  guests: { default: { minKiB: 128 * MIB }, byName: { db: { shares: 2 } }, byDomid: { 1: { minKiB: 192 * MIB } } },
  supervisor: {
    // The agents here report only when the test writes: never silent for the run's length.
    silenceTicks: 86_400,
    // Decreases land in one step too, so the run settles in a few ticks.
    params: { downRatio: 1 },
    dom0: { minKiB: 256 * MIB, maxKiB: 1024 * MIB },
  },
});

const mode = (xs: XenStore, domid: number) => xs.read(modePath(domid));
const target = (xs: XenStore, domid: number) => readKiB(xs, targetPath(domid));

for (const kind of ['oxenstored', 'cxenstored'] as const) {
  describe(`Xen host against ${kind}`, { skip: skipReason(kind) }, () => {
    let fx: XenstoredFixture;
    let xs: XenStore;
    let daemon: Daemon;
    let host: XenHost;
    let dir: string;
    let journal: string;
    const cap = captureLogger();
    /** Everything the host emitted (subscribed before start: discovery is part of it). */
    const events: HostEvent[] = [];
    const decisions: DecisionEvent[] = [];
    /** Transactions to disturb (the first attempt of the first one), "op:domid" -> attempts seen. */
    const conflicts = new Map<string, number[]>();

    const logged = (msg: string, domid?: number): LogLine[] =>
      cap.lines.filter((l) => l.msg === msg && (domid === undefined || l['domid'] === domid));
    const eventsOf = (type: HostEvent['type'], id?: string) =>
      events.filter((i) => i.type === type && (id === undefined || ('id' in i && i.id === id)));
    const failedEffects = (id: string) => inputs.filter((i) => i.type === 'effect.failed' && i.id === id);
    const inputs: SupervisorInput[] = [];
    /** Waits for this many more decisions: the daemon has seen whatever happened before. */
    const ticksPass = async (n: number) => {
      const want = decisions.length + n;
      await until(() => decisions.length >= want, `${n} more decisions`);
    };
    /** Target writes for a guest in the decisions from index `from` on. */
    const targetWrites = (id: string, from = 0) =>
      decisions.slice(from).flatMap((d) => d.writes.filter((w) => w.kind === 'target' && w.id === id));
    /** Settled: the last `n` decisions wrote nothing. */
    const settled = async (n = 4) => {
      await until(() => decisions.length >= n && decisions.slice(-n).every((d) => d.writes.length === 0), 'the daemon to settle');
    };

    before(async () => {
      fx = await startXenstored(kind);
      xs = await openXenStore({ socketPath: fx.socketPath, socketOnly: true });
      for (const [d, s] of Object.entries(SEEDS)) await seedDomain(xs, Number(d), s);
      dir = mkdtempSync(join(tmpdir(), 'memcoop-xenhost-'));
      journal = join(dir, 'journal.jsonl');
      host = await XenHost.open({
        logger: cap.logger,
        guests: config.guests,
        probeMs: TICK_MS,
        socketPath: fx.socketPath,
        standIn: config.xen.standIn,
        inTransaction: async (op: TransactionOp, domid: number, attempt: number) => {
          const seen = conflicts.get(`${op}:${domid}`);
          if (!seen) return;
          seen.push(attempt);
          // The toolstack changes what this transaction has read: a real conflict in xenstored.
          // (A different value: oxenstored does not count rewriting the same value as a change.)
          if (seen.length === 1) await xs.write(staticMaxPath(domid), String(CONFLICTED.staticMaxKiB + 4));
        },
      });
      host.events$.subscribe((e) => events.push(e));
      daemon = await startDaemon({ host, config: config.supervisor, logger: cap.logger, journalPath: journal, tickMs: TICK_MS });
      daemon.inputs$.subscribe((i) => inputs.push(i));
      daemon.decisions$.subscribe((d) => decisions.push(d));
    });

    after(async () => {
      await daemon?.stop();
      await xs?.close();
      await fx?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test(`without a hypervisor, sizes come from the ${STAND_IN_LABEL}`, () => {
      assert.equal(host.memory.kind, 'stand-in');
      assert.match(host.memory.description, new RegExp(`^${STAND_IN_LABEL}: `));
      assert.ok(logged(host.memory.description).length === 1, 'the log says which source the numbers come from');
    });

    test('domains found: guest.appeared with static-max, target and the configured floor and shares', async () => {
      await until(() => eventsOf('guest.appeared').length >= 2, 'both guests to appear');
      const byId = new Map(eventsOf('guest.appeared').map((i) => [(i as { id: string }).id, i]));
      assert.deepEqual(byId.get('dom1'), { ...byId.get('dom1')!, domid: 1, maxKiB: 1024 * MIB, currentKiB: 512 * MIB, minKiB: 192 * MIB, shares: 1 });
      assert.deepEqual(byId.get('dom2'), { ...byId.get('dom2')!, domid: 2, maxKiB: 1024 * MIB, currentKiB: 512 * MIB, minKiB: 128 * MIB, shares: 2 });
      assert.ok(!byId.has('dom0'), 'Dom0 is the control domain, never a guest');
      await until(() => eventsOf('host.sample').length > 0, 'a host sample');
    });

    test('registration is answered with mode and protocol, readable by the guest and no one else', async () => {
      await writeHello(xs, 1, { protocol: PROTOCOL_VERSION, selfAdjust: true });
      await writeHello(xs, 2, { protocol: PROTOCOL_VERSION, selfAdjust: false });
      await until(async () => (await mode(xs, 1)) === 'self' && (await mode(xs, 2)) === 'global', 'both modes written');
      for (const d of [1, 2]) {
        assert.equal(await xs.read(protocolPath(d)), String(PROTOCOL_VERSION));
        const want = [
          { domid: 0, access: 'none' },
          { domid: d, access: 'read' },
        ];
        assert.deepEqual(await xs.getPermissions(modePath(d)), want, `mode key of dom${d}`);
        assert.deepEqual(await xs.getPermissions(protocolPath(d)), want, `protocol key of dom${d}`);
      }
      // Each hello as the agent wrote it (once, or twice when the watch's first firing also saw it).
      const hellos = eventsOf('agent.hello').map((h) => [(h as { id: string }).id, (h as { selfAdjust: boolean }).selfAdjust]);
      assert.deepEqual([...new Map(hellos as [string, boolean][])].sort(), [
        ['dom1', true],
        ['dom2', false],
      ]);
      assert.ok(hellos.length <= 4);
    });

    test('reports move targets in memory/target, and modes change with the decision', async () => {
      // Plenty free: each guest follows its own Committed_AS.
      await writeReport(xs, 1, { totalKiB: 512 * MIB, freeKiB: 64 * MIB, committedKiB: 640 * MIB });
      await writeReport(xs, 2, { totalKiB: 512 * MIB, freeKiB: 200 * MIB, committedKiB: 384 * MIB });
      await until(async () => (await target(xs, 1)) === 640 * MIB && (await target(xs, 2)) === 384 * MIB, 'targets at each guest\'s Committed_AS');
      // Abundant: the supervisor moves dom2 (which asked for global control) to self adjustment.
      await until(async () => (await mode(xs, 2)) === 'self', 'dom2 moved to self adjustment');
      assert.ok(decisions.some((d) => d.decision.state === 'abundant'));

      // Both want their ceiling: scarce, global balance, and the modes say so.
      const from = decisions.length;
      await writeReport(xs, 1, { totalKiB: 640 * MIB, freeKiB: 8 * MIB, committedKiB: 1024 * MIB });
      await writeReport(xs, 2, { totalKiB: 384 * MIB, freeKiB: 8 * MIB, committedKiB: 1024 * MIB });
      await until(async () => (await mode(xs, 1)) === 'global' && (await mode(xs, 2)) === 'global', 'both guests under global control');
      assert.ok(decisions.slice(from).some((d) => d.decision.state === 'scarce'));
      await settled();
      // What is in memory/target is exactly the last target the supervisor issued for each.
      for (const d of [1, 2]) {
        const last = targetWrites(guestId(d)).at(-1);
        assert.ok(last && last.kind === 'target');
        assert.equal(await target(xs, d), last.targetKiB, `dom${d}'s memory/target`);
      }
      // dom2 has twice the shares of dom1 at the same use: the balance gives it more.
      assert.ok((await target(xs, 2))! > (await target(xs, 1))!, 'shares count');
      // Dom0 was served first: its target went to its goal (its Committed_AS, within its bounds).
      assert.equal(await readKiB(xs, targetPath(0)), 256 * MIB);
    });

    test('garbage and oversized agent values are ignored, logged once, and move no other guest', async () => {
      await settled();
      const from = decisions.length;
      const reportsBefore = eventsOf('agent.report').length;
      const hellosBefore = eventsOf('agent.hello', 'dom1').length;
      const modeWritesBefore = decisions.flatMap((d) => d.writes).filter((w) => w.kind === 'mode' && w.id === 'dom1').length;
      const t1 = await target(xs, 1);
      const t2 = await target(xs, 2);

      await writeReport(xs, 1, 'MemTotal: lots\nrm -rf /\n');
      await until(() => logged('bad agent meminfo ignored', 1).length === 1, 'the bad report logged');
      await writeReport(xs, 1, 'Committed_AS: 1 kB\n'); // well formed lines, fields missing
      if (kind === 'oxenstored') {
        // oxenstored itself refuses a value over its 2048-byte quota.
        await assert.rejects(writeReport(xs, 1, 'x'.repeat(MAX_REPORT_BYTES + 1)), (e: unknown) => isXenStoreError(e, 'E2BIG'));
      } else {
        await writeReport(xs, 1, `MemTotal: 1 kB\n${'Junk: 1 kB\n'.repeat(300)}`); // over MAX_REPORT_BYTES
      }
      await writeHello(xs, 1, 'protocol=1 selfAdjust=yes');
      await writeHello(xs, 1, `protocol=1 selfAdjust=1${' '.repeat(MAX_HELLO_BYTES)}`);
      await until(() => logged('bad agent hello ignored', 1).length === 1, 'the bad hello logged');
      await ticksPass(6);

      assert.equal(logged('bad agent meminfo ignored', 1).length, 1, 'three bad reports, one log line');
      assert.equal(logged('bad agent hello ignored', 1).length, 1, 'two bad hellos, one log line');
      assert.equal(eventsOf('agent.report').length, reportsBefore, 'no bad report reached the supervisor');
      assert.deepEqual(targetWrites('dom2', from), [], 'dom2 was not moved');
      assert.deepEqual(targetWrites('dom1', from), [], 'nor was dom1 on what it sent');
      assert.equal(await target(xs, 1), t1);
      assert.equal(await target(xs, 2), t2);
      assert.equal(eventsOf('agent.hello', 'dom1').length, hellosBefore, 'no bad hello reached the supervisor');
      assert.equal(
        decisions.flatMap((d) => d.writes).filter((w) => w.kind === 'mode' && w.id === 'dom1').length,
        modeWritesBefore,
        'nor changed dom1\'s mode',
      );
      assert.equal(await mode(xs, 1), 'global');
      for (const l of cap.raw) assert.ok(!l.includes('rm -rf') && !l.includes('Junk') && !l.includes('selfAdjust=yes'), `guest text in a log line: ${l}`);

      // A good report is noticed once; an agent that then flips between bad and good values earns
      // no more lines within the minute (each key's log budget), while its good values still count.
      await writeReport(xs, 1, { totalKiB: 640 * MIB, freeKiB: 8 * MIB, committedKiB: 1024 * MIB });
      await until(() => logged('agent meminfo good again', 1).length === 1, 'the good report noticed');
      const reportsBeforeFlips = eventsOf('agent.report', 'dom1').length;
      for (let i = 0; i < 4; i++) {
        await writeReport(xs, 1, 'garbage');
        await ticksPass(1);
        await writeReport(xs, 1, { totalKiB: 640 * MIB, freeKiB: 8 * MIB, committedKiB: (1000 + i) * MIB });
        await ticksPass(1);
      }
      await until(() => eventsOf('agent.report', 'dom1').length > reportsBeforeFlips, 'good reports between the bad ones still reach the supervisor');
      assert.equal(logged('bad agent meminfo ignored', 1).length, 1, 'flipping: no new warning within the minute');
      assert.equal(logged('agent meminfo good again', 1).length, 1, 'flipping: no new good-again line within the minute');
      await writeHello(xs, 1, { protocol: PROTOCOL_VERSION, selfAdjust: true });
      await until(() => logged('agent hello good again', 1).length === 1, 'the good hello noticed');
    });

    test('a transaction conflict (mode and protocol written together) is retried', async () => {
      conflicts.set('setMode:4', []);
      await seedDomain(xs, 4, CONFLICTED);
      await until(() => eventsOf('guest.appeared', 'dom4').length === 1, 'dom4 to appear');
      await writeHello(xs, 4, { protocol: PROTOCOL_VERSION, selfAdjust: false });
      // The agent's hello may be read twice (the watch's first firing and the write's): then two
      // setMode transactions run, and only the first is disturbed. Wait for its retry.
      await until(() => conflicts.get('setMode:4')!.includes(1), 'the conflicting transaction to run again');
      await until(async () => (await mode(xs, 4)) === 'global', 'dom4 mode written');
      assert.equal(conflicts.get('setMode:4')![0], 0);
      assert.ok(!conflicts.get('setMode:4')!.includes(2), 'one retry was enough');
      assert.equal(await xs.read(protocolPath(4)), String(PROTOCOL_VERSION));
      assert.ok(logged('XenStore transaction conflict; retrying').some((l) => l['domid'] === 4 && l['op'] === 'setMode'));
      assert.equal(failedEffects('dom4').length, 0, 'the retry succeeded: no failed effect');
      conflicts.delete('setMode:4');
    });

    test('a hello that does not change the answer costs no transaction; a removed mode key is written again', async () => {
      // dom4 is registered (the test above). Its agent says hello again and again, identically.
      const seen: number[] = [];
      conflicts.set('setMode:4', seen); // the seam records each setMode transaction (no conflict: seen.length > 1 below)
      seen.push(-1); // keeps the seam from injecting its one conflict
      const hellos = eventsOf('agent.hello', 'dom4').length;
      for (let i = 0; i < 5; i++) {
        await xs.rm(helloPath(4));
        await writeHello(xs, 4, { protocol: PROTOCOL_VERSION, selfAdjust: false });
        await ticksPass(1);
      }
      await until(() => eventsOf('agent.hello', 'dom4').length > hellos, 'the repeated hellos reach the supervisor');
      assert.deepEqual(seen, [-1], 'no mode transaction for an answer the keys already hold');
      // The mode key removed (a restarted xenstored, say): the next hello's answer is written again.
      await xs.rm(modePath(4));
      await writeHello(xs, 4, { protocol: PROTOCOL_VERSION, selfAdjust: true });
      await until(async () => (await mode(xs, 4)) !== null, 'the mode written again');
      assert.ok(seen.length > 1, 'a transaction ran for it');
      conflicts.delete('setMode:4');
    });

    test('a guest whose keys leave /local/domain is dropped by the supervisor', async () => {
      await seedDomain(xs, 3, LEAVER);
      await writeHello(xs, 3, { protocol: PROTOCOL_VERSION, selfAdjust: true });
      await until(async () => (await mode(xs, 3)) === 'self', 'dom3 registered');
      await writeReport(xs, 3, { totalKiB: 256 * MIB, freeKiB: 8 * MIB, committedKiB: 300 * MIB });
      await until(() => decisions.some((d) => d.decision.guests.some((g) => g.id === 'dom3' && g.mode !== 'held')), 'dom3 in a decision');
      await xs.rm(domainPath(3));
      await until(() => eventsOf('guest.left', 'dom3').length === 1, 'guest.left for dom3');
      const from = decisions.length;
      await ticksPass(3);
      assert.ok(decisions.slice(from).every((d) => d.decision.guests.every((g) => g.id !== 'dom3')), 'dom3 is in no later decision');
      assert.equal(await xs.read(domainPath(3)), null, 'no write brought dom3\'s node back');
    });

    test('xenstored restarts under the daemon: it reconnects and carries on without resetting targets', async () => {
      await settled();
      const domids = [1, 2, 4];
      const before = new Map<number, { target: number | null; mode: string | null }>();
      for (const d of domids) before.set(d, { target: await target(xs, d), mode: await mode(xs, d) });
      const dom0Target = await readKiB(xs, targetPath(0));
      const hellos = new Map<number, string | null>();
      const reports = new Map<number, string | null>();
      for (const d of domids) {
        hellos.set(d, await xs.read(helloPath(d)));
        reports.set(d, await xs.read(meminfoPath(d)));
      }
      const names = new Map<number, string | null>();
      for (const d of domids) names.set(d, await xs.read(namePath(d)));
      const eventsBefore = events.length;
      const decisionsBefore = decisions.length;
      const reconnectsBefore = logged('XenStore reconnected').length;

      await xs.close();
      await fx.restart(); // the store comes back empty
      xs = await openXenStore({ socketPath: fx.socketPath, socketOnly: true });
      // The toolstack and the agents put their keys back.
      for (const d of domids) {
        const b = before.get(d)!;
        await seedDomain(xs, d, { name: names.get(d)!, staticMaxKiB: d === 4 ? CONFLICTED.staticMaxKiB + 4 : SEEDS[d]!.staticMaxKiB, targetKiB: b.target! });
      }
      await xs.write(targetPath(0), String(dom0Target));
      for (const d of domids) {
        const h = hellos.get(d);
        const r = reports.get(d);
        if (h != null) await xs.write(helloPath(d), h);
        if (r != null) await xs.write(meminfoPath(d), r);
      }
      await until(() => logged('XenStore reconnected').length > reconnectsBefore, 'the daemon to reconnect');
      assert.ok(logged('XenStore connection lost; reconnecting').length >= 1, 'the loss was logged');
      // The agents said hello again: the supervisor answers with the modes they already had.
      await until(async () => {
        for (const d of domids) if ((await mode(xs, d)) !== before.get(d)!.mode) return false;
        return true;
      }, 'modes rewritten');
      await settled();

      const since = events.slice(eventsBefore);
      assert.deepEqual(
        decisions.slice(decisionsBefore).flatMap((d) => d.writes.filter((w) => w.kind === 'target')),
        [],
        'no target was written: none was due',
      );
      assert.deepEqual(since.filter((i) => i.type === 'guest.appeared' || i.type === 'guest.left'), [], 'no guest was dropped or announced again');
      for (const d of domids) {
        assert.equal(await target(xs, d), before.get(d)!.target, `dom${d}'s target is where it was`);
      }
      assert.equal(await readKiB(xs, targetPath(0)), dom0Target);

      // And it carries on: a new report moves its guest.
      const t1 = (await target(xs, 1))!;
      // Mostly free, so its working room (used + 64 MiB) is below where it is and it shrinks; the
      // free-memory filter (src/policy/smoothing.ts) takes a jump in MemFree only once it lasts,
      // so the agent reports it until it does.
      let n = 0;
      await until(async () => {
        await writeReport(xs, 1, { totalKiB: 640 * MIB, freeKiB: 560 * MIB, committedKiB: (128 + (n++ % 2)) * MIB });
        return (await target(xs, 1))! < t1;
      }, 'dom1 to shrink after its new reports');
    });

    test('the journal recorded here replays offline to the same decisions', async () => {
      await settled();
      await daemon.stop();
      const recorded = JSON.parse(JSON.stringify(decisions)) as DecisionEvent[];
      const finalContext = JSON.parse(JSON.stringify(daemon.actor.getPersistedSnapshot())) as { context: unknown };
      const j = await readJournalFile(journal);
      assert.equal(j.truncatedLine, null);
      for (const type of ['guest.appeared', 'guest.left', 'agent.hello'] as const) {
        assert.equal(j.inputs.filter((i) => i.type === type).length, eventsOf(type).length, `every ${type} is in the journal`);
      }
      const r = replay(j.header, j.inputs);
      assert.ok(recorded.length > 10);
      // The test subscribed once the daemon had started: compare from its first decision on.
      const replayed = r.decisions.filter((d) => d.at >= recorded[0]!.at);
      assert.deepEqual(JSON.parse(JSON.stringify(replayed)), recorded);
      // A stopped actor keeps no children: the supervisor's own state is what can be compared.
      assert.deepEqual((r.finalSnapshot as { context: unknown }).context, finalContext.context, 'and the same final state');
    });
  });
}

