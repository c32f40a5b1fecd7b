// memcoop as a library: `import { decide } from 'memcoop'`. The policy's entry point and the
// types of its input and answer, as src/policy defines them (compiled to dist/index.js, typed
// by dist/types/index.d.ts); the daemon, the simulator and the hosts stay behind the CLI.
export { decide, DEFAULT_PARAMS } from './policy/decide.ts';
export type * from './policy/types.ts';
// What decide reports behind a decision when the input sets trace: true (Decision.trace).
export type * from './policy/trace.ts';
