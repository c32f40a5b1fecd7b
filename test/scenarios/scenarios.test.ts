// Every shipped scenario through the test harness (harness.ts: the paper's policy called
// directly each virtual second; the supervisor runner comes later). Safe scenarios: no
// invariant violated on any tick. Must-fail scenarios (`unsafe`): the rule they name fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide } from '../../src/policy/decide.ts';
import { staticPolicy } from '../../src/policy/peers/static.ts';
import { loadScenario, scenarioNames } from '../../src/hosts/sim/scenario.ts';
import { isSafe } from '../../src/hosts/sim/unsafe.ts';
import { runWithPolicy } from './harness.ts';

const fmt = (o: { id: string; runtimeS: number | null; killed: boolean }[]): string =>
  o.map((g) => `${g.id} ${g.killed ? 'killed' : g.runtimeS === null ? 'unfinished' : g.runtimeS.toFixed(1) + ' s'}`).join(', ');

for (const name of scenarioNames()) {
  const scenario = loadScenario(name);
  if (isSafe(scenario.unsafe)) {
    test(`scenario ${name}: no invariant violated under the paper's policy`, async () => {
      const r = await runWithPolicy(scenario, decide);
      console.log(`  ${name}: ${r.ticks} ticks, ${fmt(r.outcomes)}`);
      assert.deepEqual(r.violations.slice(0, 5), [], `${r.violations.length} violations`);
      assert.ok(r.ticks > 0);
    });
  } else {
    test(`scenario ${name}: must fail ${scenario.expectViolations.join(', ')}, and does`, async () => {
      assert.ok(scenario.expectViolations.length > 0, 'an unsafe scenario must name the rule it breaks');
      const r = await runWithPolicy(scenario, decide);
      const rules = new Set(r.violations.map((v) => v.rule));
      console.log(`  ${name}: ${r.violations.length} violations (${[...rules].join(', ')}); first: ${r.violations[0]?.detail ?? 'none'}`);
      for (const rule of scenario.expectViolations) assert.ok(rules.has(rule), `expected a ${rule} violation, got ${[...rules].join(', ') || 'none'}`);
    });
  }
}

test('scenario paper-mono-random: the same run twice gives the same outcome (deterministic)', async () => {
  const s = loadScenario('paper-mono-random');
  const a = await runWithPolicy(s, decide);
  const b = await runWithPolicy(s, decide);
  assert.deepEqual(a.outcomes, b.outcomes);
  assert.deepEqual(a.trace, b.trace);
});

test('scenario paper-mono-random: memory moves between the guests under the paper policy, not under static', async () => {
  const s = loadScenario('paper-mono-random');
  const moving = await runWithPolicy(s, decide);
  const still = await runWithPolicy(s, staticPolicy);
  const spread = (r: typeof moving, id: string): number => {
    const xs = r.trace.map((t) => t.alloc[id] ?? 0);
    return Math.max(...xs) - Math.min(...xs);
  };
  console.log(`  paper policy: ${fmt(moving.outcomes)}; static: ${fmt(still.outcomes)}`);
  assert.ok(spread(moving, 'vm1') > 64 * 1024, 'vm1 allocation should move by more than 64 MiB');
  assert.equal(spread(still, 'vm1'), 0);
  assert.deepEqual(still.violations, []);
});

test('scenario fault-lying-agents: garbage reports reach the parser and are rejected there', async () => {
  const r = await runWithPolicy(loadScenario('fault-lying-agents'), decide);
  assert.ok((r.rejectedReports.get('vm3') ?? 0) > 0);
  assert.equal(r.rejectedReports.get('vm1'), undefined);
  assert.equal(r.rejectedReports.get('vm2'), undefined);
});
