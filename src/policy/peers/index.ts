// The peer policies memcoop is compared with in the simulator (`memcoop sim --compare`), each
// behind the same Policy type as memcoop's own (src/policy/decide.ts). Each file says what the
// peer does, which constants it borrows and where they come from.
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
