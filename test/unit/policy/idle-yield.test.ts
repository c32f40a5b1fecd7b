// Rule "idle commit yields" (src/policy/idle-yield.ts): while memory is abundant, a guest that is
// not paging gives what it commits beyond what it uses plus the working room to a paging guest.
// A worked example through decide (with the rule on, off, and with a giver that sends no PSI),
// and properties of the transfer itself for random guests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decide } from '../../../src/policy/decide.ts';
import { keepKiB, yieldToPaging, type YieldGuest } from '../../../src/policy/idle-yield.ts';
import { PAGE_KIB } from '../../../src/policy/pages.ts';
import { guest, input, MIB } from './fixtures.ts';

const PARAMS = { tau: 0.75, eps: 0.1, reserveKiB: 0, upRatio: 1, downRatio: 4 };
const DOM0 = { currentKiB: 512 * MIB, committedKiB: 512 * MIB, minKiB: 256 * MIB, maxKiB: 1024 * MIB };
const PAGING = 3000; // 30 % stalled: what paging guests reported on the KVM testbed

// vm1: a JVM, 560 MiB committed, 500 MiB held, MemFree 4 MiB but 300 MiB available, not paging.
// vm2: a build paging at 400 MiB (MemFree 4), committing 330.
// need = (560 - 500) + (330 - 400) = -10 MiB, host free 20 MiB: abundant, 30 MiB left over.
// Left over: vm2 (paging) first, up to its room (400 - 4) + 64 = 460: vm2 330 -> 360.
// Yield: vm2 misses 100 MiB; vm1 keeps max(128, (500 - 300) + 64) = 264, surplus 560 - 264 = 296:
// 100 MiB move, vm1 560 -> 460, vm2 360 -> 460.
const jvm = (over = {}) => guest('vm1', { currentKiB: 500 * MIB, committedKiB: 560 * MIB, maxKiB: 768 * MIB, freeKiB: 4 * MIB, availableKiB: 300 * MIB, psiSomeAvg10: 0, ...over });
const build = guest('vm2', { currentKiB: 400 * MIB, committedKiB: 330 * MIB, maxKiB: 768 * MIB, freeKiB: 4 * MIB, availableKiB: 100 * MIB, psiSomeAvg10: PAGING });

test('abundant: a guest not paging gives committed memory beyond use plus room to a paging guest', () => {
  const d = decide(input(PARAMS, 20 * MIB, DOM0, [jvm(), build]));
  assert.equal(d.state, 'abundant');
  assert.deepEqual(d.guests.map((g) => g.goalKiB), [460 * MIB, 460 * MIB]);
});

test('without the rule (or without the working room) the commit goal stands', () => {
  for (const rules of [{ idleYield: false }, { workingRoom: false }]) {
    const d = decide(input({ ...PARAMS, rules }, 20 * MIB, DOM0, [jvm(), build]));
    assert.equal(d.guests[0]!.goalKiB, 560 * MIB, JSON.stringify(rules));
  }
});

test('a guest whose agent sends no PSI gives nothing (it could never say it pages again)', () => {
  const { psiSomeAvg10: _drop, ...noPsi } = jvm();
  const d = decide(input(PARAMS, 20 * MIB, DOM0, [noPsi, build]));
  assert.deepEqual(d.guests.map((g) => g.goalKiB), [560 * MIB, 360 * MIB]);
});

test('without MemAvailable, MemFree stands for it: a giver with 4 MiB free keeps what it holds', () => {
  const { availableKiB: _drop, ...noAvail } = jvm();
  const d = decide(input(PARAMS, 20 * MIB, DOM0, [noAvail, build]));
  // keep = (500 - 4) + 64 = 560: nothing above it to give.
  assert.deepEqual(d.guests.map((g) => g.goalKiB), [560 * MIB, 360 * MIB]);
});

const pages = (lo: number, hi: number) => fc.integer({ min: lo, max: hi }).map((p) => p * PAGE_KIB);
const yieldGuest = fc.record({
  paging: fc.boolean(),
  reportsPressure: fc.boolean(),
  roomKiB: pages(32768, 262144),
  minKiB: pages(0, 65536),
  currentKiB: pages(32768, 262144),
  freeKiB: fc.integer({ min: 0, max: 1 << 20 }),
  availableKiB: fc.option(fc.integer({ min: 0, max: 1 << 20 }), { nil: undefined }),
  goal: pages(0, 262144),
});

test('the transfer keeps the sum of goals, whole pages, givers at or above what they keep, takers at or below their room', () => {
  fc.assert(
    fc.property(fc.array(yieldGuest, { minLength: 1, maxLength: 12 }), (rows) => {
      const gs: YieldGuest[] = rows.map(({ goal: _g, availableKiB, ...g }) => (availableKiB === undefined ? g : { ...g, availableKiB }));
      const before = rows.map((r) => r.goal);
      const goals = [...before];
      const moved = yieldToPaging(gs, goals);
      assert.equal(goals.reduce((a, b) => a + b, 0), before.reduce((a, b) => a + b, 0));
      let taken = 0;
      gs.forEach((g, k) => {
        assert.equal(goals[k]! % PAGE_KIB, 0);
        if (goals[k]! < before[k]!) {
          assert.ok(!g.paging && g.reportsPressure, 'only a guest not paging that reports PSI gives');
          assert.ok(goals[k]! >= keepKiB(g), 'a giver keeps what it uses plus the room');
          taken += before[k]! - goals[k]!;
        }
        if (goals[k]! > before[k]!) {
          assert.ok(g.paging, 'only a paging guest takes');
          assert.ok(goals[k]! <= g.roomKiB, 'a taker stays within its room');
        }
      });
      assert.equal(moved, taken);
    }),
  );
});
