// Every policy by name: memcoop's own (the paper's) and the peers it is compared with. The
// supervisor config names the one that runs (config.policy), so a journal header says which
// policy made its decisions and `memcoop replay` replays it with the same one.
import { decide } from './decide.ts';
import { PEER_POLICIES } from './peers/index.ts';
import type { Policy } from './types.ts';

export const POLICY_NAMES = ['memcoop', 'static', 'selfballoon', 'qmemman', 'squeezed', 'mom'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];
/** The paper's policy: what runs unless the config names another. */
export const DEFAULT_POLICY_NAME: PolicyName = 'memcoop';

export function policyByName(name: PolicyName): Policy {
  if (name === 'memcoop') return decide;
  const p = PEER_POLICIES[name];
  if (p === undefined) throw new RangeError(`no policy named ${JSON.stringify(name)}`);
  return p;
}

/** The name of a policy function, or null for one that is not registered (a wrapper, a test's). */
export function nameOfPolicy(policy: Policy): PolicyName | null {
  for (const name of POLICY_NAMES) if (policyByName(name) === policy) return name;
  return null;
}
