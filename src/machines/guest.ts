// One machine per guest: its lifecycle (ARCHITECTURE.md, "Guest machine") and its facts (bounds,
// latest report, allocation, what was last written to it). The supervisor is its only sender:
// facts arrive as `allocation`/`report`, the handshake's outcome as `registered`/`rejected`, and
// each tick's decision as `decided`. The agent's own preference never moves a guest between
// modes; only the supervisor's answers do (paper section 4.3). What the guest decides by itself
// is what its facts say: silent agent -> unmanaged, balloon not moving -> stuck.
//
// The context is plain JSON (persisted snapshots, journal replays); the logger lives in the
// factory's closure.
import { assign, setup, type ActorRefFrom, type SnapshotFrom } from 'xstate';
import type { WrittenMode } from '../hosts/host.ts';
import { guestLogger, silentLogger, type Logger } from '../log/logger.ts';

/** One smoothed meminfo report, as the agent sent it. */
export interface GuestReport {
  committedKiB: number;
  freeKiB: number;
  swapTotalKiB: number;
  swapFreeKiB: number;
}

/** Why a guest is unmanaged: no hello at all, an agent gone quiet, or a protocol we do not speak. */
export type UnmanagedReason = 'noAgent' | 'silent' | 'protocol';

/** The thresholds of SupervisorConfig that a guest applies to itself. */
export interface GuestLimits {
  silenceTicks: number;
  stuckTicks: number;
  stuckRetryTicks: number;
  balloonSlackKiB: number;
}

export interface GuestInput {
  id: string;
  domid: number;
  minKiB: number;
  maxKiB: number;
  currentKiB: number;
  shares: number;
  limits: GuestLimits;
}

export interface GuestContext {
  id: string;
  domid: number;
  minKiB: number;
  maxKiB: number;
  shares: number;
  /** N_i: the allocation the host last reported. */
  currentKiB: number;
  report: GuestReport | null;
  /** Ticks since the last report (while registering: since the guest appeared), capped at silenceTicks. */
  silentTicks: number;
  /** The protocol version the agent announced last; null before any hello. */
  agentProtocol: number | null;
  /** The agent's own self-adjust preference, as announced. */
  selfAdjustPreference: boolean | null;
  /** The mode last issued to the agent; null when none was, or the write failed (re-issued next tick). */
  writtenMode: WrittenMode | null;
  /** The target last issued; null when none was, or the write failed (re-issued next tick). */
  writtenTargetKiB: number | null;
  /** Has memcoop ever written this guest's target? A guest never managed is never touched. */
  touched: boolean;
  /** The last decision's goal and target for this guest. */
  goalKiB: number | null;
  targetKiB: number | null;
  /** The allocation at the previous tick: how far the balloon moved since. */
  allocAtLastTick: number;
  /** Consecutive ticks without progress toward the written target. */
  stalledTicks: number;
  /** Ticks spent stuck so far. */
  stuckForTicks: number;
  unmanagedReason: UnmanagedReason | null;
  limits: GuestLimits;
}

/** The mode a tick's decision puts a participating guest in ('reclaim': global while Dom0 reclaims). */
export type DecidedMode = 'self' | 'global' | 'reclaim';

export type GuestEvent =
  | { type: 'allocation'; at: number; currentKiB: number }
  | { type: 'report'; at: number; report: GuestReport }
  /** The supervisor accepted the agent's hello and answered with `mode`. */
  | { type: 'registered'; at: number; protocol: number; selfAdjust: boolean; mode: WrittenMode }
  /** The supervisor refused the agent's protocol version. */
  | { type: 'rejected'; at: number; protocol: number }
  /** This tick's outcome: the mode (null: the guest did not take part) and what was written. */
  | {
      type: 'decided';
      at: number;
      mode: DecidedMode | null;
      goalKiB: number;
      targetKiB: number;
      wroteMode: WrittenMode | null;
      wroteTargetKiB: number | null;
    }
  /** error: the host's own message (not text the guest supplied). */
  | { type: 'effectFailed'; at: number; effect: 'setTarget' | 'setMode'; error: string }
  | { type: 'left'; at: number };

export type GuestStateName =
  | 'registering'
  | 'selfAdjusting'
  | 'globallyControlled'
  | 'reclaimingForDom0'
  | 'stuck'
  | 'unmanaged'
  | 'gone';

const MODE_OF_MANAGED = {
  selfAdjusting: 'self',
  globallyControlled: 'global',
  reclaimingForDom0: 'reclaim',
} as const satisfies Record<string, DecidedMode>;
type ManagedState = keyof typeof MODE_OF_MANAGED;
const MANAGED_STATES = Object.keys(MODE_OF_MANAGED) as ManagedState[];
const STATE_OF_MODE: Record<DecidedMode, ManagedState> = {
  self: 'selfAdjusting',
  global: 'globallyControlled',
  reclaim: 'reclaimingForDom0',
};

/** Did the balloon fail to move toward the target written before this tick? */
function stalledThisTick(c: GuestContext): boolean {
  const target = c.writtenTargetKiB;
  if (target === null) return false;
  const slack = c.limits.balloonSlackKiB;
  if (Math.abs(target - c.currentKiB) <= slack) return false; // there (or close enough)
  if (Math.abs(target - c.allocAtLastTick) <= slack) return false; // target moved away only now
  const moved = target > c.allocAtLastTick ? c.currentKiB - c.allocAtLastTick : c.allocAtLastTick - c.currentKiB;
  return moved <= 0;
}

const TICK_ACTIONS = [{ type: 'recordTick', params: { count: 'stall' } }, { type: 'logTarget' }] as const;

export interface GuestMachineOptions {
  /** Parent logger; each guest logs through guestLogger(parent, domid). */
  logger?: Logger;
}

export function createGuestMachine(opts: GuestMachineOptions = {}) {
  const parent = opts.logger ?? silentLogger();
  // One child logger per domid, bound to that number only (never to text a guest could supply).
  const loggers = new Map<number, Logger>();
  const log = (c: GuestContext): Logger => {
    let l = loggers.get(c.domid);
    if (l === undefined) {
      l = guestLogger(parent, c.domid);
      loggers.set(c.domid, l);
    }
    return l;
  };

  return setup({
    types: {
      context: {} as GuestContext,
      input: {} as GuestInput,
      events: {} as GuestEvent,
    },
    actions: {
      /** Keeps the report; `heard`: it also counts as the agent being alive (not while registering). */
      storeReport: assign(({ event }, params: { heard: boolean }) =>
        event.type === 'report' ? (params.heard ? { report: event.report, silentTicks: 0 } : { report: event.report }) : {},
      ),
      storeAllocation: assign(({ event }) => (event.type === 'allocation' ? { currentKiB: event.currentKiB } : {})),
      acceptAgent: assign(({ event }) =>
        event.type === 'registered'
          ? {
              agentProtocol: event.protocol,
              selfAdjustPreference: event.selfAdjust,
              writtenMode: event.mode,
              silentTicks: 0,
              unmanagedReason: null,
            }
          : {},
      ),
      rejectAgent: assign(({ event }) =>
        event.type === 'rejected'
          ? { agentProtocol: event.protocol, writtenMode: 'held' as const, unmanagedReason: 'protocol' as const }
          : {},
      ),
      /**
       * One tick's bookkeeping, in one assign (a guest gets one of these every tick, so it is kept
       * cheap): what was decided and written, the agent's silence, and the balloon's progress
       * toward the target written before this tick (`count: 'stall'` while managed) or the time
       * spent stuck (`count: 'stuck'`).
       */
      recordTick: assign(({ context, event }, params: { count: 'stall' | 'stuck' | 'none' }) => {
        if (event.type !== 'decided') return {};
        return {
          goalKiB: event.goalKiB,
          targetKiB: event.targetKiB,
          writtenMode: event.wroteMode ?? context.writtenMode,
          writtenTargetKiB: event.wroteTargetKiB ?? context.writtenTargetKiB,
          touched: context.touched || event.wroteTargetKiB !== null,
          silentTicks: Math.min(context.silentTicks + 1, context.limits.silenceTicks),
          allocAtLastTick: context.currentKiB,
          stalledTicks: params.count === 'stall' && stalledThisTick(context) ? context.stalledTicks + 1 : 0,
          stuckForTicks: params.count === 'stuck' ? context.stuckForTicks + 1 : context.stuckForTicks,
        };
      }),
      forgetFailedWrite: assign(({ event }) => {
        if (event.type !== 'effectFailed') return {};
        return event.effect === 'setTarget' ? { writtenTargetKiB: null } : { writtenMode: null };
      }),
      resetStall: assign(({ context }) => ({ stalledTicks: 0, stuckForTicks: 0, allocAtLastTick: context.currentKiB })),
      markUnmanaged: assign((_, params: { reason: UnmanagedReason | null }) => ({ unmanagedReason: params.reason })),

      logAppeared: ({ context: c }) =>
        log(c).info({ minKiB: c.minKiB, maxKiB: c.maxKiB, currentKiB: c.currentKiB, shares: c.shares }, 'guest appeared; waiting for its agent'),
      logRegistered: ({ context: c, event }) => {
        if (event.type !== 'registered') return;
        log(c).info({ protocol: event.protocol, selfAdjust: event.selfAdjust, mode: event.mode }, 'agent registered; mode answered');
      },
      logRejected: ({ context: c, event }) => {
        if (event.type !== 'rejected') return;
        log(c).warn({ protocol: event.protocol }, 'agent speaks an unsupported protocol version; guest unmanaged');
      },
      logMode: ({ context: c }, params: { mode: DecidedMode }) => log(c).info({ mode: params.mode }, `mode ${params.mode}`),
      logReclaim: ({ context: c }) =>
        log(c).info({ currentKiB: c.currentKiB }, 'reclaiming for Dom0: guest under global control, shrinking'),
      logUnmanaged: ({ context: c }) =>
        log(c).warn({ reason: c.unmanagedReason, silentTicks: c.silentTicks }, 'guest unmanaged: held where it is'),
      logStuck: ({ context: c }) =>
        log(c).warn(
          { currentKiB: c.currentKiB, writtenTargetKiB: c.writtenTargetKiB, stalledTicks: c.stalledTicks },
          'balloon not moving toward its target; left out of the balance',
        ),
      logRetry: ({ context: c }) => log(c).info({ stuckForTicks: c.stuckForTicks }, 'stuck balloon: trying again'),
      logRevived: ({ context: c }) => log(c).info('agent reporting again; guest managed again'),
      logTarget: ({ context: c, event }) => {
        if (event.type !== 'decided' || event.wroteTargetKiB === null) return;
        log(c).debug({ targetKiB: event.wroteTargetKiB, goalKiB: event.goalKiB, currentKiB: c.currentKiB }, 'target written');
      },
      logEffectFailed: ({ context: c, event }) => {
        if (event.type !== 'effectFailed') return;
        log(c).warn({ effect: event.effect, error: event.error }, 'effect failed; re-issued next tick');
      },
      logGone: ({ context: c }) => {
        log(c).info('guest left');
        loggers.delete(c.domid);
      },
    },
    guards: {
      silent: ({ context }) => context.silentTicks >= context.limits.silenceTicks,
      stalled: ({ context }) => context.stalledTicks >= context.limits.stuckTicks,
      retryDue: ({ context }) => context.stuckForTicks >= context.limits.stuckRetryTicks,
      wasSilent: ({ context }) => context.unmanagedReason === 'silent',
      answeredMode: ({ event }, params: { mode: DecidedMode }) => event.type === 'registered' && event.mode === params.mode,
      decidedMode: ({ event }, params: { mode: DecidedMode }) => event.type === 'decided' && event.mode === params.mode,
    },
  }).createMachine({
    id: 'guest',
    context: ({ input }) => ({
      id: input.id,
      domid: input.domid,
      minKiB: input.minKiB,
      maxKiB: input.maxKiB,
      shares: input.shares,
      currentKiB: input.currentKiB,
      report: null,
      silentTicks: 0,
      agentProtocol: null,
      selfAdjustPreference: null,
      writtenMode: null,
      writtenTargetKiB: null,
      touched: false,
      goalKiB: null,
      targetKiB: null,
      allocAtLastTick: input.currentKiB,
      stalledTicks: 0,
      stuckForTicks: 0,
      unmanagedReason: null,
      limits: { ...input.limits },
    }),
    initial: 'registering',
    on: {
      allocation: { actions: 'storeAllocation' },
      report: { actions: { type: 'storeReport', params: { heard: true } } },
      // An agent that says hello again (it restarted) is told the mode it already has.
      registered: { actions: ['acceptAgent', 'logRegistered'] },
      rejected: { target: '#guest.unmanaged', actions: ['rejectAgent', 'logRejected'] },
      decided: { actions: [{ type: 'recordTick', params: { count: 'none' } }, 'logTarget'] },
      effectFailed: { actions: ['forgetFailedWrite', 'logEffectFailed'] },
      left: { target: '#guest.gone' },
    },
    states: {
      /** Appeared; waiting for the agent's hello. Held where it is, outside the balance. */
      registering: {
        entry: 'logAppeared',
        always: { guard: 'silent', target: 'unmanaged', actions: { type: 'markUnmanaged', params: { reason: 'noAgent' } } },
        on: {
          // A report before the hello is kept, but only a hello ends the wait.
          report: { actions: { type: 'storeReport', params: { heard: false } } },
          registered: handshakeTransitions(),
        },
      },
      /** The agent registered: the supervisor's decisions drive the guest (exactly one mode at a time). */
      managed: {
        entry: 'resetStall',
        initial: 'globallyControlled',
        always: [
          { guard: 'silent', target: 'unmanaged', actions: { type: 'markUnmanaged', params: { reason: 'silent' } } },
          { guard: 'stalled', target: 'stuck' },
        ],
        states: {
          selfAdjusting: {
            entry: { type: 'logMode', params: { mode: 'self' } },
            on: { decided: decidedTransitions('selfAdjusting') },
          },
          globallyControlled: {
            entry: { type: 'logMode', params: { mode: 'global' } },
            on: { decided: decidedTransitions('globallyControlled') },
          },
          reclaimingForDom0: {
            entry: 'logReclaim',
            on: { decided: decidedTransitions('reclaimingForDom0') },
          },
          /** Where a revived or retried guest goes back to: the mode it had. */
          hist: { type: 'history', history: 'shallow', target: 'globallyControlled' },
        },
      },
      /** The balloon does not move toward its target: held, left out of the arithmetic, retried later. */
      stuck: {
        entry: ['logStuck', 'resetStall'],
        always: [
          { guard: 'silent', target: 'unmanaged', actions: { type: 'markUnmanaged', params: { reason: 'silent' } } },
          { guard: 'retryDue', target: '#guest.managed.hist', actions: 'logRetry' },
        ],
        on: { decided: { actions: [{ type: 'recordTick', params: { count: 'stuck' } }, 'logTarget'] } },
      },
      /** No agent, a silent one, or one we cannot speak to: held where it is, counted as fully active. */
      unmanaged: {
        entry: 'logUnmanaged',
        on: {
          report: [
            {
              guard: 'wasSilent',
              target: '#guest.managed.hist',
              actions: [{ type: 'storeReport', params: { heard: true } }, { type: 'markUnmanaged', params: { reason: null } }, 'logRevived'],
            },
            { actions: { type: 'storeReport', params: { heard: false } } },
          ],
          registered: handshakeTransitions(),
        },
      },
      gone: { type: 'final', entry: 'logGone' },
    },
  });

  // A fresh registration (from registering or unmanaged) lands in the mode the supervisor answered.
  function handshakeTransitions() {
    return [
      ...(['self', 'global', 'reclaim'] as const).map((mode) => ({
        guard: { type: 'answeredMode' as const, params: { mode } },
        target: `#guest.managed.${STATE_OF_MODE[mode]}`,
        actions: ['acceptAgent' as const, 'logRegistered' as const],
      })),
      { actions: ['acceptAgent' as const, 'logRegistered' as const] },
    ];
  }

  // A tick's decision moves a managed guest to the state of its mode (siblings only, so entry
  // actions run on a real change); a guest that did not take part (mode null) stays.
  function decidedTransitions(here: ManagedState) {
    return [
      ...MANAGED_STATES.filter((s) => s !== here).map((s) => ({
        guard: { type: 'decidedMode' as const, params: { mode: MODE_OF_MANAGED[s] } },
        target: s,
        actions: TICK_ACTIONS,
      })),
      { actions: TICK_ACTIONS },
    ];
  }
}

export type GuestMachine = ReturnType<typeof createGuestMachine>;
export type GuestActorRef = ActorRefFrom<GuestMachine>;
export type GuestSnapshot = SnapshotFrom<GuestMachine>;

/** The leaf state of a guest, by name. */
export function guestStateName(s: GuestSnapshot): GuestStateName {
  if (s.matches('registering')) return 'registering';
  if (s.matches('stuck')) return 'stuck';
  if (s.matches('unmanaged')) return 'unmanaged';
  if (s.matches('gone')) return 'gone';
  for (const m of MANAGED_STATES) if (s.matches({ managed: m })) return m;
  throw new Error(`guest machine in an unknown state: ${JSON.stringify(s.value)}`);
}

/** The mode the agent should have been told for a state; null while registering or gone. */
export function modeOfState(name: GuestStateName): WrittenMode | null {
  switch (name) {
    case 'selfAdjusting':
    case 'globallyControlled':
    case 'reclaimingForDom0':
      return MODE_OF_MANAGED[name];
    case 'stuck':
    case 'unmanaged':
      return 'held';
    case 'registering':
    case 'gone':
      return null;
  }
}

/** Takes part in this tick's balance: registered, under management, with a report to go on. */
export function participates(s: GuestSnapshot): boolean {
  return s.matches('managed') && s.context.report !== null;
}
