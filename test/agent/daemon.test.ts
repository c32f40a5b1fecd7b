// The whole path on Xen with real parts: `memcoop run --host xen` as a process against a real
// xenstored, and three real memcoop-agent processes (one per domain, --domid, their /proc files
// written by the test). Their hellos are answered with modes, their reports reach the
// supervisor (the journal shows them, with the optional fields), and targets come back to
// memory/target for their domains. The test plays only the toolstack (the domains' keys).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modePath, targetPath } from '../../src/hosts/xen/layout.ts';
import { openXenStore, type XenStore } from '../../src/hosts/xen/xenstore.ts';
import { readJournalFile } from '../../src/journal/format.ts';
import type { ReportEntry } from '../../src/vocabulary/events.ts';
import { startXenDaemon, writeXenConfig, type DaemonChild } from '../../testbed/daemon-child.ts';
import { startXenstored, type XenstoredFixture } from '../../testbed/xenstored-fixture.ts';
import { MIB, readKiB, seedDomain, skipReason } from '../xen/xen-harness.ts';
import { AGENT_BIN, AGENT_STATIC_BIN, Agent, FAST, ProcFiles, agentUnbuildable, until } from './agent-harness.ts';

const kind = skipReason('oxenstored') === false ? 'oxenstored' : 'cxenstored';
const skip = agentUnbuildable() || skipReason(kind);

/** Three guests of 512 MiB (static-max 1 GiB), each committing more than it has. */
const GUESTS = [
  { domid: 1, committedKiB: 600 * MIB },
  { domid: 2, committedKiB: 700 * MIB },
  { domid: 3, committedKiB: 800 * MIB },
] as const;

describe(`memcoop run --host xen with three memcoop-agents (${kind})`, { skip }, () => {
  let fx: XenstoredFixture;
  let xs: XenStore;
  let dir: string;
  let daemon: DaemonChild | null = null;
  const agents: Agent[] = [];
  const files: ProcFiles[] = [];

  before(async () => {
    fx = await startXenstored(kind);
    xs = await openXenStore({ socketPath: fx.socketPath, socketOnly: true });
    dir = mkdtempSync(join(tmpdir(), 'memcoop-agent-run-'));
  });
  after(async () => {
    for (const a of agents) await a.stop();
    await daemon?.stop();
    await xs?.close();
    await fx?.stop();
    for (const f of files) f.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test('hellos answered, reports reach the supervisor, targets come back', { timeout: 45_000 }, async () => {
    for (const g of GUESTS) await seedDomain(xs, g.domid, { name: `vm${g.domid}`, staticMaxKiB: 1024 * MIB, targetKiB: 512 * MIB });
    const cfg = writeXenConfig(dir, {
      hostTotalKiB: 4194304,
    });
    const journal = join(dir, 'journal.jsonl');
    const d = startXenDaemon(['--config', cfg, '--socket', fx.socketPath, '--journal', journal]);
    daemon = d;
    await d.waitFor('memcoop supervisor started', 'the daemon to start');

    for (const g of GUESTS) {
      // 100 MiB free, which the files keep whatever the balloon does: the working room (used +
      // 64 MiB, src/policy/pressure.ts) then stays below the commit, and targets follow Committed_AS.
      const f = new ProcFiles({ total: 500 * MIB, free: 100 * MIB, available: 140 * MIB, committed: g.committedKiB, swapTotal: 256 * MIB, swapFree: 250 * MIB });
      files.push(f);
      // The last guest runs the static build, as a small guest would.
      const bin = g.domid === 3 ? AGENT_STATIC_BIN : AGENT_BIN;
      agents.push(new Agent(['--domid', String(g.domid), '--transport', 'xenstore', ...FAST, ...f.args()], { XENSTORED_PATH: fx.socketPath }, bin));
    }

    // The handshake: every agent is answered (self adjustment: they asked for it, memory is plentiful).
    for (const [i, g] of GUESTS.entries()) {
      await until(async () => (await xs.read(modePath(g.domid))) === 'self', `dom${g.domid}'s mode`);
      await agents[i]!.waitLine(/mode self \(Dom0 answered; protocol 1\)/);
    }
    // Targets come back: each guest is given its Committed_AS.
    for (const g of GUESTS) {
      await until(async () => (await readKiB(xs, targetPath(g.domid))) === g.committedKiB, `dom${g.domid}'s target ${g.committedKiB} KiB (daemon log: ${JSON.stringify(d.lines.slice(-20))})`);
    }
    // A guest's load changes: its agent reports it and the target follows.
    files[0]!.setMem({ total: 500 * MIB, free: 100 * MIB, available: 140 * MIB, committed: 650 * MIB, swapTotal: 256 * MIB, swapFree: 250 * MIB });
    await until(async () => (await readKiB(xs, targetPath(1))) === 650 * MIB, 'dom1 target after its Committed_AS rose');

    d.child.kill('SIGTERM'); // our own child, by its pid
    assert.equal(await d.exited, 0, d.stderr());
    const j = await readJournalFile(journal);
    const entries = j.inputs.flatMap((i) => (i.type === 'agent.reports' ? i.reports : [])) as ReportEntry[];
    for (const g of GUESTS) {
      assert.ok(j.inputs.some((i) => i.type === 'agent.hello' && i.id === `dom${g.domid}` && i.selfAdjust), `dom${g.domid}'s hello journaled`);
      const mine = entries.filter((e) => e.id === `dom${g.domid}`);
      assert.ok(mine.length > 0, `dom${g.domid}'s reports reached the supervisor`);
      // The optional fields travel to the supervisor's input (and its journal); absent ones stay absent.
      const last = mine.at(-1)!;
      assert.equal(last.availableKiB, 140 * MIB);
      assert.equal(last.pgmajfault, 100);
      assert.equal(last.psiSomeAvg10, 0);
      assert.equal('refaultAnon' in last, false, 'no workingset_refault_anon in the file: absent');
    }
  });
});
