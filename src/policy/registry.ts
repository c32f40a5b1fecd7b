// Every policy by name: memcoop's own, the paper's as written, and the peers it is compared
// with. The supervisor config names the one that runs (config.policy), so a journal header says
// which policy made its decisions and `memcoop replay` replays it with the same one.
// The peers that keep their own pace and history (selfballoon, qmemman, squeezed, mom:
// src/policy/peers/paced.ts) are machines: policyByName makes a fresh instance of one on every
// call, so a caller makes one per run and keeps it (the supervisor does).
import { decide } from './decide.ts';
import { paper } from './paper.ts';
import { pacedPolicy } from './peers/paced.ts';
import { momMachine } from './peers/mom.ts';
import { qmemmanMachine } from './peers/qmemman.ts';
import { selfballoonMachine } from './peers/selfballoon.ts';
import { squeezedMachine } from './peers/squeezed.ts';
import { staticPolicy } from './peers/static.ts';
import type { Policy } from './types.ts';

export const POLICY_NAMES = ['memcoop', 'paper', 'static', 'selfballoon', 'qmemman', 'squeezed', 'mom'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];
/** memcoop's policy: what runs unless the config names another. */
export const DEFAULT_POLICY_NAME: PolicyName = 'memcoop';
/** The baseline `memcoop sim` compares every runtime with (its score divides by static's). */
export const BASELINE_POLICY_NAME: PolicyName = 'static';

/** Whether a name read from a command line or a file is a policy's. */
export function isPolicyName(name: string): name is PolicyName {
  return (POLICY_NAMES as readonly string[]).includes(name);
}

/** The name, if it is a policy's; else a RangeError listing the names. */
export function checkPolicyName(name: string): PolicyName {
  if (!isPolicyName(name)) throw new RangeError(`unknown policy "${name}" (one of: ${POLICY_NAMES.join(', ')})`);
  return name;
}

export function policyByName(name: PolicyName): Policy {
  switch (name) {
    case 'memcoop': return decide;
    case 'paper': return paper;
    case 'static': return staticPolicy;
    case 'selfballoon': return pacedPolicy(selfballoonMachine);
    case 'qmemman': return pacedPolicy(qmemmanMachine);
    case 'squeezed': return pacedPolicy(squeezedMachine);
    case 'mom': return pacedPolicy(momMachine);
  }
  throw new RangeError(`no policy named ${JSON.stringify(name)}`);
}

/** The name of a stateless policy function, or null (a paced peer's instance, a wrapper, a test's). */
export function nameOfPolicy(policy: Policy): PolicyName | null {
  if (policy === decide) return 'memcoop';
  if (policy === paper) return 'paper';
  if (policy === staticPolicy) return 'static';
  return null;
}
