// The slowdown model against the real runs of docs/measurements.md section 2: the same workloads at the
// same static allocations, in the simulator. Prints the fit; asserts it within tolerances:
//  - mono (4 points, the curve the model's three fitted constants come from): within 10 %. Its
//    fit is ~3.4 %; 10 % is below the spread of the real runs themselves (the balloon alone took
//    2.0-2.7 s for the same descent, +-15 %), so a change that bends the curve fails here.
//  - random (2 points, one fitted parameter; its range and iteration count were not recorded):
//    within 30 %. The model's uniform-touch miss rate makes random too sensitive at 288 MiB and
//    not sensitive enough at 256 MiB (~+-27 %); this bound catches a regression, not a good fit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calibrationFit, CALIBRATION_MONO, CALIBRATION_RANDOM, runStatic } from '../../../src/sim/calibration.ts';
import { MIB } from '../../../src/hosts/sim/constants.ts';
import { initialState, requestTarget, startSim, stepSim } from '../../../src/hosts/sim/step.ts';

const MONO_TOLERANCE = 0.1;
const RANDOM_TOLERANCE = 0.3;

test('calibration: mono and random at the measured static allocations', () => {
  const rows = calibrationFit();
  const table = rows.map((r) => `  ${r.workload.padEnd(6)} ${String(r.allocMiB).padStart(4)} MiB  measured ${r.seconds.toFixed(1).padStart(5)} s  simulated ${r.simulatedS.toFixed(1).padStart(5)} s  ${(r.relError * 100).toFixed(1).padStart(6)} %`);
  const maxOf = (w: string): number => Math.max(...rows.filter((r) => r.workload === w).map((r) => Math.abs(r.relError)));
  console.log(`calibration fit (docs/measurements.md section 2):\n${table.join('\n')}\n  max |error|: mono ${(maxOf('mono') * 100).toFixed(1)} %, random ${(maxOf('random') * 100).toFixed(1)} %`);
  for (const r of rows) {
    const tol = r.workload === 'mono' ? MONO_TOLERANCE : RANDOM_TOLERANCE;
    assert.ok(Math.abs(r.relError) <= tol, `${r.workload} at ${r.allocMiB} MiB: simulated ${r.simulatedS.toFixed(2)} s vs measured ${r.seconds} s`);
  }
});

test('calibration: less memory is never faster, and the slowdown is steep below the working set', () => {
  let prev = 0;
  for (const mib of [512, 448, 384, 352, 320, 304, 288, 272, 256]) {
    const t = runStatic(CALIBRATION_MONO, mib * MIB);
    assert.ok(t >= prev, `mono at ${mib} MiB took ${t} s, less than ${prev} s with more memory`);
    prev = t;
  }
  assert.ok(runStatic(CALIBRATION_MONO, 256 * MIB) > 10 * runStatic(CALIBRATION_MONO, 512 * MIB));
});

test('calibration: the result does not depend on the step size (the clock is virtual)', () => {
  const a = runStatic(CALIBRATION_RANDOM, 272 * MIB, 50);
  const b = runStatic(CALIBRATION_RANDOM, 272 * MIB, 10);
  assert.ok(Math.abs(a - b) / b < 0.02, `${a} s at 50 ms steps vs ${b} s at 10 ms steps`);
});

test('calibration, out of sample: deflating 256 -> 512 MiB at t = 20 s (measured: 89.5 s became 28 s)', () => {
  const guest = { id: 'g', domid: 1, minKiB: 0, maxKiB: 512 * MIB, initialKiB: 512 * MIB, swapKiB: 512 * MIB, shares: 1, selfAdjust: false, agent: { kind: 'none' as const }, balloon: { kind: 'ideal' as const }, workload: CALIBRATION_MONO, startMs: 0, leaveMs: null };
  let s = requestTarget(startSim(initialState({ hostTotalKiB: 2048 * MIB, dom0: { initialKiB: 256 * MIB, minKiB: 256 * MIB, maxKiB: 256 * MIB, committedKiB: 128 * MIB, changes: [] }, guests: [guest] })).state, 'g', 256 * MIB);
  while (s.guests[0]?.finishedAtMs === null && s.atMs < 600_000) {
    if (s.atMs === 20_000) s = requestTarget(s, 'g', 512 * MIB);
    s = stepSim(s, 50).state;
  }
  const t = (s.guests[0]?.finishedAtMs ?? Infinity) / 1000;
  console.log(`deflate at 20 s: simulated ${t.toFixed(1)} s, measured 28 s (${(((t - 28) / 28) * 100).toFixed(1)} %)`);
  // Not fitted: within 25 %, and far from both static runs.
  assert.ok(Math.abs(t - 28) / 28 <= 0.25, `${t} s`);
});
