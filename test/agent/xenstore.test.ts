// memcoop-agent's XenStore transport against a real xenstored, both daemons (oxenstored and the
// C xenstored, run with no hypervisor by the fixture). The test plays Dom0 (writes memcoop/mode)
// and rewrites the agent's /proc files. Every fixture client is dom0, so the agent runs with
// --domid and absolute paths.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { helloPath, meminfoPath, modePath, protocolPath } from '../../src/hosts/xen/layout.ts';
import { openXenStore, type XenStore } from '../../src/hosts/xen/xenstore.ts';
import { startXenstored, type XenstoredFixture, type XenstoredKind } from '../../testbed/xenstored-fixture.ts';
import { skipReason } from '../xen/xen-harness.ts';
import { Agent, FAST, ProcFiles, agentUnbuildable, pressureText, until } from './agent-harness.ts';

const DOMID = 7;

function reasonToSkip(kind: XenstoredKind): string | false {
  return agentUnbuildable() || skipReason(kind);
}

/** The report key as a map of its lines (null when the key is absent). */
async function report(xs: XenStore): Promise<Map<string, string> | null> {
  const text = await xs.read(meminfoPath(DOMID));
  if (text === null) return null;
  const m = new Map<string, string>();
  for (const l of text.split('\n')) if (l) m.set(l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2));
  return m;
}

for (const kind of ['oxenstored', 'cxenstored'] as const) {
  describe(`memcoop-agent over XenStore (${kind})`, { skip: reasonToSkip(kind) }, () => {
    let fx: XenstoredFixture;
    let xs: XenStore;
    let files: ProcFiles;
    let agent: Agent;

    before(async () => {
      fx = await startXenstored(kind);
      xs = await openXenStore({ socketPath: fx.socketPath, socketOnly: true });
      files = new ProcFiles({ total: 524288, free: 100000, available: 200000, committed: 300000, swapTotal: 65536, swapFree: 65536 });
      agent = new Agent(['--domid', String(DOMID), '--transport', 'xenstore', ...FAST, ...files.args()], { XENSTORED_PATH: fx.socketPath });
    });
    after(async () => {
      await agent?.stop();
      await xs?.close();
      await fx?.stop();
      files?.cleanup();
    });

    test('hello written and answered; modes followed', { timeout: 20_000 }, async () => {
      await until(async () => (await xs.read(helloPath(DOMID))) === 'protocol=1 selfAdjust=1', 'the hello');
      await xs.write(protocolPath(DOMID), '1');
      await xs.write(modePath(DOMID), 'self');
      await agent.waitLine(/mode self \(Dom0 answered; protocol 1\)/);
      await xs.write(modePath(DOMID), 'global');
      await agent.waitLine(/mode global \(was self\)/);
      await xs.write(modePath(DOMID), 'nonsense');
      await agent.waitLine(/memcoop\/mode holds no known mode/);
      await xs.write(modePath(DOMID), 'reclaim');
      await agent.waitLine(/mode reclaim \(was global\)/);
    });

    test('reports follow the files: a change beyond the threshold, swapping, and the heartbeat', { timeout: 20_000 }, async () => {
      await until(async () => (await report(xs))?.get('MemFree') === '100000 kB', 'the first report');
      const r = (await report(xs))!;
      assert.equal(r.get('MemAvailable'), '200000 kB');
      assert.equal(r.get('Committed_AS'), '300000 kB');
      assert.equal(r.get('pgmajfault'), '100');
      assert.equal(r.get('psi_some_avg10'), '0');
      files.setMem({ total: 524288, free: 50000, available: 150000, committed: 400000, swapTotal: 65536, swapFree: 60000 });
      await until(async () => (await report(xs))?.get('Committed_AS') === '400000 kB', 'a report of the new Committed_AS');
      files.setVm({ pswpin: 12, pswpout: 30, pgmajfault: 140, refaultAnon: 5, refaultFile: 9 });
      files.setRaw('pressure', pressureText('3.25', 7000, '1.00', 2000));
      await until(async () => (await report(xs))?.get('pswpin') === '12', 'a report of new swap-ins');
      const s = (await report(xs))!;
      assert.equal(s.get('workingset_refault_anon'), '5');
      assert.equal(s.get('psi_some_avg10'), '325');
      assert.equal(s.get('psi_full_total'), '2000');
      // The heartbeat: with nothing changing, the report is written again (here every 0.3 s).
      await xs.rm(meminfoPath(DOMID));
      await until(async () => (await report(xs)) !== null, 'the heartbeat report');
    });

    test('a garbled, then truncated meminfo: named once on stderr, no report lacking a field; then good again', { timeout: 20_000 }, async () => {
      files.setRaw('meminfo', 'MemTotal: 524288 kB\nMemFree: ##### kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\nCommitted_AS: 300000 kB\n');
      await agent.waitLine(/could not read: MemFree \(a required field: no report is sent\)/);
      // No report lacking MemFree is written: the key, removed now, stays away...
      await xs.rm(meminfoPath(DOMID));
      files.setRaw('meminfo', 'MemTotal: 524288 kB\nMemFree: 10000 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\nCommitted_AS: 3');
      await agent.waitLine(/could not read: Committed_AS \(a required field/);
      assert.equal(await report(xs), null, 'no report lacking a required field was written');
      // ... and each problem was said once, not once a tick.
      assert.equal(agent.matching(/could not read: MemFree /).length, 1);
      files.setMem({ total: 524288, free: 80000, committed: 320000 });
      await agent.waitLine(/every field readable again/);
      await until(async () => (await report(xs))?.get('MemFree') === '80000 kB', 'a good report again');
      assert.equal((await report(xs))!.has('MemAvailable'), false, 'MemAvailable absent from the file: absent from the report');
    });

    test('the pressure file goes (no PSI): psi fields absent, said once; back: present again', { timeout: 20_000 }, async () => {
      files.remove('pressure');
      await agent.waitLine(/cannot read .*pressure: No such file or directory; its fields are left out/);
      await until(async () => {
        const r = await report(xs);
        return r !== null && ![...r.keys()].some((k) => k.startsWith('psi_'));
      }, 'a report without psi fields');
      files.setRaw('pressure', pressureText('0.10', 8000, '0.00', 2000));
      await until(async () => (await report(xs))?.get('psi_some_avg10') === '10', 'psi fields back');
    });

    test('memcoop/mode removed: the agent says hello again', { timeout: 20_000 }, async () => {
      await xs.rm(helloPath(DOMID));
      await xs.rm(modePath(DOMID));
      await agent.waitLine(/saying hello again: memcoop\/mode was removed/);
      await until(async () => (await xs.read(helloPath(DOMID))) !== null, 'the hello again');
      await xs.write(modePath(DOMID), 'held');
      await agent.waitLine(/mode held \(Dom0 answered; protocol 1\)/);
    });

    test('xenstored restarts (empty): the agent reconnects, says hello and reports again', { timeout: 30_000 }, async () => {
      await xs.close();
      await fx.restart();
      xs = await openXenStore({ socketPath: fx.socketPath, socketOnly: true });
      await agent.waitLine(/reconnected to xenstored/);
      await until(async () => (await xs.read(helloPath(DOMID))) === 'protocol=1 selfAdjust=1', 'the hello on the new xenstored');
      await until(async () => (await report(xs)) !== null, 'a report on the new xenstored');
      await xs.write(modePath(DOMID), 'global');
      await agent.waitLine(/mode global \(Dom0 answered; protocol not given\)/);
    });

    test('without --domid, paths are relative: the daemon puts them under the client\'s own domain (dom0 here)', { timeout: 20_000 }, async () => {
      const rel = new Agent(['--transport', 'xenstore', ...FAST, ...files.args()], { XENSTORED_PATH: fx.socketPath });
      try {
        await until(async () => (await xs.read(helloPath(0))) === 'protocol=1 selfAdjust=1', 'the hello under /local/domain/0');
        await until(async () => (await xs.read('/local/domain/0/data/memcoop/meminfo')) !== null, 'a report under /local/domain/0');
        await xs.write(modePath(0), 'global');
        await rel.waitLine(/mode global \(Dom0 answered; protocol not given\)/);
      } finally {
        assert.equal(await rel.stop(), 0);
      }
    });

    test('SIGTERM: exit 0', async () => {
      assert.equal(await agent.stop(), 0);
      assert.match(agent.lines.at(-1) ?? '', /stopped \(SIGTERM\)/);
    });
  });
}
