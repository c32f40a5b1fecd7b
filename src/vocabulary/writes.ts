// The effects the supervisor issues, as data: the named actions' parameters (what the shell
// receives) and the `writes` list each tick's `decision` event (and each prompt `selfStep`)
// carries (what replay and logs see).
import type { Mode } from './mode.ts';
import type { Decision } from '../policy/types.ts';

/**
 * The id under which Dom0's own target is written (writeTarget params). Hosts map it to their
 * control domain (Xen: domain 0; KVM: the host itself). A guest may not use it as its id.
 */
export const DOM0_ID = 'dom0';

/** Parameters of the `writeTarget` action: move `id`'s balloon to targetKiB. */
export interface TargetWriteParams {
  id: string;
  targetKiB: number;
  /** Written by a prompt self step (a guest waits for it now), not by a tick. */
  prompt?: true;
}

/** Parameters of the `writeMode` action: tell `id`'s agent its mode, and the protocol we speak. */
export interface ModeWriteParams {
  id: string;
  mode: Mode;
  protocol: number;
}

export type Write =
  | ({ kind: 'mode' } & ModeWriteParams)
  /** fromKiB: the allocation when the target was issued (decrease: targetKiB < fromKiB). */
  | ({ kind: 'target'; fromKiB: number } & TargetWriteParams);

/** Emitted once per tick that ran the policy, in the order the effects were issued. */
export interface DecisionEvent {
  type: 'decision';
  at: number;
  decision: Decision;
  writes: Write[];
}

/**
 * Emitted when reports arriving between ticks moved self-adjusting guests at once (prompt self
 * adjustment, policy/self-step.ts): each reporting guest's new goal and target, the target
 * writes issued (decreases first), and the free budget left for further increases before the
 * next host sample.
 */
export interface SelfStepEvent {
  type: 'selfStep';
  at: number;
  guests: { id: string; goalKiB: number; targetKiB: number }[];
  writes: Write[];
  budgetKiB: number;
}

/** Emitted on every agent hello: what the supervisor answered. */
export interface HandshakeEvent {
  type: 'handshake';
  at: number;
  id: string;
  accepted: boolean;
  mode: Mode;
}

export type SupervisorEmitted = DecisionEvent | SelfStepEvent | HandshakeEvent;
