// Record and replay: a run of the real supervisor (paper's policy, recording effects, the test
// playing an ideal-balloon host) is journaled through createRecorder + JournalWriter; replaying
// the file gives the same decisions and the same final persisted snapshot. Also `memcoop replay`
// as a real process.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createActor } from 'xstate';
import { readJournalFile } from '../../src/journal/format.ts';
import { JournalWriter } from '../../src/journal/writer.ts';
import { createRecorder } from '../../src/journal/recorder.ts';
import { replay } from '../../src/journal/replay.ts';
import { parseSupervisorConfig } from '../../src/vocabulary/config.ts';
import type { ReportEntry, SupervisorInput } from '../../src/vocabulary/events.ts';
import { createSupervisorMachine } from '../../src/machines/supervisor.ts';
import { DOM0_ID, type DecisionEvent, type SelfStepEvent, type Write } from '../../src/vocabulary/writes.ts';
import type { PolicyName } from '../../src/policy/registry.ts';

const MIB = 1024;
const TICK_MS = 1000;
const HOST_KIB = 2560 * MIB;
const ROOT = join(import.meta.dirname, '../..');

interface Recorded {
  file: string;
  decisions: DecisionEvent[];
  selfSteps: SelfStepEvent[];
  /** Decisions and self steps in the order they were emitted. */
  steps: (DecisionEvent | SelfStepEvent)[];
  /** Effects issued while handling each input, keyed by the input's `at`. */
  tickEffects: Map<number, Write[]>;
  snapshot: unknown;
  inputs: number;
}

/** A scripted three-to-four-guest run with a host the test plays (targets land by the next sample). */
function recordRun(file: string, policy: PolicyName = 'memcoop'): Recorded {
  const config = parseSupervisorConfig({ policy, silenceTicks: 4, stuckTicks: 3, dom0: { minKiB: 256 * MIB, maxKiB: 2048 * MIB } });
  const tickEffects = new Map<number, Write[]>();
  let now = 1_700_000_000_000; // an arbitrary epoch: the shell's clock, only ever seen as `at`
  const pending: { id: string; targetKiB: number }[] = [];
  const machine = createSupervisorMachine().provide({
    actions: {
      writeTarget: (_, p) => {
        pending.push(p);
        const list = tickEffects.get(now) ?? [];
        list.push({ kind: 'target', ...p, fromKiB: -1 });
        tickEffects.set(now, list);
      },
      writeMode: (_, p) => {
        const list = tickEffects.get(now) ?? [];
        list.push({ kind: 'mode', ...p });
        tickEffects.set(now, list);
      },
    },
  });
  const actor = createActor(machine, { input: config }); // the default clock: the machine never reads it
  const decisions: DecisionEvent[] = [];
  const selfSteps: SelfStepEvent[] = [];
  const steps: (DecisionEvent | SelfStepEvent)[] = [];
  actor.on('decision', (e) => void (decisions.push(e), steps.push(e)));
  actor.on('selfStep', (e) => void (selfSteps.push(e), steps.push(e)));
  actor.start();
  const writer = JournalWriter.open(file, { startedAt: now, config });
  const rec = createRecorder(actor, writer);
  const send = (e: Omit<SupervisorInput, 'at'>, dt = 1) => {
    now += dt;
    rec.send({ ...e, at: now } as SupervisorInput);
  };

  const alloc: Record<string, number> = {};
  let dom0 = 512 * MIB;
  const appear = (id: string, domid: number, kib: number) => {
    alloc[id] = kib;
    send({ type: 'guest.appeared', id, domid, minKiB: 128 * MIB, maxKiB: 1536 * MIB, currentKiB: kib, shares: 1 } as never);
  };
  appear('web', 1, 512 * MIB);
  appear('db', 2, 768 * MIB);
  appear('batch', 3, 384 * MIB);
  send({ type: 'agent.hello', id: 'web', protocol: 1, selfAdjust: true } as never);
  send({ type: 'agent.hello', id: 'db', protocol: 1, selfAdjust: false } as never);
  send({ type: 'agent.hello', id: 'batch', protocol: 3, selfAdjust: true } as never); // refused

  for (let t = 0; t < 40; t++) {
    // Working sets: web grows then shrinks, db steady, a Dom0 burst in the middle.
    const web = (t < 20 ? 400 + 40 * t : 1200 - 40 * (t - 20)) * MIB;
    const dom0Commit = (t >= 15 && t < 22 ? 1200 : 600) * MIB;
    if (t === 10) send({ type: 'agent.reports', reports: [{ id: 'nobody', committedKiB: 1, freeKiB: 1, swapTotalKiB: 0, swapFreeKiB: 0 }] } as never);
    if (t === 12) appear('late', 4, 256 * MIB);
    if (t === 13) send({ type: 'agent.hello', id: 'late', protocol: 1, selfAdjust: true } as never);
    if (t === 30) {
      send({ type: 'guest.left', id: 'db' } as never);
      delete alloc['db'];
    }
    // This tick's reports: one batch, except every fifth tick, when late's comes on its own. web
    // keeps 200 MiB free, so its working room (used + 64 MiB) stays below its growing commit and
    // each report lifts it at once (a prompt self step) above the target the last tick wrote.
    const batch: ReportEntry[] = [{ id: 'web', committedKiB: web, freeKiB: 200 * MIB, swapTotalKiB: 512 * MIB, swapFreeKiB: (t % 7) * 64 * MIB }];
    if (alloc['db'] !== undefined && t % 9 !== 8) batch.push({ id: 'db', committedKiB: 700 * MIB, freeKiB: 100 * MIB, swapTotalKiB: 0, swapFreeKiB: 0 });
    const late: ReportEntry = { id: 'late', committedKiB: 500 * MIB, freeKiB: 10 * MIB, swapTotalKiB: 0, swapFreeKiB: 0 };
    if (t >= 13 && t % 5 !== 0) batch.push(late);
    send({ type: 'agent.reports', reports: batch } as never);
    if (t >= 13 && t % 5 === 0) send({ type: 'agent.reports', reports: [late] } as never);
    // The host: last tick's targets have landed, except one write that failed.
    for (const w of pending.splice(0)) {
      if (t === 25 && w.id === 'web') {
        send({ type: 'effect.failed', id: 'web', effect: 'setTarget', error: 'EAGAIN (test host)' } as never);
        continue;
      }
      if (w.id === DOM0_ID) dom0 = w.targetKiB;
      else if (alloc[w.id] !== undefined) alloc[w.id] = w.targetKiB;
    }
    const used = dom0 + Object.values(alloc).reduce((s, x) => s + x, 0);
    send({ type: 'host.sample', freeKiB: Math.max(0, HOST_KIB - used), dom0: { currentKiB: dom0, committedKiB: dom0Commit }, allocations: { ...alloc } } as never);
    now = (Math.floor(now / TICK_MS) + 1) * TICK_MS;
    send({ type: 'tick' } as never, 0);
  }
  writer.close();
  const snapshot = JSON.parse(JSON.stringify(actor.getPersistedSnapshot())) as unknown;
  actor.stop();
  return { file, decisions, selfSteps, steps, tickEffects, snapshot, inputs: writer.appended };
}

describe('journal record and replay', () => {
  let dir: string;
  let rec: Recorded;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'memcoop-replay-'));
    rec = recordRun(join(dir, 'run.jsonl'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the recorded run is not trivial', () => {
    assert.equal(rec.decisions.length, 40);
    const states = new Set(rec.decisions.map((d) => d.decision.state));
    assert.ok(states.has('abundant') && states.has('scarce'), `both states seen: ${[...states]}`);
    assert.ok(rec.decisions.some((d) => d.decision.dom0.reclaimKiB > 0), 'a Dom0 reclaim happens');
    assert.ok(rec.decisions.filter((d) => d.writes.some((w) => w.kind === 'target')).length > 20, 'targets move');
    assert.ok(rec.selfSteps.length >= 3, `reports moved self-adjusting guests between ticks (${rec.selfSteps.length} self steps)`);
  });

  test('what each tick and each self step emitted is what it issued, and nothing was issued unannounced', () => {
    const announced = new Set<number>();
    for (const d of rec.steps) {
      const issued = (rec.tickEffects.get(d.at) ?? []).map((w) => (w.kind === 'target' ? { ...w, fromKiB: 0 } : w));
      assert.deepEqual(issued, d.writes.map((w) => (w.kind === 'target' ? { ...w, fromKiB: 0 } : w)), `${d.type} at ${d.at}`);
      announced.add(d.at);
    }
    for (const [at, writes] of rec.tickEffects) {
      if (announced.has(at)) continue;
      // Outside ticks and self steps only the handshake writes, and only modes.
      assert.ok(writes.every((w) => w.kind === 'mode'), `unannounced target writes at ${at}: ${JSON.stringify(writes)}`);
    }
  });

  test('self steps only while the last decision was abundant, and decreases first', () => {
    for (const st of rec.selfSteps) {
      const before = rec.decisions.filter((d) => d.at < st.at).at(-1);
      assert.ok(before, 'a self step follows a decision');
      assert.equal(before.decision.state, 'abundant', `self step at ${st.at}`);
      assert.equal(before.decision.dom0.reclaimKiB, 0);
      const dirs = st.writes.map((w) => (w.kind === 'target' ? Math.sign(w.targetKiB - w.fromKiB) : 0));
      const firstUp = dirs.indexOf(1);
      if (firstUp >= 0) assert.ok(dirs.lastIndexOf(-1) < firstUp, `decreases first at ${st.at}`);
    }
  });

  test('replaying the file gives the same decisions and the same final snapshot', async () => {
    const journal = await readJournalFile(rec.file);
    assert.equal(journal.inputs.length, rec.inputs);
    const out = replay(journal.header, journal.inputs);
    assert.deepEqual(out.decisions, rec.decisions);
    assert.deepEqual(out.selfSteps, rec.selfSteps);
    assert.deepEqual(out.steps, rec.steps);
    assert.deepEqual(out.finalSnapshot, rec.snapshot);
  });

  test("a peer's run replays with that peer: the header names it", async () => {
    const peer = recordRun(join(dir, 'static.jsonl'), 'static');
    const journal = await readJournalFile(peer.file);
    assert.equal((journal.header.config as { policy: string }).policy, 'static');
    const out = replay(journal.header, journal.inputs);
    assert.deepEqual(out.decisions, peer.decisions);
    assert.deepEqual(out.finalSnapshot, peer.snapshot);
    assert.deepEqual(peer.selfSteps, [], 'no prompt self steps under a peer policy');
    assert.notDeepEqual(peer.decisions, rec.decisions, 'static decides otherwise than memcoop');
    assert.throws(() => replay({ config: { policy: 'greedy' } }, []), /header\.config\.policy: expected one of memcoop, paper, static, selfballoon, qmemman, squeezed, mom/);
  });

  test('a paced peer (state from tick to tick) replays to the same decisions, and so does the paper policy', async () => {
    for (const policy of ['selfballoon', 'mom', 'qmemman', 'squeezed', 'paper'] as const) {
      const run = recordRun(join(dir, `${policy}.jsonl`), policy);
      const journal = await readJournalFile(run.file);
      const out = replay(journal.header, journal.inputs);
      assert.deepEqual(out.decisions, run.decisions, policy);
      assert.deepEqual(run.selfSteps, [], `${policy}: no prompt self steps`);
    }
  });

  test('a journal changed by one report replays to different decisions', async () => {
    const journal = await readJournalFile(rec.file);
    const i = journal.inputs.findIndex((e) => e.type === 'agent.reports' && e.reports[0]!.id === 'web' && e.at > journal.inputs[0]!.at + 20 * TICK_MS);
    assert.ok(i > 0);
    const changed = journal.inputs.map((e, k) =>
      k === i && e.type === 'agent.reports'
        ? { ...e, reports: e.reports.map((r) => (r.id === 'web' ? { ...r, committedKiB: r.committedKiB + 300 * MIB, freeKiB: r.freeKiB + 200 * MIB } : r)) }
        : e,
    );
    const out = replay(journal.header, changed);
    assert.notDeepEqual(out.decisions, rec.decisions);
  });

  test('memcoop replay prints a line per decision, or the decisions as JSON', () => {
    const bin = join(ROOT, 'bin/memcoop.mjs');
    const text = spawnSync(process.execPath, [bin, 'replay', rec.file], { encoding: 'utf8', cwd: ROOT });
    assert.equal(text.status, 0, text.stderr);
    const lines = text.stdout.trimEnd().split('\n');
    assert.equal(lines.length, rec.decisions.length);
    assert.match(lines[0]!, /^t=\d+ {2}(abundant|scarce)/);
    assert.ok(lines.some((l) => l.includes('web=') && l.includes('dom0=')));
    const all = spawnSync(process.execPath, [bin, 'replay', rec.file, '--self-steps'], { encoding: 'utf8', cwd: ROOT });
    assert.equal(all.status, 0, all.stderr);
    const allLines = all.stdout.trimEnd().split('\n');
    assert.equal(allLines.length, rec.steps.length);
    assert.deepEqual(allLines.filter((l) => !/ {2}self-step {2}/.test(l)), lines, 'the decisions, with the self steps in between');
    assert.match(allLines.find((l) => / {2}self-step {2}/.test(l))!, /^t=\d+ {2}self-step {2}\w+=\d+.* {2}budget=\d+$/);
    const json = spawnSync(process.execPath, [bin, 'replay', rec.file, '--json'], { encoding: 'utf8', cwd: ROOT });
    assert.equal(json.status, 0, json.stderr);
    const parsed = json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as DecisionEvent);
    assert.deepEqual(parsed, rec.decisions);
    const jsonAll = spawnSync(process.execPath, [bin, 'replay', rec.file, '--json', '--self-steps'], { encoding: 'utf8', cwd: ROOT });
    assert.deepEqual(jsonAll.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as DecisionEvent | SelfStepEvent), rec.steps);
  });

  test('memcoop replay refuses a bad journal with its own error, exit 2', () => {
    const bin = join(ROOT, 'bin/memcoop.mjs');
    const lines = readFileSync(rec.file, 'utf8').split('\n');
    lines[5] = lines[5]!.replace('"at":', '"at":"soon","was":');
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, lines.join('\n'));
    const r = spawnSync(process.execPath, [bin, 'replay', bad], { encoding: 'utf8', cwd: ROOT });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /bad\.jsonl line 6/);
    assert.equal(r.stdout, '');
    const missing = spawnSync(process.execPath, [bin, 'replay', join(dir, 'nope.jsonl')], { encoding: 'utf8', cwd: ROOT });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /cannot read/);
    const usage = spawnSync(process.execPath, [bin, 'replay'], { encoding: 'utf8', cwd: ROOT });
    assert.equal(usage.status, 2);
  });
});
