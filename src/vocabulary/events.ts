// Every external input to the supervisor. Each carries `at`, the shell's timestamp in ms:
// nothing below the shell reads the wall clock, and the journal of these events replays every
// decision exactly. Memory in integer KiB.
import type { SupervisorConfig } from './config.ts';

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
/**
 * What an agent of protocol 1 may add to its report (docs/agent-protocol.md). Each is absent when
 * the guest's kernel lacks it (no PSI, no workingset_refault_anon before Linux 5.9) or the agent
 * could not read it: absent, never 0 in its place. Counters are as the kernel counts them since
 * boot (pages or events); the supervisor does not use them yet.
 */
export interface ReportExtras {
  /** MemAvailable, KiB. */
  availableKiB?: number;
  /** /proc/vmstat pswpin and pswpout: pages swapped in and out. */
  pswpin?: number;
  pswpout?: number;
  /** /proc/vmstat pgmajfault: major faults. */
  pgmajfault?: number;
  /** /proc/vmstat workingset_refault_anon and _file: refaulted pages. */
  refaultAnon?: number;
  refaultFile?: number;
  /** /proc/pressure/memory avg10 of "some" and "full", in hundredths of a per cent (0.57 % is 57). */
  psiSomeAvg10?: number;
  psiFullAvg10?: number;
  /** /proc/pressure/memory total of "some" and "full": microseconds stalled. */
  psiSomeTotalUs?: number;
  psiFullTotalUs?: number;
}

/** The optional report fields, in the order reports and journal lines carry them. */
export const REPORT_EXTRA_FIELDS = [
  'availableKiB',
  'pswpin',
  'pswpout',
  'pgmajfault',
  'refaultAnon',
  'refaultFile',
  'psiSomeAvg10',
  'psiFullAvg10',
  'psiSomeTotalUs',
  'psiFullTotalUs',
] as const satisfies readonly (keyof ReportExtras)[];

/** The four fields of every report (smoothed meminfo, KiB): what the policy reads of a guest. */
export interface ReportFields {
  committedKiB: number;
  freeKiB: number;
  swapTotalKiB: number;
  swapFreeKiB: number;
}

export interface AgentReport extends ReportExtras, ReportFields {
  type: 'agent.report';
  at: number;
  id: string;
}

/** One guest's report inside an `agent.reports` batch: smoothed, rate-limited. */
export interface ReportEntry extends ReportExtras, ReportFields {
  id: string;
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

/** Paper, section 4: the cooperation algorithm runs every second. */
export const DEFAULT_TICK_MS = 1000;

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

/**
 * The operator's configuration, re-read on SIGHUP and checked: the supervisor takes it at its
 * next tick. Journaled like every input, so a replay changes configuration where the run did.
 */
export interface ConfigChanged {
  type: 'config.changed';
  at: number;
  config: SupervisorConfig;
}

/**
 * Memory the operator reserved for domains about to start (memcoop reserve), all reservations
 * together from now on: treated like Dom0's need (served first, reclaimed from the guests in the
 * two-phase way) and kept free rather than given to Dom0.
 */
export interface ReserveSet {
  type: 'reserve.set';
  at: number;
  reservedKiB: number;
}

/**
 * Events a host produces. Agent reports here are raw (parsed and bounded, not yet smoothed);
 * src/streams smooths them before they reach the supervisor.
 */
export type HostEvent = GuestAppeared | GuestLeft | AgentHello | AgentReport | HostSample;

export type SupervisorInput =
  | GuestAppeared
  | GuestLeft
  | AgentHello
  | AgentReports
  | HostSample
  | Tick
  | EffectFailed
  | ConfigChanged
  | ReserveSet;

export type SupervisorInputType = SupervisorInput['type'];

/** Protocol version this supervisor speaks in the registration handshake. */
export const PROTOCOL_VERSION = 1;
