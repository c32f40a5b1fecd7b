// The simulator runner (src/sim/runner.ts) and its clock: the VirtualClock's ordering, a run
// being a pure function of (scenario, seed) down to the journal's bytes, the journal replaying to
// the run's decisions (as a function and through `memcoop replay`), and scenario validation of
// expect.policies.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { interval, take, throttleTime, Subject } from 'rxjs';
import { readJournalFile } from '../../src/journal/format.ts';
import { replay } from '../../src/journal/replay.ts';
import { formatDecision } from '../../src/cli/replay.ts';
import { loadScenario, parseScenario, type Scenario } from '../../src/sim/scenario.ts';
import { InputError } from '../../src/util/validate.ts';
import { runScenario, totalRuntimeS } from '../../src/sim/runner.ts';
import { reseed } from '../../src/sim/seed.ts';
import { VirtualClock } from '../../src/sim/virtual-clock.ts';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/memcoop.mjs');

describe('VirtualClock', () => {
  test('runs actions in (due, scheduling order), only when advanced, and stamps now() with their due time', () => {
    const c = new VirtualClock();
    const seen: string[] = [];
    c.schedule(() => seen.push(`b@${c.now()}`), 20);
    c.schedule(() => seen.push(`a@${c.now()}`), 10);
    c.schedule(() => seen.push(`c@${c.now()}`), 20);
    assert.deepEqual(seen, []);
    c.advanceTo(20); // strictly before 20
    assert.deepEqual(seen, ['a@10']);
    assert.equal(c.now(), 20);
    c.runDue();
    assert.deepEqual(seen, ['a@10', 'b@20', 'c@20']);
    assert.throws(() => c.advanceTo(19), RangeError);
  });

  test('an interval reschedules itself without drift, and unsubscribing cancels it', () => {
    const c = new VirtualClock();
    const at: number[] = [];
    const sub = interval(1000, c).subscribe(() => at.push(c.now()));
    c.advanceTo(3000);
    c.runDue();
    assert.deepEqual(at, [1000, 2000, 3000]);
    sub.unsubscribe();
    c.advanceTo(10_000);
    c.runDue();
    assert.deepEqual(at, [1000, 2000, 3000]);
    assert.equal(c.pending, 0);
  });

  test("drives rxjs's throttleTime: a burst yields its first value at once and its last at the window's end", () => {
    const c = new VirtualClock();
    const src = new Subject<number>();
    const out: [number, number][] = [];
    src.pipe(throttleTime(250, c, { leading: true, trailing: true }), take(3)).subscribe((v) => out.push([c.now(), v]));
    src.next(1);
    src.next(2);
    src.next(3);
    c.advanceTo(251);
    assert.deepEqual(out, [[0, 1], [250, 3]]);
  });
});

/** A short scenario of the shipped kind: mono next to random, trading memory. */
const SMALL = `
name: small
durationS: 400
host: { totalMiB: 960, dom0: { initialMiB: 256, minMiB: 256, maxMiB: 512, committedMiB: 200 } }
guests:
  - { id: vm1, initialMiB: 256, minMiB: 128, maxMiB: 512, workload: { kind: mono, lowMiB: 40, highMiB: 300, stepMiB: 20, passes: 3 } }
  - { id: vm2, initialMiB: 256, minMiB: 128, maxMiB: 512, workload: { kind: random, lowMiB: 40, highMiB: 300, phases: 20, touchesPerPhase: 65536, cpuMsPerPhase: 1000, seed: 7 } }
  - { id: late, initialMiB: 128, minMiB: 128, maxMiB: 512, startS: 5, leaveS: 25, workload: { kind: idle } }
`;

describe('runner', () => {
  let dir: string;
  let small: Scenario;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'memcoop-sim-runner-'));
    small = parseScenario(SMALL, 'small.yaml');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the same scenario and seed give the same outcomes, trace and journal, byte for byte; another seed another run', async () => {
    const a = await runScenario(small, { seed: 3, journalPath: join(dir, 'a.jsonl') });
    const b = await runScenario(small, { seed: 3, journalPath: join(dir, 'b.jsonl') });
    const c = await runScenario(small, { seed: 4, journalPath: join(dir, 'c.jsonl') });
    assert.ok(a.ticks > 10 && a.completed);
    assert.deepEqual(a.outcomes, b.outcomes);
    assert.deepEqual(a.trace, b.trace);
    const ja = readFileSync(join(dir, 'a.jsonl'), 'utf8');
    assert.equal(ja, readFileSync(join(dir, 'b.jsonl'), 'utf8'));
    assert.notEqual(ja, readFileSync(join(dir, 'c.jsonl'), 'utf8'), 'the seed reaches the random workload');
    assert.equal(a.journaledInputs, ja.trimEnd().split('\n').length - 1);
  });

  test('reseed changes every seeded source and nothing else', () => {
    const s = reseed(small, 9);
    const w = s.sim.guests[1]!.workload;
    assert.ok(w.kind === 'random' && w.seed !== 7);
    assert.deepEqual(s.sim.guests[0], small.sim.guests[0]); // mono has no randomness
    assert.equal(reseed(small, undefined), small);
  });

  test('every input the supervisor saw is in the journal: ticks, samples, reports, the guest that came and left', async () => {
    const file = join(dir, 'kinds.jsonl');
    const r = await runScenario(small, { journalPath: file });
    const j = await readJournalFile(file);
    const count = (type: string, id?: string) => j.inputs.filter((e) => e.type === type && (id === undefined || ('id' in e && e.id === id))).length;
    assert.equal(count('tick'), r.ticks);
    assert.ok(count('host.sample') >= r.ticks);
    assert.ok(count('agent.report', 'vm1') > 0 || count('agent.reports') > 0);
    assert.equal(count('guest.appeared', 'late'), 1);
    assert.equal(count('guest.left', 'late'), 1);
    const ats = j.inputs.map((e) => e.at);
    assert.ok(ats.every((t, i) => i === 0 || t >= ats[i - 1]!), 'at never decreases');
  });

  test("a run's journal replays to the run's decisions: memcoop's, a peer's, and an unsafe scenario's", async () => {
    for (const [scenario, policy] of [[small, 'memcoop'], [small, 'qmemman'], [loadScenario('unsafe-no-two-phase'), 'memcoop']] as const) {
      const file = join(dir, `replay-${scenario.name}-${policy}.jsonl`);
      const r = await runScenario(scenario, { policy, journalPath: file, keepDecisions: true, trace: false });
      const j = await readJournalFile(file);
      // Nothing but the journal: its header names the policy and any safety switch turned off.
      const rp = replay(j.header, j.inputs);
      assert.ok(r.decisions.length > 10);
      assert.equal(rp.decisions.length, r.decisions.length);
      assert.deepEqual(rp.decisions, r.decisions, `${scenario.name} / ${policy}`);
    }
  });

  test('`memcoop replay` of a sim journal prints the run\'s decisions', async () => {
    const file = join(dir, 'cli.jsonl');
    const r = await runScenario(small, { journalPath: file, keepDecisions: true, trace: false });
    const p = spawnSync(process.execPath, [BIN, 'replay', file], { encoding: 'utf8', cwd: ROOT });
    assert.equal(p.status, 0, p.stderr);
    assert.deepEqual(p.stdout.trimEnd().split('\n'), r.decisions.map(formatDecision));
    const q = spawnSync(process.execPath, [BIN, 'replay', join(dir, 'replay-small-qmemman.jsonl'), '--policy', 'qmemman', '--json'], { encoding: 'utf8', cwd: ROOT });
    assert.equal(q.status, 0, q.stderr);
    assert.ok(q.stdout.trimEnd().split('\n').every((l) => (JSON.parse(l) as { decision: { guests: { mode: string }[] } }).decision.guests.length > 0));
  });

  test('the supervisor really drives the host: targets the policy wrote land, and a guest trades memory', async () => {
    const r = await runScenario(small);
    const vm1 = r.trace.map((t) => t.guests.find((g) => g.id === 'vm1')!);
    assert.ok(vm1.some((g) => g.machine === 'selfAdjusting' || g.machine === 'globallyControlled'));
    assert.ok(vm1.some((g) => g.mode === 'self' || g.mode === 'global'), 'the handshake wrote a mode to the simulated agent');
    assert.ok(vm1.some((g) => g.targetKiB !== null && g.targetKiB !== 256 * 1024));
    const allocs = vm1.map((g) => g.actualKiB);
    assert.ok(Math.max(...allocs) - Math.min(...allocs) > 32 * 1024);
    assert.notEqual(totalRuntimeS(r.outcomes), null);
  });

  test('stopWhenViolated ends a must-fail run at the first tick that shows every rule', async () => {
    const s = loadScenario('unsafe-no-two-phase');
    const r = await runScenario(s, { stopWhenViolated: s.expectViolations, trace: false });
    assert.ok(r.violations.some((v) => v.rule === 'two-phase'));
    assert.equal(r.violations.at(-1)!.at, r.endMs);
    assert.ok(!r.completed);
  });
});

test('scenario expect.policies: only peer policy names, named by path when wrong', () => {
  const base = SMALL.replace('name: small', 'name: s');
  assert.deepEqual(parseScenario(base + 'expect: { policies: [qmemman, mom] }\n', 's.yaml').expectPolicies, ['qmemman', 'mom']);
  assert.throws(() => parseScenario(base + 'expect: { policies: [nosuch] }\n', 's.yaml'), (e: unknown) => e instanceof InputError && /s\.yaml\.expect\.policies\[0\]/.test(e.message));
});
