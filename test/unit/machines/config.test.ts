// The supervisor config reader: defaults, bounds, and errors that name the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SUPERVISOR_CONFIG, parseSupervisorConfig } from '../../../src/vocabulary/config.ts';
import { decide, DEFAULT_PARAMS } from '../../../src/policy/decide.ts';
import { PEER_POLICIES } from '../../../src/policy/peers/index.ts';
import { nameOfPolicy, policyByName, POLICY_NAMES } from '../../../src/policy/registry.ts';
import { replay } from '../../../src/journal/replay.ts';
import { InputError } from '../../../src/util/validate.ts';

test('an empty config is the defaults; given fields override them one by one', () => {
  assert.deepEqual(parseSupervisorConfig({}), DEFAULT_SUPERVISOR_CONFIG);
  const c = parseSupervisorConfig({ params: { tau: 0.5 }, dom0: { maxKiB: 8 * 1024 * 1024 }, silenceTicks: 4 });
  assert.deepEqual(c.params, { ...DEFAULT_PARAMS, tau: 0.5 });
  assert.deepEqual(c.dom0, { minKiB: DEFAULT_SUPERVISOR_CONFIG.dom0.minKiB, maxKiB: 8 * 1024 * 1024 });
  assert.equal(c.silenceTicks, 4);
  assert.equal(c.stuckTicks, DEFAULT_SUPERVISOR_CONFIG.stuckTicks);
  assert.equal(c.policy, 'memcoop', 'the paper\'s policy by default');
  assert.equal(parseSupervisorConfig({ policy: 'qmemman' }).policy, 'qmemman');
});

test('every policy name is a policy, and every peer has a name', () => {
  assert.deepEqual(POLICY_NAMES.filter((n) => n !== 'memcoop' && n !== 'paper').sort(), Object.keys(PEER_POLICIES).sort());
  // The stateless policies are known by name; a paced peer is a fresh instance per call.
  for (const n of ['memcoop', 'paper', 'static'] as const) assert.equal(nameOfPolicy(policyByName(n)), n);
  for (const n of ['selfballoon', 'qmemman', 'squeezed', 'mom'] as const) {
    assert.equal(typeof policyByName(n), 'function');
    assert.notEqual(policyByName(n), policyByName(n), `${n}: one instance per run`);
  }
  assert.equal(policyByName('memcoop'), decide);
  assert.equal(nameOfPolicy((i) => decide(i)), null, 'a wrapper is not known by name');
});

test('bad fields are refused by name', () => {
  const cases: [unknown, RegExp][] = [
    [{ silenceTick: 3 }, /^config\.silenceTick: unknown field/],
    [{ silenceTicks: 0 }, /^config\.silenceTicks: must be >= 1/],
    [{ silenceTicks: 2.5 }, /^config\.silenceTicks: expected a whole number/],
    [{ params: { tau: 1 } }, /^config\.params\.tau: must be < 1/],
    [{ params: { upRatio: 0.5 } }, /^config\.params\.upRatio: must be >= 1/],
    [{ params: { reserve: 1 } }, /^config\.params\.reserve: unknown field/],
    [{ dom0: { minKiB: 10, maxKiB: 5 } }, /^config\.dom0\.minKiB: must be <= dom0\.maxKiB/],
    [{ policy: 'greedy' }, /^config\.policy: expected one of memcoop, paper, static, selfballoon, qmemman, squeezed, mom/],
    [{ params: { rules: { commitCap: 'no' } } }, /^config\.params\.rules\.commitCap: expected/],
    [{ params: { rules: { bonus: false } } }, /^config\.params\.rules\.bonus: unknown field/],
    [{ policy: 1 }, /^config\.policy: expected one of/],
    [[], /^config: expected an object/],
  ];
  for (const [v, re] of cases) assert.throws(() => parseSupervisorConfig(v), (e: unknown) => e instanceof InputError && re.test(e.message), JSON.stringify(v));
});

test("replay checks the journal header's config the same way", () => {
  assert.throws(() => replay({ config: { bogus: 1 } }, []), /header\.config\.bogus: unknown field/);
});
