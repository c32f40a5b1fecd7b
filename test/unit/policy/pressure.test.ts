// The rules beyond the paper that read the agent's PSI and MemFree (src/policy/pressure.ts):
// paging lifts the commit cap to a working room and takes what abundance leaves over, short
// guests hold in the scarce balance, and while a guest is short a decrease takes idle free
// memory at once. Expected numbers are worked out in
// the comments; every case is paired with the same input without PSI, where the paper's rules
// must give a different answer (so each rule is shown to act).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide } from '../../../src/policy/decide.ts';
import { deepenDecrease, idleFreeKiB, isPaging, isShort, PSI_PAGING_HUNDREDTHS, SHORT_FREE_KIB } from '../../../src/policy/pressure.ts';
import { selfAdjustStep } from '../../../src/policy/self-step.ts';
import { guest, input, MIB } from './fixtures.ts';

const PARAMS = { tau: 0.75, eps: 0.1, reserveKiB: 0, upRatio: 1, downRatio: 4 };
const DOM0 = { currentKiB: 512 * MIB, committedKiB: 512 * MIB, minKiB: 256 * MIB, maxKiB: 1024 * MIB };
const PAGING = 3000; // 30 % of the last 10 s stalled: what thrashing guests reported on the testbed

test('paging and short are read from PSI and MemFree; absent PSI is never paging', () => {
  assert.equal(isPaging({ freeKiB: 0 }), false);
  assert.equal(isPaging({ freeKiB: 0, psiSomeAvg10: PSI_PAGING_HUNDREDTHS - 1 }), false);
  assert.equal(isPaging({ freeKiB: 0, psiSomeAvg10: PSI_PAGING_HUNDREDTHS }), true);
  assert.equal(isShort({ freeKiB: SHORT_FREE_KIB - 4, psiSomeAvg10: PAGING }), true);
  assert.equal(isShort({ freeKiB: SHORT_FREE_KIB, psiSomeAvg10: PAGING }), false);
  assert.equal(isShort({ freeKiB: 0 }), false);
});

test('idle memory first (while someone is short): a decrease takes MemFree beyond 16 MiB at once, never past the goal', () => {
  assert.equal(idleFreeKiB(10 * MIB), 0);
  assert.equal(idleFreeKiB(100 * MIB + 3), 84 * MIB);
  // N 256 MiB, ratio step to 240 MiB, 100 MiB free: 256 - 84 = 172 MiB, above the goal of 128.
  assert.equal(deepenDecrease(256 * MIB, 240 * MIB, 128 * MIB, 100 * MIB), 172 * MIB);
  // the same with a goal of 200 MiB: stops at the goal
  assert.equal(deepenDecrease(256 * MIB, 240 * MIB, 200 * MIB, 100 * MIB), 200 * MIB);
  // little free: the ratio step stands; an increase is never touched
  assert.equal(deepenDecrease(256 * MIB, 240 * MIB, 128 * MIB, 8 * MIB), 240 * MIB);
  assert.equal(deepenDecrease(256 * MIB, 300 * MIB, 300 * MIB, 200 * MIB), 300 * MIB);
});

test('abundant: what is left over goes to the paging guest first, then to everyone, each up to its working room', () => {
  // reserve 0, host free 204800, Dom0 at its commit: F = F' = 204800.
  // p: N = C = 262144, 4 MiB free, paging -> MC 262144; q: C 131072 (its min), N 262144, 128 MiB free.
  // need = 0 + (131072 - 262144) = -131072 <= F': abundant. Left over: 204800 + 131072 = 335872.
  // Room caps (what it uses plus 64 MiB): p 258048 + 65536 = 323584; q 131072 + 65536 = 196608.
  // p first: 323584 (61440 of the left over), then q: 196608 (65536 more). p's step up (ratio 1)
  // is +61440, inside what is free now. q: the ratio step would be 262144 - 65536 / 4 = 245760,
  // but p is short (paging, 4 MiB free), so q's idle free memory goes at once, down to its goal.
  const p = guest('p', { currentKiB: 262144, committedKiB: 262144, freeKiB: 4096, psiSomeAvg10: PAGING });
  const q = guest('q', { currentKiB: 262144, committedKiB: 131072, freeKiB: 131072 });
  const d = decide(input(PARAMS, 204800, DOM0, [p, q]));
  assert.equal(d.state, 'abundant');
  assert.deepEqual(d.guests, [
    { id: 'p', mode: 'self', goalKiB: 323584, targetKiB: 323584 },
    { id: 'q', mode: 'self', goalKiB: 196608, targetKiB: 196608 },
  ]);
  // Without PSI the goals are the same (room comes before paging), but nobody is short: q steps
  // down by a quarter of its gap.
  const { psiSomeAvg10: _, ...noPsi } = p;
  const e = decide(input(PARAMS, 204800, DOM0, [noPsi, q]));
  assert.deepEqual(e.guests, [
    { id: 'p', mode: 'self', goalKiB: 323584, targetKiB: 323584 },
    { id: 'q', mode: 'self', goalKiB: 196608, targetKiB: 245760 },
  ]);
  // The paper's self adjustment (room off): commits, and the left over stays in the host.
  const paper = decide(input({ ...PARAMS, rules: { workingRoom: false } }, 204800, DOM0, [noPsi, q]));
  assert.deepEqual(paper.guests.map((g) => g.goalKiB), [262144, 131072]);
});

test('abundant: two paging guests share the left over in proportion to their goals, each within its room', () => {
  // F' = 102400, both at N = C with no free memory: need 0, left over 102400.
  // Caps (N - F + 65536): a 327680, b 196608. In proportion to 262144 : 131072, a would reach
  // 262144 * (1 + 102400 / 393216) = 330410.7 > 327680: a = 327680, and b takes the rest,
  // 131072 + 102400 - 65536 = 167936 (< 196608).
  const a = guest('a', { currentKiB: 262144, committedKiB: 262144, freeKiB: 0, psiSomeAvg10: PAGING });
  const b = guest('b', { currentKiB: 131072, committedKiB: 131072, freeKiB: 0, psiSomeAvg10: PAGING });
  const d = decide(input(PARAMS, 102400, DOM0, [a, b]));
  assert.equal(d.state, 'abundant');
  assert.deepEqual(d.guests.map((g) => g.goalKiB), [327680, 167936]);
});

test('a paging guest whose free memory is already its working room is given nothing more', () => {
  // PSI still high from paging that has ended, 123 MiB free: its cap is what it uses plus its
  // room, 262144 - 125952 + 65536 = 201728, below what it has: it goes down to that, and the
  // host's 200 MiB stay free.
  const g = guest('g', { currentKiB: 262144, committedKiB: 131072, freeKiB: 123 * MIB, psiSomeAvg10: PAGING });
  const d = decide(input(PARAMS, 204800, DOM0, [g]));
  assert.equal(d.guests[0]!.goalKiB, 201728);
  assert.ok(d.guests[0]!.targetKiB < 262144);
});

test('scarce: guests that are all short hold what they have; the paper would move memory between them', () => {
  // Host free 0, Dom0 at its commit: F' = 0. Both N 262144, commit 300000, 4 MiB free.
  // a has half its swap used: c_a = 0.30, c_b = 0.25; A = 258048 each, tau*A = 193536.
  // Paper: t = (524288 - 387072) / 0.55 = 249483.6: Nt_a = 268381.1, Nt_b = 255906.9, so b
  // would go down ~6 MiB for a. Short guests hold: floors = N = 262144 each, which is all of M.
  const a = guest('a', { currentKiB: 262144, committedKiB: 300000, freeKiB: 4096, swapTotalKiB: 1024 * MIB, swapFreeKiB: 512 * MIB, psiSomeAvg10: PAGING });
  const b = guest('b', { currentKiB: 262144, committedKiB: 300000, freeKiB: 4096, psiSomeAvg10: 5000 });
  const d = decide(input(PARAMS, 0, DOM0, [a, b]));
  assert.equal(d.state, 'scarce');
  assert.deepEqual(d.guests.map((g) => [g.goalKiB, g.targetKiB]), [[262144, 262144], [262144, 262144]]);
  const strip = ({ psiSomeAvg10: _, ...g }: typeof a) => g;
  const e = decide(input(PARAMS, 0, DOM0, [strip(a), strip(b)]));
  assert.ok(e.guests[1]!.goalKiB < 262144 && e.guests[1]!.targetKiB < 262144, JSON.stringify(e.guests));
});

test('scarce: a paging guest with free memory is not short and still gives to one that is', () => {
  // need = 37856 + 0 > F' = 0: scarce. A_a = 258048, A_b = 196608, c = 0.25 each:
  // t = (524288 - 0.75 * 454656) / 0.5 = 366592; Nt_a = 285184, Nt_b = 239104 (below b's N).
  const a = guest('a', { currentKiB: 262144, committedKiB: 300000, freeKiB: 4096, psiSomeAvg10: PAGING });
  const b = guest('b', { currentKiB: 262144, committedKiB: 262144, freeKiB: 64 * MIB, psiSomeAvg10: PAGING });
  const d = decide(input(PARAMS, 0, DOM0, [a, b]));
  assert.equal(d.state, 'scarce');
  assert.deepEqual(d.guests.map((g) => g.goalKiB), [285184, 239104]);
  assert.ok(d.guests[1]!.targetKiB < 262144, JSON.stringify(d.guests));
});

test('Dom0 first is not held back by short guests', () => {
  // Dom0 needs 128 MiB more and the host has none: the shortfall is reclaimed from short guests too.
  const a = guest('a', { currentKiB: 262144, committedKiB: 300000, freeKiB: 4096, psiSomeAvg10: PAGING });
  const b = guest('b', { currentKiB: 262144, committedKiB: 300000, freeKiB: 4096, psiSomeAvg10: PAGING });
  const dom0 = { ...DOM0, committedKiB: 640 * MIB };
  const d = decide(input(PARAMS, 0, dom0, [a, b]));
  assert.equal(d.dom0.reclaimKiB, 128 * MIB);
  const sum = d.guests.reduce((s, g) => s + g.goalKiB, 0);
  assert.equal(sum, 2 * 262144 - 128 * MIB);
});

test('prompt self step: a guest above its commit is held (the tick may have given it room), not pulled back to it', () => {
  const base = { id: 'p', minKiB: 128 * MIB, maxKiB: 512 * MIB, currentKiB: 300000, committedKiB: 262144, pendingIncreaseKiB: 0 };
  const held = selfAdjustStep({ params: PARAMS, budgetKiB: 0, guests: [{ ...base, paging: true }] });
  assert.deepEqual(held.guests[0], { id: 'p', goalKiB: 300000, targetKiB: 300000 });
  const paper = selfAdjustStep({ params: { ...PARAMS, rules: { workingRoom: false } }, budgetKiB: 0, guests: [base] });
  assert.equal(paper.guests[0]!.goalKiB, 262144);
  assert.ok(paper.guests[0]!.targetKiB < 300000);
});

test('swap-ins since the last report count as paging before PSI has caught up', () => {
  assert.equal(isPaging({ freeKiB: 4096, psiSomeAvg10: 0, swapInsKiB: 1024 }), true);
  assert.equal(isPaging({ freeKiB: 4096, psiSomeAvg10: 0, swapInsKiB: 1020 }), false);
  // the abundant case above with PSI 0 but 9 MiB swapped in since the last report: the same answer
  const p = guest('p', { currentKiB: 262144, committedKiB: 262144, freeKiB: 4096, psiSomeAvg10: 0, swapInsKiB: 9 * MIB });
  const d = decide(input(PARAMS, 204800, DOM0, [p]));
  assert.equal(d.guests[0]!.goalKiB, 323584);
});

test('an increase in flight is paid for: the same free memory is not granted twice', () => {
  // p grows toward its commit 393216 (N 262144, up ratio 1); a target 51200 above N is already
  // written and not reached, so of the host's 61440 free only 10240 is left to grant: target
  // 262144 + 51200 + 10240 = 323584. Without the pending input the whole 61440 would be granted
  // on top of what is in flight.
  const p = guest('p', { currentKiB: 262144, committedKiB: 393216, freeKiB: 0, pendingIncreaseKiB: 51200 });
  const rules = { workingRoom: false };
  const d = decide(input({ ...PARAMS, rules }, 61440, DOM0, [p]));
  assert.equal(d.guests[0]!.targetKiB, 323584);
  const { pendingIncreaseKiB: _, ...none } = p;
  assert.equal(decide(input({ ...PARAMS, rules }, 61440, DOM0, [none])).guests[0]!.targetKiB, 262144 + 61440);
  // A goal below the pending target replaces it: nothing is held back for it.
  const lower = guest('p', { currentKiB: 262144, committedKiB: 270336, freeKiB: 0, pendingIncreaseKiB: 51200 });
  assert.equal(decide(input({ ...PARAMS, rules }, 61440, DOM0, [lower])).guests[0]!.targetKiB, 270336);
});
