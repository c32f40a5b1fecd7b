// The supervisor's states are the regimes: each tick's decision moves it (starting -> abundant ->
// reclaimingForDom0 -> overcommitted -> back), and only in abundant do reports move
// self-adjusting guests at once (prompt self steps); scarce memory waits for the tick.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MIB, Run } from './harness.ts';

test('the regime is the supervisor state, following each tick\'s decision', () => {
  const run = new Run({ config: { dom0: { minKiB: 256 * MIB, maxKiB: 4096 * MIB } } });
  const value = () => run.actor.getSnapshot().value;
  assert.equal(value(), 'starting');
  run.appear('a', 1, { currentKiB: 1024 * MIB, minKiB: 256 * MIB, maxKiB: 2048 * MIB });
  run.hello('a', true);
  run.tick(); // no host sample yet: nothing decided
  assert.equal(value(), 'starting');
  const allocs = { a: 1024 * MIB };
  const dom0 = { currentKiB: 512 * MIB, committedKiB: 512 * MIB };
  const seen: unknown[] = [];
  // Abundant; Dom0 needs more than host free (reclaim); more than the guest can give (overcommitted); abundant again.
  for (const [free, dom0Commit] of [[4096, 512], [0, 900], [0, 4000], [4096, 512]] as const) {
    run.report('a', 300 * MIB);
    run.sample(free * MIB, { ...dom0, committedKiB: dom0Commit * MIB }, allocs);
    run.tick();
    seen.push(value());
  }
  assert.deepEqual(seen, ['abundant', 'reclaimingForDom0', 'overcommitted', 'abundant']);

  // Abundant: a report moves the self-adjusting guest at once (up: its commit is above the target
  // the tick wrote; a fall is left to the tick, src/policy/self-step.ts).
  const steps = run.selfSteps.length;
  run.report('a', 1500 * MIB);
  assert.equal(run.selfSteps.length, steps + 1, 'a prompt self step while abundant');
});

test('scarce memory: reports wait for the tick', () => {
  const run = new Run();
  run.appear('a', 1, { currentKiB: 512 * MIB, minKiB: 128 * MIB, maxKiB: 1024 * MIB });
  run.appear('b', 2, { currentKiB: 512 * MIB, minKiB: 128 * MIB, maxKiB: 1024 * MIB });
  run.hello('a', true);
  run.hello('b', true);
  const dom0 = { currentKiB: 512 * MIB, committedKiB: 256 * MIB };
  run.reports([
    { id: 'a', committedKiB: 900 * MIB, freeKiB: 8 * MIB, swapTotalKiB: 0, swapFreeKiB: 0 },
    { id: 'b', committedKiB: 900 * MIB, freeKiB: 8 * MIB, swapTotalKiB: 0, swapFreeKiB: 0 },
  ]);
  run.sample(0, dom0, { a: 512 * MIB, b: 512 * MIB });
  run.tick();
  assert.equal(run.actor.getSnapshot().value, 'scarce');
  run.report('a', 950 * MIB);
  assert.equal(run.selfSteps.length, 0, 'no prompt self step while scarce');
});
