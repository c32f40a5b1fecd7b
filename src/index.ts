// memcoop as a library: `import { decide } from 'memcoop'`. The policy's entry point and the
// types of its input and answer, as src/policy defines them (compiled to dist/index.js, typed
// by dist/types/index.d.ts); the daemon, the simulator and the hosts stay behind the CLI.
import { decide as policyDecide, NO_DOM0 } from './policy/decide.ts';
import type { DecideInput, Decision, Dom0Input } from './policy/types.ts';

export { DEFAULT_PARAMS, NO_DOM0 } from './policy/decide.ts';

/** decide's input as a library takes it: Dom0 may be left out (a KVM host has none). */
export type LibraryDecideInput = Omit<DecideInput, 'dom0'> & { dom0?: Dom0Input };

/** memcoop's policy, once: pure, integer KiB in and out (see DecideInput and Decision). */
export function decide(input: LibraryDecideInput): Decision {
  return policyDecide(input.dom0 === undefined ? { ...input, dom0: NO_DOM0 } : (input as DecideInput));
}
export type * from './policy/types.ts';
// What decide reports behind a decision when the input sets trace: true (Decision.trace).
export type * from './policy/trace.ts';
