// `--seed N`: the same scenario with every random source in it re-seeded from N (workload
// sizes and jitter, intermittent balloons). Without a seed the scenario's own seeds are used, so
// a run is a pure function of (scenario, seed) either way.
import type { Scenario } from './scenario.ts';
import type { GuestConfig } from '../hosts/sim/state.ts';
import type { WorkloadSpec } from '../hosts/sim/workload.ts';

/** Largest seed the scenario format accepts (scenario.ts). */
const MAX_SEED = 2 ** 31 - 1;

/** Mixes the run's seed into one of the scenario's (a 32-bit integer hash, then into [0, MAX_SEED]). */
export function mixSeed(runSeed: number, own: number): number {
  let h = Math.imul((runSeed | 0) ^ 0x5bd1e995, 0x9e3779b1) ^ Math.imul(own | 0, 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return (h >>> 0) % MAX_SEED;
}

function reseedWorkload(w: WorkloadSpec, seed: number): WorkloadSpec {
  switch (w.kind) {
    case 'random':
    case 'dacapo':
    case 'kernel-build':
    case 'jvm':
      return { ...w, seed: mixSeed(seed, w.seed) };
    case 'sequence':
      return { ...w, parts: w.parts.map((p) => reseedWorkload(p, seed)) };
    case 'mono':
    case 'compute':
    case 'idle-commit':
    case 'idle':
      return w;
  }
}

function reseedGuest(g: GuestConfig, seed: number): GuestConfig {
  const balloon = g.balloon.kind === 'intermittent' ? { ...g.balloon, seed: mixSeed(seed, g.balloon.seed) } : g.balloon;
  return { ...g, balloon, workload: reseedWorkload(g.workload, seed) };
}

/** The scenario with its random sources re-seeded from `seed`; unchanged when seed is undefined. */
export function reseed(s: Scenario, seed: number | undefined): Scenario {
  if (seed === undefined) return s;
  return { ...s, sim: { ...s.sim, guests: s.sim.guests.map((g) => reseedGuest(g, seed)) } };
}
