// The explanation of a decision (src/policy/explain.ts): its recomputation agrees with decide on
// any input, and the text names the regime's inequality, the bound that held, and what the
// two-phase rule held back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_PARAMS } from '../../../src/policy/decide.ts';
import { explainDecision, formatExplanation } from '../../../src/policy/explain.ts';
import { inputArb } from './arbitraries.ts';
import { MIB, guest, input } from './fixtures.ts';

const dom0 = { currentKiB: 512 * MIB, committedKiB: 256 * MIB, minKiB: 400 * MIB, maxKiB: 4096 * MIB };

test('the recomputation matches decide on any input (regime, price, every goal and target)', () => {
  fc.assert(
    fc.property(inputArb(), (x) => {
      const e = explainDecision(x);
      assert.equal(e.matches, true);
      assert.equal(e.guests.length, x.guests.length);
    }),
    { numRuns: 400 },
  );
});

test('abundant: the inequality F\' >= need, and each goal is its Committed_AS', () => {
  const e = explainDecision(input(DEFAULT_PARAMS, 1024 * MIB, dom0, [guest('a', { committedKiB: 300 * MIB }), guest('b', { committedKiB: 200 * MIB })]));
  assert.equal(e.regime, 'abundant');
  assert.match(e.inequality, />= guests' need/);
  // a: its commit (above what it uses plus its room); b: uses 192 MiB, room up to 256 MiB
  assert.deepEqual(e.guests.map((g) => [g.goalKiB, g.bound]), [[300 * MIB, 'commit'], [256 * MIB, 'room']]);
  const text = formatExplanation(e, 'a');
  assert.match(text, /regime: abundant/);
  assert.match(text, /a: allocation 256 MiB, Committed_AS 300 MiB/);
  assert.doesNotMatch(text, /^b:/m);
});

test('scarce: a price, price terms per guest, the commit cap or the price share, and the two-phase hold-back', () => {
  const x = input(DEFAULT_PARAMS, 60 * MIB, dom0, [
    guest('big', { committedKiB: 500 * MIB, freeKiB: 8 * MIB }),
    guest('small', { committedKiB: 140 * MIB, freeKiB: 100 * MIB }),
  ]);
  const e = explainDecision(x);
  assert.equal(e.regime, 'scarce');
  assert.notEqual(e.price, null);
  assert.ok(e.guests.every((g) => g.price !== null));
  const big = e.guests.find((g) => g.id === 'big')!;
  assert.equal(big.bound, 'price');
  const small = e.guests.find((g) => g.id === 'small')!;
  assert.ok(['commit cap', 'min'].includes(small.bound), small.bound);
  // big grows, small shrinks: big's increase waits on what is free now (10 MiB after the reserve).
  assert.ok(big.step.heldBackKiB > 0, JSON.stringify(big.step));
  assert.equal(big.step.grantedKiB, e.twoPhase.budgetKiB);
  const text = formatExplanation(e);
  assert.match(text, /price: 1\/t = /);
  assert.match(text, /held back until this tick's decreases have landed/);
});

test('Dom0 short: reclaiming, and overcommitted when every guest at its minimum is not enough', () => {
  const hungry = { ...dom0, committedKiB: 900 * MIB };
  const r = explainDecision(input(DEFAULT_PARAMS, 0, hungry, [guest('a', { currentKiB: 512 * MIB }), guest('b', { currentKiB: 512 * MIB })]));
  assert.equal(r.regime, 'reclaiming for Dom0');
  assert.equal(r.dom0.reclaimKiB, 388 * MIB);
  const o = explainDecision(input(DEFAULT_PARAMS, 0, { ...dom0, committedKiB: 4000 * MIB }, [guest('a'), guest('b')]));
  assert.equal(o.regime, 'overcommitted');
  assert.ok(o.guests.every((g) => g.bound === 'min'));
  assert.match(formatExplanation(o), /overcommitted/);
});

test('a guest without an agent is held', () => {
  const e = explainDecision(input(DEFAULT_PARAMS, 1024 * MIB, dom0, [guest('a', { agent: false })]));
  assert.equal(e.guests[0]!.bound, 'held');
  assert.match(formatExplanation(e), /held where it is/);
});
