// The policies `memcoop sim` can run, by name: memcoop's own (the paper's, src/policy/decide.ts)
// and the peers it is compared with (src/policy/peers), as src/policy/registry.ts names them; the
// order is the comparison table's.
import { POLICY_NAMES as REGISTRY_NAMES, policyByName as registryPolicy, type PolicyName } from '../policy/registry.ts';
import type { Policy } from '../policy/types.ts';

export type { PolicyName };

/** The baseline every runtime is compared with. */
export const BASELINE_POLICY: PolicyName = 'static';
export const MEMCOOP_POLICY: PolicyName = 'memcoop';

/** Typed as strings so a name read from the command line can be looked up in it. */
export const POLICY_NAMES: readonly string[] = REGISTRY_NAMES;

/** The name, if it is one; else a RangeError listing the names. */
export function checkPolicyName(name: string): PolicyName {
  const found = REGISTRY_NAMES.find((n) => n === name);
  if (found === undefined) throw new RangeError(`unknown policy "${name}" (one of: ${POLICY_NAMES.join(', ')})`);
  return found;
}

export function policyByName(name: string): Policy {
  return registryPolicy(checkPolicyName(name));
}
