// A guest's mode: the one name for what the supervisor decides for a guest, tells its agent, and
// keeps as written. 'self': the agent adjusts itself toward its commit (paper Algorithm 2);
// 'global': the supervisor's balance sets its target; 'reclaim': global while Dom0 takes memory
// back; 'held': left where it is, outside the balance. A decision never holds a participating
// guest, so what a decision gives is Exclude<Mode, 'held'>.
import type { GuestMode } from '../policy/types.ts';

export type Mode = GuestMode | 'reclaim';
