// One machine per guest: its lifecycle (docs/architecture.md, "The statecharts"). The supervisor is its
// only sender, and sends it an event only when its state must change: the handshake's outcome
// (`registered`/`rejected`), a new mode from a decision (`mode`), the thresholds its facts crossed
// (`silent`, `stalled`, `retry`, `heard`; facts.ts), and `left`. The facts that change every tick
// (reports, allocation, what was written, the balloon's progress) live in the supervisor's
// context, not here: an XState event costs ~15 us per actor, too much to spend on every guest
// every tick. The agent's own preference never moves a guest between modes; only the
// supervisor's answers do (paper section 4.3).
//
// The context is plain JSON (persisted snapshots, journal replays); the logger lives in the
// factory's closure.
import { assign, setup, type ActorRefFrom, type SnapshotFrom } from 'xstate';
import type { Mode } from '../vocabulary/mode.ts';
import { silentLogger, type Logger } from '../log/logger.ts';
import { MODE_OF_MANAGED, STATE_OF_MODE, type GuestStateName, type ManagedState, type UnmanagedReason } from './facts.ts';
import { guestLoggers } from './guest-log.ts';

export type { GuestStateName, UnmanagedReason } from './facts.ts';
export { modeOfState } from './facts.ts';

/** What a guest machine is started with. */
export interface GuestMachineInput {
  id: string;
  /** Xen domid or other numeric handle, the only log binding; never text a guest supplied. */
  domid: number;
}

export interface GuestContext {
  id: string;
  domid: number;
  /** The protocol version the agent announced last; null before any hello. */
  agentProtocol: number | null;
  /** The agent's own self-adjust preference, as announced. */
  selfAdjustPreference: boolean | null;
  unmanagedReason: UnmanagedReason | null;
}

export type GuestEvent =
  /** The supervisor accepted the agent's hello and answered with `mode`. */
  | { type: 'registered'; at: number; protocol: number; selfAdjust: boolean; mode: Mode }
  /** The supervisor refused the agent's protocol version. */
  | { type: 'rejected'; at: number; protocol: number }
  /** A decision moves the managed guest to `mode` (currentKiB: its allocation, for the log). */
  | { type: 'mode'; at: number; mode: Exclude<Mode, 'held'>; currentKiB: number }
  /** No hello (registering), or no report (managed, stuck), for silentTicks ticks. */
  | { type: 'silent'; at: number; silentTicks: number }
  /** Its balloon made no progress toward writtenTargetKiB for stalledTicks ticks. */
  | { type: 'stalled'; at: number; currentKiB: number; writtenTargetKiB: number | null; stalledTicks: number }
  /** Stuck long enough: try it again in the mode it had. */
  | { type: 'retry'; at: number; stuckForTicks: number }
  /** A report while unmanaged for silence: the agent is back. */
  | { type: 'heard'; at: number }
  | { type: 'left'; at: number };

const MANAGED_STATES = Object.keys(MODE_OF_MANAGED) as ManagedState[];
/** The states outside `managed`, each a leaf. */
const OUTER_STATES = ['registering', 'stuck', 'unmanaged', 'gone'] as const satisfies readonly GuestStateName[];

export interface GuestMachineOptions {
  /** Parent logger; each guest logs through guestLogger(parent, domid). */
  logger?: Logger;
}

export function createGuestMachine(opts: GuestMachineOptions = {}) {
  const log = guestLoggers(opts.logger ?? silentLogger());

  return setup({
    types: {
      context: {} as GuestContext,
      input: {} as GuestMachineInput,
      events: {} as GuestEvent,
    },
    actions: {
      acceptAgent: assign(({ event }) =>
        event.type === 'registered'
          ? { agentProtocol: event.protocol, selfAdjustPreference: event.selfAdjust, unmanagedReason: null }
          : {},
      ),
      rejectAgent: assign(({ event }) =>
        event.type === 'rejected' ? { agentProtocol: event.protocol, unmanagedReason: 'protocol' as const } : {},
      ),
      markUnmanaged: assign((_, params: { reason: UnmanagedReason | null }) => ({ unmanagedReason: params.reason })),

      logRegistered: ({ context: c, event }) => {
        if (event.type !== 'registered') return;
        log(c.domid).info({ protocol: event.protocol, selfAdjust: event.selfAdjust, mode: event.mode }, 'agent registered; mode answered');
      },
      logRejected: ({ context: c, event }) => {
        if (event.type !== 'rejected') return;
        log(c.domid).warn({ protocol: event.protocol }, 'agent speaks an unsupported protocol version; guest unmanaged');
      },
      logMode: ({ context: c }, params: { mode: Exclude<Mode, 'held'> }) => log(c.domid).info({ mode: params.mode }, `mode ${params.mode}`),
      logReclaim: ({ context: c, event }) =>
        log(c.domid).info(event.type === 'mode' ? { currentKiB: event.currentKiB } : {}, 'reclaiming for Dom0: guest under global control, shrinking'),
      logUnmanaged: ({ context: c, event }) =>
        log(c.domid).warn(
          { reason: c.unmanagedReason, ...(event.type === 'silent' ? { silentTicks: event.silentTicks } : {}) },
          'guest unmanaged: held where it is',
        ),
      logStuck: ({ context: c, event }) => {
        if (event.type !== 'stalled') return;
        const { currentKiB, writtenTargetKiB, stalledTicks } = event;
        log(c.domid).warn({ currentKiB, writtenTargetKiB, stalledTicks }, 'balloon not moving toward its target; left out of the balance');
      },
      logRetry: ({ context: c, event }) =>
        log(c.domid).info(event.type === 'retry' ? { stuckForTicks: event.stuckForTicks } : {}, 'stuck balloon: trying again'),
      logRevived: ({ context: c }) => log(c.domid).info('agent reporting again; guest managed again'),
      logGone: ({ context: c }) => {
        log(c.domid).info('guest left');
        log.forget(c.domid);
      },
    },
    guards: {
      wasSilent: ({ context }) => context.unmanagedReason === 'silent',
      answeredMode: ({ event }, params: { mode: Exclude<Mode, 'held'> }) => event.type === 'registered' && event.mode === params.mode,
      toMode: ({ event }, params: { mode: Exclude<Mode, 'held'> }) => event.type === 'mode' && event.mode === params.mode,
    },
  }).createMachine({
    id: 'guest',
    context: ({ input }) => ({
      id: input.id,
      domid: input.domid,
      agentProtocol: null,
      selfAdjustPreference: null,
      unmanagedReason: null,
    }),
    initial: 'registering',
    on: {
      // An agent that says hello again (it restarted) is told the mode it already has.
      registered: { actions: ['acceptAgent', 'logRegistered'] },
      rejected: { target: '#guest.unmanaged', actions: ['rejectAgent', 'logRejected'] },
      left: { target: '#guest.gone' },
    },
    states: {
      /** Appeared; waiting for the agent's hello. Held where it is, outside the balance. */
      registering: {
        on: {
          registered: handshakeTransitions(),
          silent: { target: 'unmanaged', actions: { type: 'markUnmanaged', params: { reason: 'noAgent' } } },
        },
      },
      /** The agent registered: the supervisor's decisions drive the guest (exactly one mode at a time). */
      managed: {
        initial: 'globallyControlled',
        on: {
          silent: { target: 'unmanaged', actions: { type: 'markUnmanaged', params: { reason: 'silent' } } },
          stalled: { target: 'stuck' },
        },
        states: {
          selfAdjusting: {
            entry: { type: 'logMode', params: { mode: 'self' } },
            on: { mode: modeTransitions('selfAdjusting') },
          },
          globallyControlled: {
            entry: { type: 'logMode', params: { mode: 'global' } },
            on: { mode: modeTransitions('globallyControlled') },
          },
          reclaimingForDom0: {
            entry: 'logReclaim',
            on: { mode: modeTransitions('reclaimingForDom0') },
          },
          /** Where a revived or retried guest goes back to: the mode it had. */
          hist: { type: 'history', history: 'shallow', target: 'globallyControlled' },
        },
      },
      /** The balloon does not move toward its target: held, left out of the arithmetic, retried later. */
      stuck: {
        entry: 'logStuck',
        on: {
          silent: { target: 'unmanaged', actions: { type: 'markUnmanaged', params: { reason: 'silent' } } },
          retry: { target: '#guest.managed.hist', actions: 'logRetry' },
        },
      },
      /** No agent, a silent one, or one we cannot speak to: held where it is, counted as fully active. */
      unmanaged: {
        entry: 'logUnmanaged',
        on: {
          heard: {
            guard: 'wasSilent',
            target: '#guest.managed.hist',
            actions: [{ type: 'markUnmanaged', params: { reason: null } }, 'logRevived'],
          },
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

  // A decision's new mode moves a managed guest to that mode's state (siblings only, so entry
  // actions run on a real change).
  function modeTransitions(here: ManagedState) {
    return MANAGED_STATES.filter((s) => s !== here).map((s) => ({
      guard: { type: 'toMode' as const, params: { mode: MODE_OF_MANAGED[s] } },
      target: s,
    }));
  }
}

export type GuestMachine = ReturnType<typeof createGuestMachine>;
export type GuestActorRef = ActorRefFrom<GuestMachine>;
export type GuestSnapshot = SnapshotFrom<GuestMachine>;

/** The leaf state of a guest, by name. */
export function guestStateName(s: GuestSnapshot): GuestStateName {
  // Read from the state value: the machine is two levels deep, and `matches` (up to eight calls
  // per guest) took 55 of the 220 ms that 30 ticks at 1,000 guests spent in the tick and in the
  // control socket's copy of the policy input (a CPU profile of bench:scale).
  const v: unknown = s.value;
  if (typeof v === 'string') {
    if ((OUTER_STATES as readonly string[]).includes(v)) return v as (typeof OUTER_STATES)[number];
  } else if (typeof v === 'object' && v !== null) {
    const m = (v as { managed?: unknown }).managed;
    if (typeof m === 'string' && (MANAGED_STATES as readonly string[]).includes(m)) return m as ManagedState;
  }
  throw new Error(`guest machine in an unknown state: ${JSON.stringify(s.value)}`);
}
