// The scenario reader: every shipped file loads; unknown fields and wrong types are rejected
// with the path of the offending field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadScenario, parseScenario, scenarioNames } from '../../../src/sim/scenario.ts';
import { InputError } from '../../../src/util/validate.ts';

const BASE = `
name: t
durationS: 10
host:
  totalMiB: 1024
  dom0: { initialMiB: 256, minMiB: 256, maxMiB: 512, committedMiB: 200 }
guests:
  - id: vm1
    initialMiB: 256
    minMiB: 128
    maxMiB: 512
    workload: { kind: mono, lowMiB: 32, highMiB: 64, stepMiB: 32 }
`;

function rejects(text: string, path: string, problem: RegExp): void {
  assert.throws(() => parseScenario(text, 'f.yaml'), (e: unknown) => {
    assert.ok(e instanceof InputError, String(e));
    assert.equal(e.path, path);
    assert.match(e.problem, problem);
    return true;
  });
}

test('every shipped scenario loads, and the paper experiments and fault families are there', () => {
  const names = scenarioNames();
  for (const n of ['paper-mono-random', 'paper-memory-memory', 'paper-mixed', 'paper-3vm', 'paper-4vm', 'fault-stuck-balloon', 'fault-hidden-floor', 'fault-hidden-ceiling', 'fault-intermittent-balloon', 'fault-lying-agents', 'fault-dom0-rising']) {
    assert.ok(names.includes(n), n);
  }
  for (const n of names) assert.equal(loadScenario(n).name, n);
  const four = loadScenario('paper-4vm');
  assert.ok(four.sim.guests.every((g) => g.initialKiB === 128 * 1024 && g.maxKiB === 256 * 1024));
});

test('a minimal scenario reads with its defaults, in KiB and ms', () => {
  const s = parseScenario(BASE);
  assert.equal(s.sim.hostTotalKiB, 1024 * 1024);
  assert.equal(s.durationMs, 10_000);
  assert.equal(s.tickMs, 1000);
  const g = s.sim.guests[0];
  assert.equal(g?.initialKiB, 256 * 1024);
  assert.deepEqual(g?.agent, { kind: 'honest' });
  assert.deepEqual(g?.balloon, { kind: 'ideal' });
  assert.deepEqual(s.unsafe, { twoPhase: true, reserve: true, dom0First: true });
});

test('unknown fields are rejected by path', () => {
  rejects(BASE + 'colour: blue\n', 'f.yaml.colour', /unknown field/);
  rejects(BASE.replace('minMiB: 128', 'minMiB: 128\n    maxMem: 3'), 'f.yaml.guests[0].maxMem', /unknown field/);
  rejects(BASE.replace('stepMiB: 32 }', 'stepMiB: 32, size: 1 }'), 'f.yaml.guests[0].workload.size', /unknown field/);
  rejects(BASE + 'unsafe: { twophase: false }\n', 'f.yaml.unsafe.twophase', /unknown field/);
});

test('wrong types and values are rejected by path', () => {
  rejects(BASE.replace('totalMiB: 1024', 'totalMiB: "1 GiB"'), 'f.yaml.host.totalMiB', /whole number/);
  rejects(BASE.replace('initialMiB: 256\n    minMiB', 'initialMiB: 25.5\n    minMiB'), 'f.yaml.guests[0].initialMiB', /whole number/);
  rejects(BASE.replace('kind: mono', 'kind: monoo'), 'f.yaml.guests[0].workload.kind', /one of/);
  rejects(BASE + 'unsafe: { twoPhase: "no" }\n', 'f.yaml.unsafe.twoPhase', /true or false/);
  rejects(BASE.replace('initialMiB: 256\n    minMiB', 'initialMiB: 600\n    minMiB'), 'f.yaml.guests[0].initialMiB', /within/);
  rejects(BASE.replace('id: vm1', 'id: dom0'), 'f.yaml.guests[0].id', /Dom0/);
  rejects(BASE.replace('totalMiB: 1024', 'totalMiB: 400'), 'f.yaml.host.totalMiB', /more than the host has/);
  rejects(BASE + 'expect: { violations: [oops] }\n', 'f.yaml.expect.violations[0]', /one of/);
  rejects('guests: [\n', 'f.yaml', /not valid YAML/);
});
