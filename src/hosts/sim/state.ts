// The simulated host's whole state, as plain data. stepSim (step.ts) maps a state and a time step
// to the next state and what happened; nothing here reads a clock or does I/O.
import type { AgentModel } from './agent.ts';
import type { BalloonModel } from './balloon.ts';
import type { Phase, WorkloadSpec } from './workload.ts';
import type { Mode } from '../../vocabulary/mode.ts';

export interface GuestConfig {
  id: string;
  /** Numeric handle for log bindings (Xen's domid). */
  domid: number;
  minKiB: number;
  maxKiB: number;
  /** Allocation the guest is created with. */
  initialKiB: number;
  swapKiB: number;
  shares: number;
  /** The agent's own preference in the handshake. */
  selfAdjust: boolean;
  agent: AgentModel;
  balloon: BalloonModel;
  workload: WorkloadSpec;
  /** When the guest is created (virtual ms). */
  startMs: number;
  /** When it is destroyed; null: it stays. */
  leaveMs: number | null;
}

export interface Dom0Config {
  initialKiB: number;
  minKiB: number;
  maxKiB: number;
  committedKiB: number;
  /** Dom0's Committed_AS rises (or falls) to committedKiB at atMs: toolstack work, a backup, qemu. */
  changes: readonly { atMs: number; committedKiB: number }[];
}

export interface SimConfig {
  /** Memory the hypervisor can hand to domains (Dom0 included). */
  hostTotalKiB: number;
  dom0: Dom0Config;
  guests: readonly GuestConfig[];
}

export type GuestStatus = 'pending' | 'running' | 'left';

export interface BalloonState {
  actualKiB: number;
  /** Last requested target; null until someone writes one. */
  targetKiB: number | null;
  /** Growing time the hypervisor could not fund, since the target last changed. */
  blockedMs: number;
  /** The driver gave up growing (BALLOON_GIVE_UP_TRIES); a new target wakes it. */
  givenUp: boolean;
}

export interface GuestState {
  config: GuestConfig;
  phases: readonly Phase[];
  status: GuestStatus;
  balloon: BalloonState;
  mode: Mode | null;
  protocol: number | null;
  phaseIndex: number;
  /** Done share of the current phase, in [0, 1). */
  phaseProgress: number;
  /** Page cache left from finished phases. */
  staleCacheKiB: number;
  startedAtMs: number | null;
  /** Virtual time the last phase finished (fractional ms; the outcome). */
  finishedAtMs: number | null;
  /** The workload was OOM-killed (anonymous overflow larger than swap). */
  killedAtMs: number | null;
  /** Major faults so far. */
  faults: number;
  /**
   * The guest kernel's PSI memory "some" avg10 as a fraction in [0, 1]: the share of recent
   * wall time the workload spent stalled on faults, averaged the way the kernel does (psi.ts).
   */
  psiSome: number;
  /** Reports sent so far (numbers garbage turns) and when the next is due. */
  reportsSent: number;
  nextReportMs: number;
}

export interface Dom0State {
  config: Dom0Config;
  balloon: BalloonState;
  committedKiB: number;
}

export interface SimState {
  atMs: number;
  hostTotalKiB: number;
  dom0: Dom0State;
  guests: readonly GuestState[];
  nextSampleMs: number;
}

/** Memory the hypervisor has free: total less Dom0 less what every live guest actually holds. */
export function hostFreeKiB(s: SimState): number {
  let used = s.dom0.balloon.actualKiB;
  for (const g of s.guests) if (g.status === 'running') used += g.balloon.actualKiB;
  return s.hostTotalKiB - used;
}
