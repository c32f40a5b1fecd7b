// The policies `memcoop sim` can run, by name: memcoop's own (the paper's, src/policy/decide.ts)
// and the peers it is compared with (src/policy/peers). The order is the comparison table's.
import { decide } from '../policy/decide.ts';
import { PEER_POLICIES } from '../policy/peers/index.ts';
import type { Policy } from '../policy/types.ts';

/** The baseline every runtime is compared with. */
export const BASELINE_POLICY = 'static';
export const MEMCOOP_POLICY = 'memcoop';

export const POLICIES: Readonly<Record<string, Policy>> = Object.freeze({ [MEMCOOP_POLICY]: decide, ...PEER_POLICIES });
export const POLICY_NAMES: readonly string[] = Object.keys(POLICIES);

export function policyByName(name: string): Policy {
  const p = POLICIES[name];
  if (p === undefined) throw new RangeError(`unknown policy "${name}" (one of: ${POLICY_NAMES.join(', ')})`);
  return p;
}
