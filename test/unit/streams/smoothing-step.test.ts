// The pure smoothing step of section 5.1 (src/policy/smoothing.ts).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FMD_KIB,
  INITIAL_SMOOTH_STATE,
  LASTING_RISE_SAMPLES,
  smoothStep,
  type SmoothOptions,
  type SmoothResult,
  type SmoothState,
} from '../../../src/policy/smoothing.ts';

const OPTS: SmoothOptions = { k: 3, fmdKiB: FMD_KIB };

/** Runs samples through the step; returns each result. */
function run(samples: number[], opts: SmoothOptions = OPTS, state: SmoothState = INITIAL_SMOOTH_STATE): SmoothResult[] {
  const out: SmoothResult[] = [];
  for (const s of samples) {
    const r = smoothStep(state, s, opts);
    out.push(r);
    state = r.state;
  }
  return out;
}

const values = (rs: SmoothResult[]) => rs.map((r) => r.valueKiB);

describe('smoothStep (paper, section 5.1)', () => {
  test('fmd is the paper\'s 5 MiB', () => {
    assert.equal(FMD_KIB, 5120);
  });

  test('the first sample is taken as it is', () => {
    const [r] = run([123_456]);
    assert.deepEqual(r, { state: { accepted: [123_456], outliers: [] }, valueKiB: 123_456, outlier: false });
  });

  test('a rise of exactly fmd over the mean is accepted; one KiB more is an outlier replaced by the integer mean', () => {
    // window 100000, 100001 -> mean 100000.5, floored to 100000
    const base = [100_000, 100_001];
    assert.deepEqual(values(run([...base, 100_000 + FMD_KIB])).at(-1), 100_000 + FMD_KIB);
    const last = run([...base, 100_000 + FMD_KIB + 1]).at(-1);
    assert.equal(last?.outlier, true);
    assert.equal(last?.valueKiB, 100_000);
  });

  test('a reclaim burst (one high sample) is replaced and does not enter the window', () => {
    const rs = run([200_000, 201_000, 202_000, 300_000, 203_000]);
    assert.deepEqual(values(rs), [200_000, 201_000, 202_000, 201_000, 203_000]);
    assert.deepEqual(rs.map((r) => r.outlier), [false, false, false, true, false]);
    // The window after the burst holds the accepted samples only (k = 3).
    assert.deepEqual(rs.at(-1)?.state.accepted, [201_000, 202_000, 203_000]);
  });

  test('the mean is over the previous k accepted samples only', () => {
    // Falling samples are all accepted. k = 2: the window is then [100000, 100000], so
    // 100000 + fmd + 1 is an outlier, replaced by 100000.
    const samples = [200_000, 100_000, 100_000, 100_000 + FMD_KIB + 1];
    const k2 = run(samples, { k: 2, fmdKiB: FMD_KIB }).at(-1);
    assert.equal(k2?.outlier, true);
    assert.equal(k2?.valueKiB, 100_000);
    // k = 3: the 200000 still weighs in (mean 133333), so the same sample is no outlier.
    const k3 = run(samples, { k: 3, fmdKiB: FMD_KIB }).at(-1);
    assert.equal(k3?.outlier, false);
    assert.equal(k3?.valueKiB, 100_000 + FMD_KIB + 1);
  });

  test('a drop in free memory is never an outlier: pressure is seen at once', () => {
    const rs = run([500_000, 500_000, 10_000]);
    assert.deepEqual(values(rs), [500_000, 500_000, 10_000]);
    assert.ok(rs.every((r) => !r.outlier));
  });

  test('does not change the state it is given', () => {
    const state: SmoothState = Object.freeze({ accepted: Object.freeze([1000, 1000]), outliers: Object.freeze([]) });
    smoothStep(state, 900_000, OPTS);
    smoothStep(state, 1000, OPTS);
    assert.deepEqual(state, { accepted: [1000, 1000], outliers: [] });
  });

  test('rejects bad options and samples', () => {
    assert.throws(() => smoothStep(INITIAL_SMOOTH_STATE, 1, { k: 0, fmdKiB: 1 }), /k must be/);
    assert.throws(() => smoothStep(INITIAL_SMOOTH_STATE, 1, { k: 1.5, fmdKiB: 1 }), /k must be/);
    assert.throws(() => smoothStep(INITIAL_SMOOTH_STATE, 1, { k: 1, fmdKiB: -1 }), /fmdKiB/);
    assert.throws(() => smoothStep(INITIAL_SMOOTH_STATE, 1, { k: 1, fmdKiB: 1, lastingRiseSamples: 1 }), /lastingRiseSamples/);
    assert.throws(() => smoothStep(INITIAL_SMOOTH_STATE, 1.5, OPTS), /whole number/);
    assert.throws(() => smoothStep(INITIAL_SMOOTH_STATE, -1, OPTS), /whole number/);
  });
});

describe('smoothStep: a lasting rise (beyond the paper)', () => {
  test(`after ${LASTING_RISE_SAMPLES} consecutive outliers the new level is accepted and becomes the window`, () => {
    const low = 100_000;
    const high = 400_000; // e.g. the balloon gave the guest 300 MiB
    const rs = run([low, low, low, high, high + 10, high + 20, high + 30]);
    assert.deepEqual(rs.map((r) => r.outlier), [false, false, false, true, true, false, false]);
    assert.deepEqual(values(rs), [low, low, low, low, low, high + 20, high + 30]);
    assert.deepEqual(rs[5]?.state.accepted, [high, high + 10, high + 20]);
    assert.equal(LASTING_RISE_SAMPLES, 3);
  });

  test('without the rule (paper alone) a lasting rise would be rejected forever: the rule is what accepts it', () => {
    // Paper's rule alone = a lasting threshold no run ever reaches.
    const paperOnly = { ...OPTS, lastingRiseSamples: Number.MAX_SAFE_INTEGER };
    const rs = run([100_000, 100_000, ...Array<number>(50).fill(400_000)], paperOnly);
    assert.ok(rs.slice(2).every((r) => r.outlier && r.valueKiB === 100_000));
    const withRule = run([100_000, 100_000, ...Array<number>(50).fill(400_000)]);
    assert.equal(withRule.at(-1)?.valueKiB, 400_000);
  });

  test('an interrupted run of outliers starts counting again', () => {
    const rs = run([100_000, 100_000, 400_000, 400_000, 100_000, 400_000, 400_000, 400_000]);
    assert.deepEqual(rs.map((r) => r.outlier), [false, false, true, true, false, true, true, false]);
  });

  test('property: values are integers, taken from the sample or the window mean, and no more than LASTING-1 outliers in a row', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 64 * 1024 * 1024 }), { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 0, max: 64 * 1024 }),
        (samples, k, fmdKiB) => {
          let state = INITIAL_SMOOTH_STATE;
          let run = 0;
          for (const s of samples) {
            const before = state.accepted;
            const r = smoothStep(state, s, { k, fmdKiB });
            assert.ok(Number.isSafeInteger(r.valueKiB));
            assert.ok(r.state.accepted.length >= 1 && r.state.accepted.length <= k);
            if (r.outlier) {
              const mean = Math.floor(before.reduce((a, b) => a + b, 0) / before.length);
              assert.equal(r.valueKiB, mean);
              assert.ok(s - mean > fmdKiB);
              run += 1;
            } else {
              assert.equal(r.valueKiB, s);
              run = 0;
            }
            assert.ok(run < LASTING_RISE_SAMPLES);
            state = r.state;
          }
        },
      ),
    );
  });
});
