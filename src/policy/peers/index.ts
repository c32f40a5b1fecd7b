// The peer policies memcoop is compared with in the simulator (`memcoop sim --compare`,
// `memcoop sim --sweep`), each behind the same Policy type as memcoop's own. Each file says what
// the peer does, the upstream source it follows, which constants it borrows, and what the
// simulator cannot model. These are the one-decision forms (every peer acting on this input);
// the supervisor runs each at its own pace through its machine (paced.ts, registry.ts).
import type { Policy } from '../types.ts';
import { mom } from './mom.ts';
import { qmemman } from './qmemman.ts';
import { selfballoon } from './selfballoon.ts';
import { squeezed } from './squeezed.ts';
import { staticPolicy } from './static.ts';

export const PEER_POLICIES: Record<string, Policy> = {
  static: staticPolicy,
  selfballoon,
  qmemman,
  squeezed,
  mom,
};

export { mom, qmemman, selfballoon, squeezed, staticPolicy };
