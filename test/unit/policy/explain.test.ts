// The explanation of a decision (src/policy/explain.ts renders decide's own trace): the trace
// leaves the decision unchanged and its numbers are the decision's, on any input; the text names
// the regime's inequality, the bound that held, and each rule beyond the paper exactly when it
// acted, with its numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decide, DEFAULT_PARAMS } from '../../../src/policy/decide.ts';
import { explainDecision, formatExplanation, mib } from '../../../src/policy/explain.ts';
import { PSI_PAGING_HUNDREDTHS, WORKING_ROOM_KIB } from '../../../src/policy/pressure.ts';
import { RULE_NAMES } from '../../../src/policy/rules.ts';
import type { DecideInput, PolicyRules } from '../../../src/policy/types.ts';
import type { GuestTrace } from '../../../src/policy/trace.ts';
import { inputArb } from './arbitraries.ts';
import { MIB, guest, input } from './fixtures.ts';

const dom0 = { currentKiB: 512 * MIB, committedKiB: 256 * MIB, minKiB: 400 * MIB, maxKiB: 4096 * MIB };
const PAGING = PSI_PAGING_HUNDREDTHS * 4;

/** The same input with one rule switched off, the others as they were. */
const ruleOff = (x: DecideInput, rule: keyof PolicyRules): DecideInput => ({ ...x, params: { ...x.params, rules: { ...x.params.rules, [rule]: false } } });

/** inputArb with pressure figures, increases in flight and rules switched off at random. */
const pressuredArb: fc.Arbitrary<DecideInput> = inputArb().chain((x) =>
  fc
    .record({
      rules: fc.subarray([...RULE_NAMES]),
      extras: fc.array(
        fc.record({
          psi: fc.option(fc.integer({ min: 0, max: 3 * PSI_PAGING_HUNDREDTHS }), { nil: undefined }),
          swapIns: fc.option(fc.integer({ min: 0, max: 4096 }), { nil: undefined }),
          pending: fc.option(fc.integer({ min: 0, max: 65_536 }), { nil: undefined }),
          lowFree: fc.boolean(),
        }),
        { minLength: x.guests.length, maxLength: x.guests.length },
      ),
    })
    .map(({ rules, extras }) => ({
      ...x,
      params: { ...x.params, rules: Object.fromEntries(rules.map((r) => [r, false])) as PolicyRules },
      guests: x.guests.map((g, i) => {
        const e = extras[i]!;
        return {
          ...g,
          ...(e.psi !== undefined && { psiSomeAvg10: e.psi }),
          ...(e.swapIns !== undefined && { swapInsKiB: e.swapIns }),
          ...(e.pending !== undefined && { pendingIncreaseKiB: e.pending }),
          ...(e.lowFree && { freeKiB: Math.min(g.freeKiB, 8 * MIB) }),
        };
      }),
    })),
);

/** One guest's lines of the text. */
function section(text: string, id: string): string {
  const block = text.split('\n\n').find((b) => b.startsWith(`${id}: `));
  assert.ok(block !== undefined, `no section for ${id}`);
  return block;
}

test('the trace leaves the decision unchanged, and its goals and targets are the decision\'s', () => {
  fc.assert(
    fc.property(pressuredArb, (x) => {
      const plain = decide(x);
      assert.equal(plain.trace, undefined);
      const { trace, ...traced } = decide({ ...x, trace: true });
      assert.deepEqual(traced, plain);
      assert.ok(trace !== undefined);
      assert.deepEqual(trace.guests.map((g) => [g.id, g.goalKiB, g.targetKiB]), plain.guests.map((g) => [g.id, g.goalKiB, g.targetKiB]));
      assert.equal(trace.dom0.goalKiB, plain.dom0.goalKiB);
      assert.equal(trace.dom0.targetKiB, plain.dom0.targetKiB);
      assert.equal(trace.dom0.reclaimKiB, plain.dom0.reclaimKiB);
      assert.equal(trace.price, plain.price);
      assert.equal(trace.regime, plain.overcommitted ? 'overcommitted' : plain.dom0.reclaimKiB > 0 ? 'reclaiming for Dom0' : plain.state);
      // The two-phase account adds up: what the guests were granted fits what was left for them.
      assert.ok(trace.twoPhase.grantedKiB <= trace.twoPhase.budgetKiB);
      assert.equal(trace.twoPhase.usableKiB - trace.twoPhase.pendingPaidKiB - trace.twoPhase.dom0GrantKiB, trace.twoPhase.budgetKiB);
      for (const g of trace.guests) {
        assert.ok(Number.isInteger(g.goalKiB) && Number.isInteger(g.targetKiB) && Number.isInteger(g.capKiB));
        assert.equal(g.step.wantedKiB - g.step.grantedKiB, g.step.heldBackKiB);
      }
    }),
    { numRuns: 400 },
  );
});

test('the text\'s goal and target of every guest are the decision\'s, and a rule switched off is never named', () => {
  fc.assert(
    fc.property(pressuredArb, (x) => {
      const e = explainDecision(x);
      const text = formatExplanation(e);
      for (const g of e.decision.guests) {
        const s = section(text, g.id);
        assert.ok(s.includes(`\n  goal ${mib(g.goalKiB)}: `), s);
        if (g.mode !== 'held') assert.ok(s.includes(`\n  target ${mib(g.targetKiB)}`), s);
      }
      assert.ok(text.includes(`Dom0: goal ${mib(e.decision.dom0.goalKiB)}, target ${mib(e.decision.dom0.targetKiB)}`));
      for (const r of e.trace.rulesOff) assert.doesNotMatch(text.replace(/^rules off: .*$/m, ''), new RegExp(`\\(${r}[:)]`));
    }),
    { numRuns: 300 },
  );
});

/**
 * Asserts that `marker` is in a guest's section of the text exactly when switching `rule` off
 * changes that guest's target; guests `applies` rejects are not looked at.
 */
function namedWhereItChanged(x: DecideInput, rule: keyof PolicyRules, marker: string, applies: (g: GuestTrace) => boolean = () => true): void {
  const e = explainDecision(x);
  const without = decide(ruleOff(x, rule));
  const text = formatExplanation(e);
  e.trace.guests.forEach((g, i) => {
    if (!applies(g)) return;
    const changed = e.decision.guests[i]!.targetKiB !== without.guests[i]!.targetKiB;
    assert.equal(section(text, g.id).includes(marker), changed, section(text, g.id));
  });
}

test('idle memory first is named exactly for the guests whose target it changed', () => {
  fc.assert(
    fc.property(pressuredArb, (x) => namedWhereItChanged(x, 'idleFirst', '(idleFirst)')),
    { numRuns: 300 },
  );
});

test('the minimum step is named exactly for the decreases whose target it changed', () => {
  // idleFirst off: it deepens decreases too, and would hide what the minimum did.
  const noIdle = pressuredArb.map((x) => ruleOff(x, 'idleFirst'));
  fc.assert(
    fc.property(noIdle, (x) =>
      namedWhereItChanged(x, 'minStep', '(minStep', (g) => g.managed && g.step.limit !== 'over max' && g.goalKiB < g.currentKiB),
    ),
    { numRuns: 300 },
  );
});

test('abundant: the inequality F\' >= need, each goal its Committed_AS, the leftover as working room with its numbers', () => {
  const e = explainDecision(input(DEFAULT_PARAMS, 1024 * MIB, dom0, [guest('a', { committedKiB: 300 * MIB }), guest('b', { committedKiB: 200 * MIB })]));
  assert.equal(e.trace.regime, 'abundant');
  assert.equal(e.trace.test.kind, 'free vs need');
  // a: its commit (above what it uses plus its room); b: uses 192 MiB, room up to 256 MiB
  assert.deepEqual(e.trace.guests.map((g) => [g.goalKiB, g.goalFrom]), [[300 * MIB, 'commit'], [256 * MIB, 'room']]);
  const text = formatExplanation(e);
  assert.match(text, /^regime: abundant +\(free after Dom0 F' = .* >= guests' need/m);
  assert.match(section(text, 'a'), /goal 300 MiB: its Committed_AS/);
  assert.doesNotMatch(section(text, 'a'), /working room/);
  assert.match(section(text, 'b'), /goal 256 MiB: its commit within its bounds, MC_i 200 MiB, \+ 56 MiB of what abundance left over/);
  assert.match(section(text, 'b'), /working room: .*what it uses 192 MiB \+ 64 MiB = 256 MiB \(workingRoom\)/);
  const one = formatExplanation(e, 'a');
  assert.match(one, /a: allocation 256 MiB, Committed_AS 300 MiB/);
  assert.doesNotMatch(one, /^b:/m);
});

test('scarce: a price, price terms per guest, the commit cap or the price share, and the two-phase hold-back', () => {
  const x = input(DEFAULT_PARAMS, 60 * MIB, dom0, [
    guest('big', { committedKiB: 500 * MIB, freeKiB: 8 * MIB }),
    guest('small', { committedKiB: 140 * MIB, freeKiB: 100 * MIB }),
  ]);
  const e = explainDecision(x);
  assert.equal(e.trace.regime, 'scarce');
  assert.notEqual(e.trace.price, null);
  assert.ok(e.trace.guests.every((g) => g.price !== null));
  const big = e.trace.guests.find((g) => g.id === 'big')!;
  assert.equal(big.goalFrom, 'price');
  const small = e.trace.guests.find((g) => g.id === 'small')!;
  assert.ok(['commit cap', 'min'].includes(small.goalFrom), small.goalFrom);
  // big grows, small shrinks: big's increase waits on what is free now (10 MiB after the reserve).
  assert.ok(big.step.heldBackKiB > 0, JSON.stringify(big.step));
  assert.equal(big.step.grantedKiB, e.trace.twoPhase.budgetKiB);
  const text = formatExplanation(e);
  assert.match(text, /price: 1\/t = /);
  assert.match(section(text, 'big'), /held back until this tick's decreases have landed/);
  assert.doesNotMatch(section(text, 'small'), /held back/);
});

test('commit cap: named for the guest it held, with its MC_i, and not once the rule is off', () => {
  // Plenty of price share for c (little active memory is not the point: both are capped by what they commit).
  const x = input(DEFAULT_PARAMS, 0, dom0, [
    guest('c', { currentKiB: 256 * MIB, committedKiB: 160 * MIB, freeKiB: 0 }),
    guest('d', { currentKiB: 256 * MIB, committedKiB: 500 * MIB, freeKiB: 0 }),
  ]);
  const e = explainDecision(x);
  assert.equal(e.trace.guests[0]!.goalFrom, 'commit cap');
  assert.match(section(formatExplanation(e), 'c'), /goal 160 MiB: its commit cap MC_i \(commitCap/);
  assert.match(section(formatExplanation(e), 'c'), /clamped to \[L_i 128 MiB, MC_i 160 MiB\]/);
  assert.doesNotMatch(section(formatExplanation(e), 'd'), /commitCap/);
  const off = explainDecision(ruleOff(x, 'commitCap'));
  assert.doesNotMatch(formatExplanation(off), /commitCap\)|commitCap:/);
  assert.match(formatExplanation(off), /^rules off: commitCap$/m);
});

test('working room in the scarce balance: a paging guest\'s cap is what it uses + 64 MiB, with its numbers', () => {
  // p commits 200 MiB but uses 252 MiB and pages: its cap is 252 + 64 = 316 MiB, not 200.
  const x = input(DEFAULT_PARAMS, 0, dom0, [
    guest('p', { currentKiB: 256 * MIB, committedKiB: 200 * MIB, freeKiB: 4 * MIB, psiSomeAvg10: PAGING }),
    guest('q', { currentKiB: 256 * MIB, committedKiB: 500 * MIB, freeKiB: 100 * MIB }),
  ]);
  const e = explainDecision(x);
  const p = e.trace.guests[0]!;
  assert.equal(p.capKiB, 252 * MIB + WORKING_ROOM_KIB);
  const text = formatExplanation(e);
  assert.match(section(text, 'p'), /paging: PSI memory some avg10 20\.00 % \(>= 5 %\); short: MemFree 4 MiB < 16 MiB/);
  assert.match(section(text, 'p'), /working room: paging, so its cap in the balance is what it uses 252 MiB \+ 64 MiB = 316 MiB, above its commit 200 MiB \(workingRoom\)/);
  assert.doesNotMatch(section(text, 'q'), /working room|paging/);
  const off = formatExplanation(explainDecision(ruleOff(x, 'workingRoom')));
  assert.doesNotMatch(off, /working room/);
});

test('short guests hold: named for a short guest the balance would have lowered, and only then', () => {
  // Both short; a has the smaller price share and would be lowered; it holds what it has.
  const x = input(DEFAULT_PARAMS, 0, { ...dom0, committedKiB: 512 * MIB }, [
    guest('a', { currentKiB: 300 * MIB, committedKiB: 400 * MIB, freeKiB: 4 * MIB, psiSomeAvg10: PAGING }),
    guest('b', { currentKiB: 200 * MIB, committedKiB: 400 * MIB, freeKiB: 4 * MIB, psiSomeAvg10: PAGING, swapTotalKiB: 1024 * MIB, swapFreeKiB: 0 }),
  ]);
  const e = explainDecision(x);
  const held = e.trace.guests.filter((g) => g.goalFrom === 'short hold').map((g) => g.id);
  assert.ok(held.length > 0, JSON.stringify(e.trace.guests.map((g) => g.goalFrom)));
  const text = formatExplanation(e);
  for (const g of e.trace.guests) {
    assert.equal(section(text, g.id).includes('(shortHold)'), held.includes(g.id), section(text, g.id));
  }
  assert.match(section(text, held[0]!), /goal .*: what it has: it is short, and the scarce balance does not lower a short guest \(shortHold\)/);
  // Without the rule the same guest is lowered, and nothing says shortHold.
  const off = explainDecision(ruleOff(x, 'shortHold'));
  const i = e.trace.guests.findIndex((g) => g.id === held[0]);
  assert.ok(off.decision.guests[i]!.goalKiB < e.decision.guests[i]!.goalKiB);
  assert.doesNotMatch(formatExplanation(off), /shortHold\)/);
});

test('idle commit yields: named for the guest that gave and the paging guest that took, with the numbers, and not once the rule is off', () => {
  // The worked example of idle-yield.test.ts: vm1 gives 100 MiB of its 560 MiB commit to vm2.
  const x = input({ ...DEFAULT_PARAMS, reserveKiB: 0 }, 20 * MIB, { ...dom0, currentKiB: 512 * MIB, committedKiB: 512 * MIB }, [
    guest('vm1', { currentKiB: 500 * MIB, committedKiB: 560 * MIB, maxKiB: 768 * MIB, freeKiB: 4 * MIB, availableKiB: 300 * MIB, psiSomeAvg10: 0 }),
    guest('vm2', { currentKiB: 400 * MIB, committedKiB: 330 * MIB, maxKiB: 768 * MIB, freeKiB: 4 * MIB, availableKiB: 100 * MIB, psiSomeAvg10: PAGING }),
  ]);
  const e = explainDecision(x);
  assert.deepEqual(e.trace.guests.map((g) => [g.goalFrom, g.yieldKiB]), [['idle yield', -100 * MIB], ['room', 100 * MIB]]);
  const text = formatExplanation(e);
  assert.match(section(text, 'vm1'), /goal 460 MiB: its commit MC_i 560 MiB less 100 MiB given to paging guests: .*\(idleYield\)/);
  assert.match(section(text, 'vm2'), /goal 460 MiB: .*\+ 30 MiB of what abundance left over \+ 100 MiB that guests not paging gave \(idleYield\)/);
  const off = formatExplanation(explainDecision(ruleOff(x, 'idleYield')));
  assert.doesNotMatch(off, /idleYield\)/);
});

test('reserve first: a decrease the reserve deficit would swallow is named as held, and not once the rule is off', () => {
  // keep-and-reserve.test.ts's case: host free 0 against a 50 MiB reserve; b would be lowered for a.
  const d0 = { currentKiB: 256 * MIB, committedKiB: 200 * MIB, minKiB: 256 * MIB, maxKiB: 512 * MIB };
  const x = input({ ...DEFAULT_PARAMS, reserveKiB: 50 * MIB }, 0, d0, [
    guest('a', { minKiB: 128 * MIB, maxKiB: 512 * MIB, currentKiB: 214 * MIB, committedKiB: 458 * MIB, freeKiB: 2 * MIB }),
    guest('b', { minKiB: 128 * MIB, maxKiB: 512 * MIB, currentKiB: 214 * MIB, committedKiB: 227 * MIB, freeKiB: 100 * MIB }),
  ]);
  const e = explainDecision(x);
  assert.equal(e.trace.guests[1]!.step.limit, 'reserve first');
  assert.match(section(formatExplanation(e), 'b'), /step: none: the host is below its reserve.*\(reserveFirst\)/);
  const off = explainDecision(ruleOff(x, 'reserveFirst'));
  assert.notEqual(off.trace.guests[1]!.step.limit, 'reserve first');
  assert.doesNotMatch(formatExplanation(off), /reserveFirst\)/);
});

test('the minimum step: named when it, not the ratio, sized the step', () => {
  // A 6 MiB gap down at ratio 4 is 1.5 MiB: the step is the 4 MiB minimum.
  const x = input(DEFAULT_PARAMS, 1024 * MIB, dom0, [guest('m', { currentKiB: 256 * MIB, committedKiB: 250 * MIB, freeKiB: 200 * MIB })]);
  const text = formatExplanation(explainDecision(x));
  assert.match(section(text, 'm'), /step: down 4 MiB by the minimum step 4 MiB \(minStep: gap\/4 is less\) to 252 MiB/);
  const big = formatExplanation(explainDecision(input(DEFAULT_PARAMS, 1024 * MIB, dom0, [guest('m', { currentKiB: 256 * MIB, committedKiB: 160 * MIB, freeKiB: 200 * MIB })])));
  assert.match(section(big, 'm'), /step: down 24 MiB by gap\/4 \(Algorithm 2\) to 232 MiB/);
  assert.doesNotMatch(big, /minStep/);
});

test('an increase in flight is said to be paid for', () => {
  const x = input(DEFAULT_PARAMS, 1024 * MIB, dom0, [guest('u', { committedKiB: 400 * MIB, pendingIncreaseKiB: 32 * MIB })]);
  const e = explainDecision(x);
  assert.equal(e.trace.twoPhase.pendingPaidKiB, 32 * MIB);
  assert.match(section(formatExplanation(e), 'u'), /in flight: an increase of 32 MiB written earlier and not yet reached is already paid for/);
  assert.match(formatExplanation(e), /^two-phase: 974 MiB free now - 32 MiB for increases in flight/m);
});

test('Dom0 short: reclaiming, and overcommitted when every guest at its minimum is not enough', () => {
  const hungry = { ...dom0, committedKiB: 900 * MIB };
  const r = explainDecision(input(DEFAULT_PARAMS, 0, hungry, [guest('a', { currentKiB: 512 * MIB }), guest('b', { currentKiB: 512 * MIB })]));
  assert.equal(r.trace.regime, 'reclaiming for Dom0');
  assert.equal(r.trace.dom0.reclaimKiB, 388 * MIB);
  assert.match(formatExplanation(r), /Dom0 needs 388 MiB > host free 0 MiB: reclaim 388 MiB <= what the guests can give back 768 MiB/);
  const o = explainDecision(input(DEFAULT_PARAMS, 0, { ...dom0, committedKiB: 4000 * MIB }, [guest('a'), guest('b')]));
  assert.equal(o.trace.regime, 'overcommitted');
  assert.ok(o.trace.guests.every((g) => g.goalFrom === 'overcommitted'));
  assert.match(formatExplanation(o), /overcommitted/);
});

test('a guest without an agent is held', () => {
  const e = explainDecision(input(DEFAULT_PARAMS, 1024 * MIB, dom0, [guest('a', { agent: false })]));
  assert.equal(e.trace.guests[0]!.goalFrom, 'held');
  assert.match(formatExplanation(e), /held where it is/);
});
