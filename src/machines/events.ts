// Every external input to the supervisor. Each carries `at`, the shell's timestamp in ms:
// nothing below the shell reads the wall clock, and the journal of these events replays every
// decision exactly. Memory in integer KiB.

/** A host has found a guest (Xen: a domain in /local/domain; KVM: a QEMU instance; sim). */
export interface GuestAppeared {
  type: 'guest.appeared';
  at: number;
  id: string;
  /** Xen domid or other numeric handle, used for log bindings; never text a guest supplied. */
  domid: number;
  minKiB: number;
  maxKiB: number;
  currentKiB: number;
  shares: number;
}

export interface GuestLeft {
  type: 'guest.left';
  at: number;
  id: string;
}

/** The agent's registration: the first half of the handshake (paper section 4.3). */
export interface AgentHello {
  type: 'agent.hello';
  at: number;
  id: string;
  protocol: number;
  /** The agent's own configuration: does this guest want to self-adjust? */
  selfAdjust: boolean;
}

/**
 * One meminfo report from a guest's agent, as a host emits it (parsed and validated). Hosts emit
 * these one at a time; the input stream smooths and rate-limits them and hands the supervisor
 * `agent.reports` batches instead (src/streams/inputs.ts).
 */
export interface AgentReport {
  type: 'agent.report';
  at: number;
  id: string;
  committedKiB: number;
  freeKiB: number;
  swapTotalKiB: number;
  swapFreeKiB: number;
}

/** One guest's report inside an `agent.reports` batch: smoothed, rate-limited. */
export interface ReportEntry {
  id: string;
  committedKiB: number;
  freeKiB: number;
  swapTotalKiB: number;
  swapFreeKiB: number;
}

/**
 * The reports that reached the input stream within one short window (REPORT_BATCH_MS), as one
 * input: one supervisor event however many guests reported. At most one entry per guest (the
 * latest), in the order the guests first reported; `at` is the latest report's time.
 */
export interface AgentReports {
  type: 'agent.reports';
  at: number;
  reports: ReportEntry[];
}

/** What the host itself says: free memory, Dom0, and each guest's current allocation. */
export interface HostSample {
  type: 'host.sample';
  at: number;
  freeKiB: number;
  dom0: { currentKiB: number; committedKiB: number };
  /** Current allocation per guest id (Xen: tot_pages; KVM: balloon actual). */
  allocations: Record<string, number>;
}

/** Algorithm 1 runs once per tick (paper: 1 s). */
export interface Tick {
  type: 'tick';
  at: number;
}

/** The outcome of an effect the shell ran for the supervisor (a target or a mode write). */
export interface EffectFailed {
  type: 'effect.failed';
  at: number;
  id: string;
  effect: 'setTarget' | 'setMode';
  error: string;
}

export type SupervisorInput =
  | GuestAppeared
  | GuestLeft
  | AgentHello
  | AgentReports
  | HostSample
  | Tick
  | EffectFailed;

export type SupervisorInputType = SupervisorInput['type'];

/** Protocol version this supervisor speaks in the registration handshake. */
export const PROTOCOL_VERSION = 1;
