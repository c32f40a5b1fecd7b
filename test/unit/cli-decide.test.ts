// `memcoop decide` as a user runs it: the real bin/memcoop.mjs in a child process.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(root, 'bin', 'memcoop.mjs');

function memcoop(args: string[], stdin?: string) {
  const r = spawnSync(process.execPath, [BIN, 'decide', ...args], { input: stdin ?? '', encoding: 'utf8', cwd: root });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function memcoopAsync(args: string[], stdin: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'decide', ...args], { cwd: root });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
    child.stdin.end(stdin);
  });
}

// The two-guest case of test/unit/policy/decide-exact.test.ts (hand-computed there).
const TWO_GUESTS = {
  params: { tau: 0.75, eps: 0.1, reserveKiB: 51200, upRatio: 2, downRatio: 4 },
  host: { freeKiB: 51200 },
  dom0: { currentKiB: 1048576, committedKiB: 1048576, minKiB: 524288, maxKiB: 2097152 },
  guests: [
    { id: 'a', minKiB: 131072, maxKiB: 524288, currentKiB: 262144, committedKiB: 400000, freeKiB: 65536, swapTotalKiB: 1048576, swapFreeKiB: 524288 },
    { id: 'b', minKiB: 131072, maxKiB: 524288, currentKiB: 262144, committedKiB: 400000, freeKiB: 131072, swapTotalKiB: 0, swapFreeKiB: 0, shares: 1, agent: true },
  ],
};

test('decide reads stdin and prints the decision as JSON', () => {
  const r = memcoop([], JSON.stringify(TWO_GUESTS));
  assert.equal(r.code, 0, r.err);
  const d = JSON.parse(r.out);
  assert.deepEqual(Object.keys(d), ['state', 'overcommitted', 'price', 'dom0', 'guests']);
  assert.equal(d.state, 'scarce');
  assert.equal(d.overcommitted, false);
  assert.ok(Math.abs(d.price - 0.55 / 278528) < 1e-15);
  assert.deepEqual(d.dom0, { goalKiB: 1048576, targetKiB: 1048576, reclaimKiB: 0 });
  assert.deepEqual(d.guests, [
    { id: 'a', mode: 'global', goalKiB: 299380, targetKiB: 262144 },
    { id: 'b', mode: 'global', goalKiB: 224908, targetKiB: 252836 },
  ]);
});

test('decide reads a FILE; params may be left out (defaults apply), agent=false is held', () => {
  const dir = mkdtempSync(join(tmpdir(), 'memcoop-decide-'));
  try {
    const file = join(dir, 'in.json');
    const { params: _omit, ...rest } = TWO_GUESTS;
    writeFileSync(file, JSON.stringify({ ...rest, guests: [{ ...TWO_GUESTS.guests[0], agent: false }] }));
    const r = memcoop([file]);
    assert.equal(r.code, 0, r.err);
    const d = JSON.parse(r.out);
    assert.deepEqual(d.guests, [{ id: 'a', mode: 'held', goalKiB: 262144, targetKiB: 262144 }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('decide --help describes the input and exits 0', () => {
  const r = memcoop(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.out, /usage: memcoop decide \[--trace\] \[FILE\]/);
  assert.match(r.out, /reclaimKiB/);
});

test('decide --trace: the same decision, with the policy\'s own figures behind it', () => {
  const plain = memcoop([], JSON.stringify(TWO_GUESTS));
  const traced = memcoop(['--trace'], JSON.stringify(TWO_GUESTS));
  assert.equal(traced.code, 0, traced.err);
  const { trace, ...decision } = JSON.parse(traced.out) as { trace: { regime: string; test: { kind: string }; guests: { id: string; goalKiB: number; targetKiB: number; step: { heldBackKiB: number } }[] } };
  assert.deepEqual(decision, JSON.parse(plain.out));
  assert.equal(trace.regime, 'scarce');
  assert.equal(trace.test.kind, 'free vs need');
  // a's increase waits for this tick's decreases (nothing free beyond the reserve).
  assert.deepEqual(trace.guests.map((g) => [g.id, g.goalKiB, g.targetKiB]), [['a', 299380, 262144], ['b', 224908, 252836]]);
  assert.ok(trace.guests[0]!.step.heldBackKiB > 0);
  assert.equal('trace' in JSON.parse(plain.out), false);
});

const BAD: Array<[string, unknown, RegExp]> = [
  ['missing host', { ...TWO_GUESTS, host: undefined }, /input\.host: is required/],
  ['missing guest field', { ...TWO_GUESTS, guests: [{ ...TWO_GUESTS.guests[0], freeKiB: undefined }] }, /input\.guests\[0\]\.freeKiB: is required/],
  ['wrong type', { ...TWO_GUESTS, dom0: { ...TWO_GUESTS.dom0, currentKiB: '1G' } }, /input\.dom0\.currentKiB: expected a whole number/],
  ['fractional KiB', { ...TWO_GUESTS, host: { freeKiB: 1.5 } }, /input\.host\.freeKiB: expected a whole number/],
  ['unknown field', { ...TWO_GUESTS, guests: [{ ...TWO_GUESTS.guests[0], colour: 'red' }] }, /input\.guests\[0\]\.colour: unknown field/],
  ['unknown top-level field', { ...TWO_GUESTS, extra: 1 }, /input\.extra: unknown field/],
  ['min above max', { ...TWO_GUESTS, guests: [{ ...TWO_GUESTS.guests[0], minKiB: 600000 }] }, /input\.guests\[0\]\.minKiB: must be <= maxKiB/],
  ['tau of 1', { ...TWO_GUESTS, params: { tau: 1 } }, /input\.params\.tau: must be < 1/],
  ['ratio below 1', { ...TWO_GUESTS, params: { downRatio: 0.5 } }, /input\.params\.downRatio: must be >= 1/],
  ['zero shares', { ...TWO_GUESTS, guests: [{ ...TWO_GUESTS.guests[0], shares: 0 }] }, /input\.guests\[0\]\.shares: must be > 0/],
  ['swap free above total', { ...TWO_GUESTS, guests: [{ ...TWO_GUESTS.guests[1], swapFreeKiB: 1 }] }, /input\.guests\[0\]\.swapFreeKiB: must be <= swapTotalKiB/],
  ['duplicate id', { ...TWO_GUESTS, guests: [TWO_GUESTS.guests[0], TWO_GUESTS.guests[0]] }, /input\.guests\[1\]\.id: duplicate id "a"/],
  ['free above current', { ...TWO_GUESTS, guests: [{ ...TWO_GUESTS.guests[0], freeKiB: 262145 }] }, /input\.guests\[0\]\.freeKiB: must be <= currentKiB \(262144\)/],
  ['current below min', { ...TWO_GUESTS, guests: [{ ...TWO_GUESTS.guests[0], currentKiB: 1000, freeKiB: 0 }] }, /input\.guests\[0\]\.currentKiB: must be >= minKiB \(131072\)/],
  ['a whole number too large', { ...TWO_GUESTS, guests: [{ ...TWO_GUESTS.guests[0], maxKiB: 1e30 }] }, /input\.guests\[0\]\.maxKiB: must be <= 1125899906842624, got 1e\+30/],
];

test('decide brings a guest above its max, and Dom0 above its max, down to the max first', () => {
  const body = {
    ...TWO_GUESTS,
    dom0: { ...TWO_GUESTS.dom0, currentKiB: 9000000 },
    guests: [{ ...TWO_GUESTS.guests[0], currentKiB: 900000 }, { ...TWO_GUESTS.guests[1], agent: false, currentKiB: 600000 }],
  };
  const r = memcoop([], JSON.stringify(body));
  assert.equal(r.code, 0, r.err);
  const d = JSON.parse(r.out);
  assert.equal(d.dom0.targetKiB, 2097152);
  assert.equal(d.guests[0].targetKiB, 524288);
  assert.equal(d.guests[1].targetKiB, 524288);
});

// Each case is its own process; they run side by side.
describe('decide rejects bad input by name, exit 2', { concurrency: true }, () => {
  for (const [name, body, message] of BAD) {
    test(name, async () => {
      const r = await memcoopAsync([], JSON.stringify(body));
      assert.equal(r.code, 2);
      assert.equal(r.out, '');
      assert.match(r.err, message);
    });
  }
});

test('decide rejects text that is not JSON, exit 2', () => {
  const r = memcoop([], '{"host":');
  assert.equal(r.code, 2);
  assert.match(r.err, /input is not JSON/);
});

test('decide takes the optional inputs: no Dom0 (a KVM host), rules, PSI, MemAvailable and targets in flight', () => {
  // idle-yield.test.ts's worked example without Dom0: vm1 (not paging) gives 100 MiB to vm2 (paging).
  const MIB = 1024;
  const input = {
    params: { reserveKiB: 0 },
    host: { freeKiB: 20 * MIB },
    guests: [
      { id: 'vm1', minKiB: 128 * MIB, maxKiB: 768 * MIB, currentKiB: 500 * MIB, committedKiB: 560 * MIB, freeKiB: 4 * MIB, swapTotalKiB: 0, swapFreeKiB: 0, availableKiB: 300 * MIB, psiSomeAvg10: 0 },
      { id: 'vm2', minKiB: 128 * MIB, maxKiB: 768 * MIB, currentKiB: 400 * MIB, committedKiB: 330 * MIB, freeKiB: 4 * MIB, swapTotalKiB: 0, swapFreeKiB: 0, availableKiB: 100 * MIB, psiSomeAvg10: 3000 },
    ],
  };
  const on = memcoop([], JSON.stringify(input));
  assert.equal(on.code, 0, on.err);
  const d = JSON.parse(on.out);
  assert.deepEqual(d.dom0, { goalKiB: 0, targetKiB: 0, reclaimKiB: 0 });
  assert.deepEqual(d.guests.map((g: { goalKiB: number }) => g.goalKiB), [460 * MIB, 460 * MIB]);
  const off = JSON.parse(memcoop([], JSON.stringify({ ...input, params: { reserveKiB: 0, rules: { idleYield: false } } })).out);
  assert.equal(off.guests[0].goalKiB, 560 * MIB, 'the rule switched off from the input');
  // A decrease in flight: vm1 told 450 MiB; a target above it is paid from free memory.
  const flight = JSON.parse(memcoop([], JSON.stringify({ ...input, guests: [{ ...input.guests[0], pendingDecreaseKiB: 50 * MIB }, input.guests[1]] })).out);
  assert.ok(flight.guests[0].targetKiB <= 460 * MIB);
  // Bad optional fields are named.
  const bad = memcoop([], JSON.stringify({ ...input, guests: [{ ...input.guests[0], psiSomeAvg10: 10001 }, input.guests[1]] }));
  assert.equal(bad.code, 2);
  assert.match(bad.err, /input\.guests\[0\]\.psiSomeAvg10/);
  const badRule = memcoop([], JSON.stringify({ ...input, params: { rules: { nope: false } } }));
  assert.equal(badRule.code, 2);
  assert.match(badRule.err, /input\.params\.rules/);
});
