// `memcoop sim` as a real process (the runner behind it is tested in sim-runner.test.ts), and
// the pure pieces it prints and draws: the live table and the SVG plot.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { readJournalFile } from '../../src/journal/format.ts';
import { LiveTable, plainLine, tableLines } from '../../src/sim/live-table.ts';
import { niceStep, panelsFromTrace, renderPlot } from '../../src/sim/plot.ts';
import type { TickRecord } from '../../src/sim/runner.ts';
import { POLICY_NAMES } from '../../src/policy/registry.ts';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/memcoop.mjs');

const SMALL = `
name: small
description: two guests trading memory (test)
durationS: 600
host: { totalMiB: 832, dom0: { initialMiB: 256, minMiB: 256, maxMiB: 512, committedMiB: 200 } }
guests:
  - { id: vm1, initialMiB: 256, minMiB: 128, maxMiB: 512, workload: { kind: mono, lowMiB: 40, highMiB: 300, stepMiB: 40, passes: 2 } }
  - { id: vm2, initialMiB: 256, minMiB: 128, maxMiB: 512, workload: { kind: random, lowMiB: 40, highMiB: 300, phases: 12, touchesPerPhase: 65536, cpuMsPerPhase: 500, seed: 7 } }
`;

function sim(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, 'sim', ...args], { encoding: 'utf8', cwd: ROOT });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const lastJson = (out: string): any => JSON.parse(out.trimEnd().split('\n').at(-1)!);

describe('memcoop sim (process)', () => {
  let dir: string;
  let scenario: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'memcoop-sim-cli-'));
    scenario = join(dir, 'small.yaml');
    writeFileSync(scenario, SMALL);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('--help describes the options and lists the scenarios', () => {
    const r = sim(['--help']);
    assert.equal(r.code, 0);
    for (const o of ['--policy', '--compare', '--json', '--out', '--speed', '--fast', '--seed', 'paper-4vm']) assert.ok(r.out.includes(o), o);
  });

  test('bad usage and bad scenarios exit 2 with the reason', () => {
    const cases: [string[], RegExp][] = [
      [['--policy', 'nosuch'], /unknown policy "nosuch"/],
      [['--speed', '0'], /--speed must be a number > 0/],
      [['--seed', '-1'], /--seed/],
      [['--bogus'], /Unknown option/i],
      [['--compare', '--policy', 'mom'], /--compare runs every policy/],
      [['no-such-scenario'], /no scenario "no-such-scenario"/],
    ];
    for (const [args, re] of cases) {
      const r = sim([...args, '--out', dir]);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, re);
    }
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, SMALL.replace('name: small', 'name: bad').replace('maxMiB: 512, workload: { kind: mono', 'maxMiB: 64, workload: { kind: mono'));
    const r = sim([bad, '--out', dir]);
    assert.equal(r.code, 2);
    assert.match(r.err, /bad\.yaml\.guests\[0\]\.maxMiB/);
    // --out naming a file: one line, no stack.
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const f = sim(['--out', file]);
    assert.equal(f.code, 2);
    assert.match(f.err, /--out .*a-file is not a folder memcoop can use/);
    assert.doesNotMatch(f.err, /\n\s+at /);
  });

  test('one policy: plain progress lines (no terminal), runtimes next to static, journal + plot + log written, JSON last line', () => {
    const out = join(dir, 'one');
    const r = sim([scenario, '--out', out, '--json', '--seed', '5']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^t=1s (abundant|scarce) dom0 256 /m);
    assert.match(r.out, /memcoop next to the static allocation/);
    assert.match(r.out, /invariants: held on all \d+ ticks/);
    const j = lastJson(r.out);
    assert.equal(j.scenario, 'small');
    assert.deepEqual(j.policies.map((p: { policy: string }) => p.policy), ['memcoop', 'static']);
    assert.equal(j.policies[1].ratioToStatic, 1);
    for (const p of j.policies) assert.deepEqual(p.guests.map((g: { id: string }) => g.id), ['vm1', 'vm2']);
    for (const f of ['small-memcoop.journal.jsonl', 'small-memcoop.svg', 'small-memcoop.log', 'small-static.journal.jsonl']) {
      assert.ok(existsSync(join(out, f)), f);
    }
    assert.equal(j.files.plot, join(out, 'small-memcoop.svg'));
    const svg = readFileSync(join(out, 'small-memcoop.svg'), 'utf8');
    assert.match(svg, /^<\?xml[^]*<svg [^]*<\/svg>\s*$/);
    assert.ok(!/<script|href=|@import|url\(/.test(svg), 'self-contained: nothing to fetch, nothing to run');
    // The journal it names replays through `memcoop replay` to as many decisions as there were ticks.
    const replayed = spawnSync(process.execPath, [BIN, 'replay', join(out, 'small-memcoop.journal.jsonl')], { encoding: 'utf8', cwd: ROOT });
    assert.equal(replayed.status, 0, replayed.stderr);
    const ticks = Number(/held on all (\d+) ticks/.exec(r.out)![1]);
    assert.equal(replayed.stdout.trimEnd().split('\n').length, ticks);
  });

  test('the same seed writes the same journal', async () => {
    const a = sim([scenario, '--out', join(dir, 'sa'), '--seed', '11', '--policy', 'squeezed']);
    const b = sim([scenario, '--out', join(dir, 'sb'), '--seed', '11', '--policy', 'squeezed']);
    assert.equal(a.code, 0, a.err);
    assert.equal(b.code, 0, b.err);
    const ja = await readJournalFile(join(dir, 'sa', 'small-squeezed.journal.jsonl'));
    const jb = await readJournalFile(join(dir, 'sb', 'small-squeezed.journal.jsonl'));
    assert.deepEqual(ja, jb);
  });

  test('--compare --json: every policy, runtimes per guest, ratios to static, one JSON object last', () => {
    const r = sim([scenario, '--compare', '--json', '--out', join(dir, 'cmp')]);
    assert.equal(r.code, 0, r.err);
    const j = lastJson(r.out);
    assert.deepEqual(Object.keys(j), ['scenario', 'policies']);
    assert.deepEqual(j.policies.map((p: { policy: string }) => p.policy).sort(), [...POLICY_NAMES].sort());
    for (const p of j.policies) {
      assert.deepEqual(Object.keys(p), ['policy', 'totalRuntimeS', 'ratioToStatic', 'guests']);
      const sum = p.guests.reduce((a: number, g: { runtimeS: number }) => a + g.runtimeS, 0);
      assert.ok(Math.abs(sum - p.totalRuntimeS) < 0.01);
    }
    const st = j.policies.find((p: { policy: string }) => p.policy === 'static');
    assert.equal(st.ratioToStatic, 1);
    const mc = j.policies.find((p: { policy: string }) => p.policy === 'memcoop');
    assert.ok(Math.abs(mc.ratioToStatic - mc.totalRuntimeS / st.totalRuntimeS) < 0.001);
    assert.match(r.out, /small: workload runtimes/);
    for (const p of POLICY_NAMES) assert.ok(existsSync(join(dir, 'cmp', `small-${p}.journal.jsonl`)), p);
  });
});

const rec = (at: number, alloc: number): TickRecord => ({
  at,
  state: 'scarce',
  hostFreeKiB: 51_200,
  dom0: { actualKiB: 262_144, targetKiB: null, committedKiB: 204_800 },
  guests: [
    { id: 'vm1', machine: 'globallyControlled', mode: 'global', actualKiB: alloc, targetKiB: alloc + 4096, goalKiB: alloc + 8192, committedKiB: 300 * 1024, workingSetKiB: 200 * 1024, phase: 'mono 200 MiB', done: false },
    { id: 'vm2', machine: 'selfAdjusting', mode: 'self', actualKiB: 128 * 1024, targetKiB: null, goalKiB: null, committedKiB: 100 * 1024, workingSetKiB: 0, phase: null, done: true },
  ],
});

describe('live table', () => {
  test('rows show state, mode, allocation, committed and goal in MiB', () => {
    const lines = tableLines(rec(5000, 256 * 1024));
    assert.match(lines[0]!, /guest\s+state\s+mode\s+alloc\s+committed\s+goal/);
    assert.match(lines[1]!, /^vm1\s+globallyControlled\s+global\s+256\s+300\s+264\s+260\s+200\s+mono 200 MiB$/);
    assert.match(lines[2]!, /^vm2\s+selfAdjusting\s+self\s+128\s+100\s+-\s+-\s+-\s+done$/);
    assert.match(plainLine(rec(60_000, 256 * 1024)), /^t=60s scarce dom0 256 {2}vm1 global 256\/300\/264 {2}vm2 done 128\/100\/-/);
  });

  test('on a terminal it redraws in place; elsewhere it prints a line a virtual minute', () => {
    const tty: string[] = [];
    let wall = 0;
    const t = new LiveTable({ scenario: 's', policy: 'memcoop', tty: true, write: (s) => tty.push(s), nowMs: () => wall });
    t.update(rec(1000, 200 * 1024));
    wall += 50;
    t.update(rec(2000, 201 * 1024)); // too soon: skipped
    wall += 100;
    t.update(rec(3000, 202 * 1024));
    assert.equal(tty.length, 2);
    assert.ok(!/^\x1b\[\d+F/.test(tty[0]!), 'nothing to move over the first time');
    assert.ok(tty[1]!.startsWith('\x1b[4F'), 'moves up over the 4 lines drawn before');
    assert.match(tty[1]!, /t=3 s/);
    const plain: string[] = [];
    const p = new LiveTable({ scenario: 's', policy: 'memcoop', tty: false, write: (s) => plain.push(s) });
    for (let s = 1; s <= 130; s++) p.update(rec(s * 1000, 200 * 1024));
    assert.deepEqual(plain.map((l) => l.split(' ')[0]), ['t=1s', 't=60s', 't=120s']);
    assert.ok(plain.every((l) => !l.includes('\x1b')));
  });
});

describe('plot', () => {
  test('one panel per guest and one for Dom0, each series as a path; nice axis steps', () => {
    const trace = [rec(1000, 200 * 1024), rec(2000, 220 * 1024), rec(3000, 240 * 1024)];
    const panels = panelsFromTrace(trace, new Map([['vm1', 'vm1: mono']]));
    assert.deepEqual(panels.map((p) => p.id), ['vm1', 'vm2', 'dom0']);
    assert.deepEqual(panels[0]!.alloc, [200, 220, 240]);
    assert.equal(panels[0]!.title, 'vm1: mono');
    assert.deepEqual(panels[1]!.ws, [null, null, null], 'nothing shaded once the workload is done');
    const svg = renderPlot({ title: 't <&>', subtitle: 's', panels });
    assert.ok(svg.includes('t &lt;&amp;&gt;'));
    assert.equal((svg.match(/class="frame"/g) ?? []).length, 3);
    assert.deepEqual([niceStep(1000, 10), niceStep(37, 4), niceStep(0.3, 3)], [100, 10, 0.1]);
  });
});
