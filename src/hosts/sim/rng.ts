// A seeded pseudo-random generator (mulberry32): every workload and every intermittent balloon
// is a pure function of its seed, so a scenario runs the same way every time.

export type Rng = () => number;

/** Uniform in [0, 1), from a 32-bit seed. */
export function rng(seed: number): Rng {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A stateless hash of (seed, n) to [0, 1): for decisions indexed by time (balloon windows). */
export function hash01(seed: number, n: number): number {
  return rng((Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(n | 0, 0x85ebca6b)) | 0)();
}
