// The facts the supervisor keeps about each guest in its own context (plain JSON), and the pure
// rules that update them: the latest report, the allocation, when the agent was last heard,
// what was last written, and the balloon's progress. These change on every tick and report, so
// they are not in the guest machines (an XState event costs ~15 us per actor): the supervisor
// updates them for all guests in one assign per input, and the rules below say when a guest's
// lifecycle must change, which is the only time its machine gets an event (a GuestSignal).
//
// Silence and stalls are counted in ticks that ran the policy (SupervisorContext.ticks): an
// agent is silent for `ticks - heardAtTick` ticks; a stuck balloon has been stuck for
// `ticks - stuckAtTick`.
import type { Mode } from '../vocabulary/mode.ts';
import type { ReportFields } from '../vocabulary/events.ts';

/** One smoothed meminfo report, as the agent sent it. */
export interface GuestReport extends ReportFields {
  /** PSI memory "some" avg10 (hundredths of a per cent), when the agent sends it. */
  psiSomeAvg10?: number;
  /** MemAvailable, when the agent sends it (idle-yield.ts: what a guest not paging could give). */
  availableKiB?: number;
  /** /proc/vmstat pswpin (pages swapped in since boot), when the agent sends it. */
  pswpin?: number;
  /** KiB swapped in since the guest's previous report (pswpin's growth x 4 KiB), when both have pswpin. */
  swapInsKiB?: number;
}

/** x86 base page: pswpin counts pages. */
const SWAP_PAGE_KIB = 4;

/**
 * The report the supervisor keeps: the policy's fields, PSI, and pswpin with its growth since the
 * previous report (a counter that went back, an agent restarted, gives no growth).
 */
export function keptReport(
  r: ReportFields & { psiSomeAvg10?: number; pswpin?: number; availableKiB?: number },
  previous: GuestReport | null,
): GuestReport {
  const { committedKiB, freeKiB, swapTotalKiB, swapFreeKiB, psiSomeAvg10, pswpin, availableKiB } = r;
  const out: GuestReport = { committedKiB, freeKiB, swapTotalKiB, swapFreeKiB };
  if (psiSomeAvg10 !== undefined) out.psiSomeAvg10 = psiSomeAvg10;
  if (availableKiB !== undefined) out.availableKiB = availableKiB;
  if (pswpin !== undefined) {
    out.pswpin = pswpin;
    if (previous?.pswpin !== undefined && pswpin >= previous.pswpin) out.swapInsKiB = (pswpin - previous.pswpin) * SWAP_PAGE_KIB;
  }
  return out;
}

/** What a tick decided and wrote for one guest (planTick, plan.ts): what tickGuest records. */
export interface TickOutcome {
  mode: Exclude<Mode, 'held'> | null;
  goalKiB: number;
  targetKiB: number;
  wroteMode: Mode | null;
  wroteTargetKiB: number | null;
}

/** The thresholds of SupervisorConfig that the rules below apply. */
export interface GuestLimits {
  silenceTicks: number;
  stuckTicks: number;
  stuckRetryTicks: number;
  balloonSlackKiB: number;
}

/** Why a guest is unmanaged: no hello at all, an agent gone quiet, or a protocol we do not speak. */
export type UnmanagedReason = 'noAgent' | 'silent' | 'protocol';


export type GuestStateName =
  | 'registering'
  | 'selfAdjusting'
  | 'globallyControlled'
  | 'reclaimingForDom0'
  | 'stuck'
  | 'unmanaged'
  | 'gone';

export type ManagedState = 'selfAdjusting' | 'globallyControlled' | 'reclaimingForDom0';

export const MODE_OF_MANAGED: Readonly<Record<ManagedState, Exclude<Mode, 'held'>>> = {
  selfAdjusting: 'self',
  globallyControlled: 'global',
  reclaimingForDom0: 'reclaim',
};
export const STATE_OF_MODE: Readonly<Record<Exclude<Mode, 'held'>, ManagedState>> = {
  self: 'selfAdjusting',
  global: 'globallyControlled',
  reclaim: 'reclaimingForDom0',
};

export function isManaged(s: GuestStateName): s is ManagedState {
  return s === 'selfAdjusting' || s === 'globallyControlled' || s === 'reclaimingForDom0';
}

/** The mode the agent should have been told for a state; null while registering or gone. */
export function modeOfState(name: GuestStateName): Mode | null {
  if (isManaged(name)) return MODE_OF_MANAGED[name];
  if (name === 'stuck' || name === 'unmanaged') return 'held';
  return null;
}

/** What the supervisor reads of a guest's machine: its state and the handshake's outcome. */
export interface Lifecycle {
  state: GuestStateName;
  unmanagedReason: UnmanagedReason | null;
  /** The protocol version the agent announced last; null before any hello. */
  agentProtocol: number | null;
}

export interface GuestFacts {
  id: string;
  /** Xen domid or other numeric handle: the only thing guest log lines are bound to. */
  domid: number;
  minKiB: number;
  maxKiB: number;
  shares: number;
  /** N_i: the allocation the host last reported. */
  currentKiB: number;
  /** The latest smoothed report, as the agent sent it. */
  report: GuestReport | null;
  /** `ticks` when the agent was last heard (a hello; a report once registered); when it appeared, before that. */
  heardAtTick: number;
  /** The mode last issued to the agent; null when none was, or the write failed (re-issued next tick). */
  writtenMode: Mode | null;
  /** The target last issued; null when none was, or the write failed (re-issued next tick). */
  writtenTargetKiB: number | null;
  /** Has memcoop ever written this guest's target? A guest never managed is never touched. */
  touched: boolean;
  /**
   * The last target write failed (and has not been issued again since). Counts as a stall: a
   * guest whose target cannot be written is no more under control than one whose balloon does
   * not move, so repeated failures make it stuck (left out, retried later) rather than re-issued
   * and logged every tick forever.
   */
  targetWriteFailed: boolean;
  /** The latest goal and target the supervisor computed for this guest (a tick or a self step). */
  goalKiB: number | null;
  targetKiB: number | null;
  /** The allocation at the previous tick: how far the balloon moved since. */
  allocAtLastTick: number;
  /** Consecutive ticks without progress toward the written target (counted while managed). */
  stalledTicks: number;
  /** `ticks` when the balloon was found stuck; null unless the guest is stuck. */
  stuckAtTick: number | null;
}

/** A lifecycle change the supervisor sends a guest's machine (GuestEvent without `at`). */
export type GuestSignal =
  /** The decision moves a managed guest to another mode. */
  | { type: 'mode'; mode: Exclude<Mode, 'held'>; currentKiB: number }
  /** No hello (registering) or no report (managed, stuck) for silenceTicks ticks. */
  | { type: 'silent'; silentTicks: number }
  /** The balloon made no progress toward its target for stuckTicks ticks. */
  | { type: 'stalled'; currentKiB: number; writtenTargetKiB: number | null; stalledTicks: number }
  /** Stuck for stuckRetryTicks ticks: try it again. */
  | { type: 'retry'; stuckForTicks: number }
  /** A report from a guest unmanaged for silence: its agent is back. */
  | { type: 'heard' };

/**
 * A copy to change: every GuestFacts is built by this one literal, so they all share one shape
 * (V8 then copies and reads them on its fast paths; object spread over mixed shapes was ~1 us a
 * guest, most of a 1,000-guest tick).
 */
function copy(f: GuestFacts): GuestFacts {
  return {
    id: f.id,
    domid: f.domid,
    minKiB: f.minKiB,
    maxKiB: f.maxKiB,
    shares: f.shares,
    currentKiB: f.currentKiB,
    report: f.report,
    heardAtTick: f.heardAtTick,
    writtenMode: f.writtenMode,
    writtenTargetKiB: f.writtenTargetKiB,
    touched: f.touched,
    targetWriteFailed: f.targetWriteFailed,
    goalKiB: f.goalKiB,
    targetKiB: f.targetKiB,
    allocAtLastTick: f.allocAtLastTick,
    stalledTicks: f.stalledTicks,
    stuckAtTick: f.stuckAtTick,
  };
}

/** f with `patch` applied, as a new object of the one shape. */
export function withFacts(f: GuestFacts, patch: Partial<GuestFacts>): GuestFacts {
  const next = copy(f);
  Object.assign(next, patch);
  return next;
}

export function newFacts(
  g: { id: string; domid: number; minKiB: number; maxKiB: number; shares: number; currentKiB: number },
  ticks: number,
): GuestFacts {
  return copy({
    id: g.id,
    domid: g.domid,
    minKiB: g.minKiB,
    maxKiB: g.maxKiB,
    shares: g.shares,
    currentKiB: g.currentKiB,
    report: null,
    heardAtTick: ticks,
    writtenMode: null,
    writtenTargetKiB: null,
    touched: false,
    targetWriteFailed: false,
    goalKiB: null,
    targetKiB: null,
    allocAtLastTick: g.currentKiB,
    stalledTicks: 0,
    stuckAtTick: null,
  });
}

/** Ticks since the agent was last heard, capped at silenceTicks. */
export function silentTicks(f: GuestFacts, ticks: number, limits: GuestLimits): number {
  return Math.min(ticks - f.heardAtTick, limits.silenceTicks);
}

/** Takes part in the balance: registered, under management, with a report to go on. */
export function participates(life: Lifecycle, f: GuestFacts): boolean {
  return isManaged(life.state) && f.report !== null;
}

/** A fresh start for the stall count (the guest was just put under management, or found stuck). */
function resetStall(f: GuestFacts): GuestFacts {
  const next = copy(f);
  next.stalledTicks = 0;
  next.stuckAtTick = null;
  next.allocAtLastTick = f.currentKiB;
  return next;
}

/**
 * A report arrives. It is kept whatever the state (a report before the hello too), but counts
 * as the agent being alive only once it has registered and is not unmanaged; a report from a
 * guest unmanaged for silence brings it back (`heard`).
 */
export function applyReport(f: GuestFacts, life: Lifecycle, report: GuestReport, ticks: number): { facts: GuestFacts; signal: GuestSignal | null } {
  if (life.state === 'unmanaged' && life.unmanagedReason === 'silent') {
    return { facts: resetStall(withFacts(f, { report, heardAtTick: ticks })), signal: { type: 'heard' } };
  }
  const next = copy(f);
  next.report = report;
  if (life.state !== 'registering' && life.state !== 'unmanaged' && life.state !== 'gone') next.heardAtTick = ticks;
  return { facts: next, signal: null };
}

/**
 * The supervisor's half of the handshake: an agent that speaks our protocol version is accepted;
 * a first registration (or one after the guest went unmanaged) gets the agent's own preference,
 * and an agent that says hello again while managed (it restarted) is told the mode the
 * supervisor gave it. Any other version is refused and the guest held.
 */
export function answerHello(life: Lifecycle, protocol: number, selfAdjust: boolean, supported: number): { accepted: boolean; mode: Mode } {
  if (protocol !== supported) return { accepted: false, mode: 'held' };
  const fresh = life.state === 'registering' || life.state === 'unmanaged';
  return { accepted: true, mode: fresh ? (selfAdjust ? 'self' : 'global') : (modeOfState(life.state) ?? 'held') };
}

/**
 * The handshake's answer (accepted with `mode`, or refused: 'held'). An accepted hello is the
 * agent being alive; one that puts a registering or unmanaged guest under management starts
 * its stall count afresh.
 */
export function applyHello(f: GuestFacts, life: Lifecycle, mode: Mode, accepted: boolean, ticks: number): GuestFacts {
  if (!accepted) return withFacts(f, { writtenMode: 'held' });
  const next = withFacts(f, { writtenMode: mode, heardAtTick: ticks });
  const fresh = life.state === 'registering' || life.state === 'unmanaged';
  return fresh && mode !== 'held' ? resetStall(next) : next;
}

export function applyAllocation(f: GuestFacts, currentKiB: number): GuestFacts {
  if (f.currentKiB === currentKiB) return f;
  const next = copy(f);
  next.currentKiB = currentKiB;
  return next;
}

/** A failed write is forgotten, so the next tick issues it again. */
export function applyEffectFailed(f: GuestFacts, effect: 'setTarget' | 'setMode'): GuestFacts {
  return effect === 'setTarget' ? withFacts(f, { writtenTargetKiB: null, targetWriteFailed: true }) : withFacts(f, { writtenMode: null });
}

/** Did the balloon fail to move toward the target written before this tick? */
export function stalledThisTick(f: GuestFacts, limits: GuestLimits): boolean {
  if (f.targetWriteFailed) return true;
  const target = f.writtenTargetKiB;
  if (target === null) return false;
  const slack = limits.balloonSlackKiB;
  if (Math.abs(target - f.currentKiB) <= slack) return false; // there (or close enough)
  if (Math.abs(target - f.allocAtLastTick) <= slack) return false; // target moved away only now
  const moved = target > f.allocAtLastTick ? f.currentKiB - f.allocAtLastTick : f.allocAtLastTick - f.currentKiB;
  return moved <= 0;
}

/**
 * One tick for one guest, after the policy ran: `outcome` is what it decided and what was
 * written for the guest, `ticks` counts this tick. Records the outcome and the balloon's
 * progress, and says which lifecycle changes follow, in order: the decided mode (a managed
 * guest whose mode changes), then silence (no hello while registering, no report while managed
 * or stuck), a stalled balloon (managed), or a stuck one due for a retry.
 */
export function tickGuest(
  f: GuestFacts,
  life: Lifecycle,
  outcome: TickOutcome,
  ticks: number,
  limits: GuestLimits,
): { facts: GuestFacts; signals: GuestSignal[] } {
  const managed = isManaged(life.state);
  const stalled = managed && stalledThisTick(f, limits) ? f.stalledTicks + 1 : 0;
  let next: GuestFacts = f;
  if (
    outcome.goalKiB !== f.goalKiB ||
    outcome.targetKiB !== f.targetKiB ||
    outcome.wroteMode !== null ||
    outcome.wroteTargetKiB !== null ||
    f.allocAtLastTick !== f.currentKiB ||
    stalled !== f.stalledTicks
  ) {
    next = copy(f);
    next.goalKiB = outcome.goalKiB;
    next.targetKiB = outcome.targetKiB;
    next.writtenMode = outcome.wroteMode ?? f.writtenMode;
    next.writtenTargetKiB = outcome.wroteTargetKiB ?? f.writtenTargetKiB;
    next.touched = f.touched || outcome.wroteTargetKiB !== null;
    // A write issued again this tick gets its own chance; until then the failure stands.
    if (outcome.wroteTargetKiB !== null) next.targetWriteFailed = false;
    next.allocAtLastTick = f.currentKiB;
    next.stalledTicks = stalled;
  }

  const signals: GuestSignal[] = [];
  let state = life.state;
  if (isManaged(state) && outcome.mode !== null && MODE_OF_MANAGED[state] !== outcome.mode) {
    signals.push({ type: 'mode', mode: outcome.mode, currentKiB: f.currentKiB });
    state = STATE_OF_MODE[outcome.mode];
  }
  const silent = ticks - f.heardAtTick >= limits.silenceTicks;
  if (state === 'registering' || isManaged(state) || state === 'stuck') {
    if (silent) {
      signals.push({ type: 'silent', silentTicks: silentTicks(f, ticks, limits) });
      if (next.stuckAtTick !== null) next = withFacts(next, { stuckAtTick: null });
    } else if (isManaged(state) && stalled >= limits.stuckTicks) {
      signals.push({ type: 'stalled', currentKiB: f.currentKiB, writtenTargetKiB: next.writtenTargetKiB, stalledTicks: stalled });
      next = withFacts(resetStall(next), { stuckAtTick: ticks });
    } else if (state === 'stuck' && next.stuckAtTick !== null && ticks - next.stuckAtTick >= limits.stuckRetryTicks) {
      signals.push({ type: 'retry', stuckForTicks: ticks - next.stuckAtTick });
      next = resetStall(next);
    }
  }
  return { facts: next, signals };
}
