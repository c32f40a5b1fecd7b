// The real measurements the slowdown model is fitted to (docs/measurements.md section 2: one QEMU TCG
// guest booted with 512 MiB and 512 MiB of swap, ballooned to a static allocation, running the
// workload once), and the same experiment in the simulator.
import { DEFAULT_SWAP_KIB, MIB, PAGE_TOUCH_NS } from '../hosts/sim/constants.ts';
import { initialState, requestTarget, startSim, stepSim } from '../hosts/sim/step.ts';
import type { SimConfig } from '../hosts/sim/state.ts';
import type { MonoSpec, RandomSpec, WorkloadSpec } from '../hosts/sim/workload.ts';

/** The guest's boot size in those runs (QEMU -m 512M). */
export const CALIBRATION_BOOT_KIB = 512 * MIB;

/** mono 32 -> 256 -> 32 MiB, 2 passes per step (docs/measurements.md). The 32 MiB step is our reading. */
export const CALIBRATION_MONO: MonoSpec = { kind: 'mono', lowMiB: 32, highMiB: 256, stepMiB: 32, passes: 2 };

/** random's measured time at 512 MiB, where nothing faults: 12.7 s over its 16 phases. */
const RANDOM_PHASE_MS = 12_700 / 16;
/**
 * Of each random phase, the CPU work that is not page touching. FITTED to random's 288 and
 * 256 MiB runs (it sets how much of the phase a deficit can slow).
 */
const RANDOM_CPU_MS_PER_PHASE = 741;

/**
 * random as measured. docs/measurements.md gives neither its range nor its iteration count; we take the
 * same range as mono and 16 phases (seed 1), and split each phase's 12.7 s / 16 between touches
 * and other work so that it takes 12.7 s at 512 MiB.
 */
export const CALIBRATION_RANDOM: RandomSpec = {
  kind: 'random',
  lowMiB: 32,
  highMiB: 256,
  phases: 16,
  touchesPerPhase: Math.round(((RANDOM_PHASE_MS - RANDOM_CPU_MS_PER_PHASE) * 1e6) / PAGE_TOUCH_NS),
  cpuMsPerPhase: RANDOM_CPU_MS_PER_PHASE,
  seed: 1,
};

export interface Measurement {
  workload: 'mono' | 'random';
  allocMiB: number;
  seconds: number;
}

/** docs/measurements.md section 2, as measured. */
export const MEASUREMENTS: readonly Measurement[] = [
  { workload: 'mono', allocMiB: 512, seconds: 4.7 },
  { workload: 'mono', allocMiB: 384, seconds: 5.4 },
  { workload: 'mono', allocMiB: 320, seconds: 13.4 },
  { workload: 'mono', allocMiB: 288, seconds: 42.6 },
  { workload: 'mono', allocMiB: 256, seconds: 89.5 },
  { workload: 'random', allocMiB: 512, seconds: 12.7 },
  { workload: 'random', allocMiB: 288, seconds: 14.7 },
  { workload: 'random', allocMiB: 256, seconds: 32.3 },
];

/** Virtual time step of the calibration runs: small against the balloon's 2.3 s descent. */
export const CALIBRATION_STEP_MS = 50;

/** Runs one workload in a guest booted at 512 MiB and ballooned to allocKiB at t = 0; seconds. */
export function runStatic(workload: WorkloadSpec, allocKiB: number, stepMs = CALIBRATION_STEP_MS): number {
  const config: SimConfig = {
    hostTotalKiB: 2 * CALIBRATION_BOOT_KIB,
    dom0: { initialKiB: 256 * MIB, minKiB: 256 * MIB, maxKiB: 256 * MIB, committedKiB: 128 * MIB, changes: [] },
    guests: [
      {
        id: 'calib',
        domid: 1,
        minKiB: 0,
        maxKiB: CALIBRATION_BOOT_KIB,
        initialKiB: CALIBRATION_BOOT_KIB,
        swapKiB: DEFAULT_SWAP_KIB,
        shares: 1,
        selfAdjust: false,
        agent: { kind: 'none' },
        balloon: { kind: 'ideal' },
        workload,
        startMs: 0,
        leaveMs: null,
      },
    ],
  };
  let s = requestTarget(startSim(initialState(config)).state, 'calib', allocKiB);
  const limitMs = CALIBRATION_LIMIT_S * 1000;
  for (;;) {
    const g = s.guests[0];
    if (g === undefined) throw new Error('calibration guest missing');
    if (g.finishedAtMs !== null) return (g.finishedAtMs - (g.startedAtMs ?? 0)) / 1000;
    if (g.killedAtMs !== null) throw new Error(`calibration workload OOM-killed at ${allocKiB} KiB`);
    if (s.atMs > limitMs) throw new Error(`calibration workload still running after ${CALIBRATION_LIMIT_S} s`);
    s = stepSim(s, stepMs).state;
  }
}

/** A calibration run longer than this is a broken model, not a slow guest. */
const CALIBRATION_LIMIT_S = 3600;

export interface FitRow extends Measurement {
  simulatedS: number;
  /** (simulated - measured) / measured. */
  relError: number;
}

/** Every measurement next to the simulator's time for the same run. */
export function calibrationFit(): FitRow[] {
  return MEASUREMENTS.map((m) => {
    const simulatedS = runStatic(m.workload === 'mono' ? CALIBRATION_MONO : CALIBRATION_RANDOM, m.allocMiB * MIB);
    return { ...m, simulatedS, relError: (simulatedS - m.seconds) / m.seconds };
  });
}
