// The paper's policy (Zhang et al. 2011, Algorithms 1-3), pure. PROVISIONAL STUB: the real
// arithmetic lands shortly; the exported names and signatures below are the contract.
import type { Decision, DecideInput, Policy, PolicyParams } from './types.ts';

export const DEFAULT_PARAMS: PolicyParams = {
  tau: 0.75,
  eps: 0.1,
  reserveKiB: 65536,
  upRatio: 2,
  downRatio: 4,
};

export const decide: Policy = (input: DecideInput): Decision => ({
  state: 'abundant',
  overcommitted: false,
  price: null,
  dom0: { goalKiB: input.dom0.currentKiB, targetKiB: input.dom0.currentKiB, reclaimKiB: 0 },
  guests: input.guests.map((g) => ({ id: g.id, mode: 'held', goalKiB: g.currentKiB, targetKiB: g.currentKiB })),
});
