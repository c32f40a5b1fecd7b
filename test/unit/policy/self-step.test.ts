// Prompt self adjustment (src/policy/self-step.ts): hand-computed steps, the budget rule, and a
// cross-check that, given the budget decide() itself had, a self step makes the very targets an
// abundant decide() makes.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decide, DEFAULT_PARAMS } from '../../../src/policy/decide.ts';
import { PAGE_KIB, pageDown } from '../../../src/policy/pages.ts';
import { freeBudget, selfAdjustStep, type SelfStepGuest } from '../../../src/policy/self-step.ts';
import { MIN_STEP_KIB } from '../../../src/policy/steps.ts';
import { inputArb } from './arbitraries.ts';

const MIB = 1024;
// The paper's Algorithm 2 (working room off: with it a prompt step never shrinks a guest, pressure.ts).
const P = { ...DEFAULT_PARAMS, upRatio: 1, downRatio: 4, rules: { workingRoom: false } };
const guest = (over: Partial<SelfStepGuest>): SelfStepGuest => ({
  id: 'g',
  minKiB: 128 * MIB,
  maxKiB: 1024 * MIB,
  currentKiB: 512 * MIB,
  committedKiB: 512 * MIB,
  pendingIncreaseKiB: 0,
  ...over,
});

describe('selfAdjustStep', () => {
  test('grows to Committed_AS in one step, shrinks a quarter of the gap, clamps to the bounds', () => {
    const r = selfAdjustStep({
      params: P,
      budgetKiB: 4096 * MIB,
      guests: [
        guest({ id: 'up', committedKiB: 700 * MIB }),
        guest({ id: 'down', committedKiB: 312 * MIB }),
        guest({ id: 'floor', committedKiB: 1 * MIB }),
        guest({ id: 'ceiling', committedKiB: 5000 * MIB }),
        guest({ id: 'odd', committedKiB: 700 * MIB + 1 }), // rounded up to a page
      ],
    });
    assert.deepEqual(r.guests, [
      { id: 'up', goalKiB: 700 * MIB, targetKiB: 700 * MIB },
      { id: 'down', goalKiB: 312 * MIB, targetKiB: 462 * MIB },
      { id: 'floor', goalKiB: 128 * MIB, targetKiB: 416 * MIB },
      { id: 'ceiling', goalKiB: 1024 * MIB, targetKiB: 1024 * MIB },
      { id: 'odd', goalKiB: 700 * MIB + PAGE_KIB, targetKiB: 700 * MIB + PAGE_KIB },
    ]);
    assert.equal(r.budgetKiB, 4096 * MIB - (188 + 512 + 188) * MIB - PAGE_KIB);
  });

  test('the last stretch takes MIN_STEP_KIB steps and snaps to the goal, as a tick would', () => {
    // Down 4: a 12 MiB gap would move 3 MiB; the minimum step (4 MiB) moves it 4 MiB. A 3 MiB
    // gap closes at once. Up 1 takes the whole gap anyway.
    const r = selfAdjustStep({
      params: P,
      budgetKiB: 4096 * MIB,
      guests: [guest({ id: 'a', committedKiB: 500 * MIB }), guest({ id: 'b', committedKiB: 509 * MIB }), guest({ id: 'c', committedKiB: 513 * MIB })],
    });
    assert.equal(MIN_STEP_KIB, 4 * MIB);
    assert.deepEqual(r.guests.map((g) => g.targetKiB), [508 * MIB, 509 * MIB, 513 * MIB]);
  });

  test('increases share what the budget holds; decreases need none', () => {
    const r = selfAdjustStep({
      params: P,
      budgetKiB: 100 * MIB,
      guests: [guest({ id: 'a', committedKiB: 612 * MIB }), guest({ id: 'b', committedKiB: 812 * MIB }), guest({ id: 'c', committedKiB: 112 * MIB })],
    });
    // a wants 100, b 300: 100 shared 1:3; c shrinks by a quarter of the 384 MiB to its floor.
    assert.deepEqual(r.guests.map((g) => g.targetKiB), [537 * MIB, 587 * MIB, 416 * MIB]);
    assert.equal(r.budgetKiB, 0);
  });

  test('an increase already issued is not charged twice', () => {
    const r = selfAdjustStep({ params: P, budgetKiB: 50 * MIB, guests: [guest({ committedKiB: 800 * MIB, pendingIncreaseKiB: 200 * MIB })] });
    // 512 + 200 already on its way; 88 more wanted, 50 left to give.
    assert.deepEqual(r.guests[0], { id: 'g', goalKiB: 800 * MIB, targetKiB: 762 * MIB });
    assert.equal(r.budgetKiB, 0);
    const smaller = selfAdjustStep({ params: P, budgetKiB: 0, guests: [guest({ committedKiB: 600 * MIB, pendingIncreaseKiB: 200 * MIB })] });
    assert.equal(smaller.guests[0]!.targetKiB, 600 * MIB, 'a smaller increase needs nothing more');
  });

  test('freeBudget: host free after the reserve, Dom0 first, increases in flight', () => {
    assert.equal(freeBudget(P, 1000 * MIB, 100 * MIB, 200 * MIB), 1000 * MIB - P.reserveKiB - 300 * MIB);
    assert.equal(freeBudget(P, 1000 * MIB, -400 * MIB, 0), 1000 * MIB - P.reserveKiB, 'a shrinking Dom0 frees nothing yet');
    assert.equal(freeBudget(P, 10 * MIB, 0, 0), 0);
    assert.equal(freeBudget(P, P.reserveKiB + 4097, 0, 0), 4096);
  });

  test('property: with the budget decide() had, a self step makes the targets of an abundant decide()', () => {
    fc.assert(
      fc.property(inputArb({ allAgents: true }), (input0) => {
        // The paper's self adjustment: with the working room (pressure.ts) the tick may raise a
        // goal above the commit, which a prompt step leaves to the tick.
        const input = { ...input0, params: { ...input0.params, rules: { workingRoom: false } } };
        const d = decide(input);
        fc.pre(d.state === 'abundant');
        // decide()'s increase budget: host free after the reserve, less Dom0's granted increase.
        const F = pageDown(Math.max(0, input.host.freeKiB - input.params.reserveKiB));
        const n0 = pageDown(input.dom0.currentKiB);
        const budget = F - Math.max(0, d.dom0.targetKiB - n0);
        const r = selfAdjustStep({
          params: input.params,
          budgetKiB: budget,
          guests: input.guests.map((g) => ({ id: g.id, minKiB: g.minKiB, maxKiB: g.maxKiB, currentKiB: g.currentKiB, committedKiB: g.committedKiB, pendingIncreaseKiB: 0 })),
        });
        assert.deepEqual(
          r.guests,
          d.guests.map(({ id, goalKiB, targetKiB }) => ({ id, goalKiB, targetKiB })),
        );
      }),
      { numRuns: 300 },
    );
  });

  test('property: never grows past the budget; targets whole pages within bounds, between allocation and goal', () => {
    fc.assert(
      fc.property(inputArb({ allAgents: true }), fc.integer({ min: 0, max: 100_000 }), fc.array(fc.integer({ min: 0, max: 50_000 }), { minLength: 8, maxLength: 8 }), (input, budgetP, pendP) => {
        const guests = input.guests.map((g, i) => ({ id: g.id, minKiB: g.minKiB, maxKiB: g.maxKiB, currentKiB: g.currentKiB, committedKiB: g.committedKiB, pendingIncreaseKiB: pendP[i]! * PAGE_KIB }));
        const budgetKiB = budgetP * PAGE_KIB;
        const r = selfAdjustStep({ params: input.params, budgetKiB, guests });
        let charged = 0;
        r.guests.forEach((s, i) => {
          const g = guests[i]!;
          const cur = pageDown(g.currentKiB);
          assert.equal(s.targetKiB % PAGE_KIB, 0);
          assert.ok(s.goalKiB >= pageDown(g.minKiB) - PAGE_KIB && s.goalKiB <= g.maxKiB);
          assert.ok(Math.min(cur, s.goalKiB) <= s.targetKiB && s.targetKiB <= Math.max(cur, s.goalKiB, cur + g.pendingIncreaseKiB), `${s.targetKiB} outside [${cur}, ${s.goalKiB}]`);
          charged += Math.max(0, s.targetKiB - (cur + g.pendingIncreaseKiB));
        });
        assert.ok(charged <= budgetKiB, `charged ${charged} > budget ${budgetKiB}`);
        assert.equal(r.budgetKiB, budgetKiB - charged);
      }),
      { numRuns: 300 },
    );
  });
});
