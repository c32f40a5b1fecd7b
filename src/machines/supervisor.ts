// The supervisor: every external input (events.ts) enters here, with its timestamp. Its states
// are the regimes of the cooperation protocol (paper Algorithm 1), which each tick's decision
// moves it between (the `decided` event a tick raises when its decision changes the regime):
//
//   starting            no decision yet (no host sample, or no tick since)
//   abundant            guests self-adjust; reports move them at once (prompt self steps)
//   scarce              the equal-price global balance, on ticks only
//   reclaimingForDom0   Dom0 needs memory host free cannot give: taken back from the guests
//   overcommitted       every guest at its minimum cannot cover Dom0
//
// Registration (the hello handshake, paper section 4.3) and every other protocol decision is a
// transition with a named guard and action; each action calls a pure handler (handlers.ts) and
// enqueues what it returns: facts to assign, target and mode writes (named actions the shell
// supplies), events for the guests' machines, log lines and an emitted event:
//
//   createSupervisorMachine().provide({ actions: {
//     writeTarget: (_, { id, targetKiB }) => host.setTarget(id, targetKiB),
//     writeMode: (_, { id, mode, protocol }) => host.setMode(id, mode, protocol) } })
//
// Cost: each input is one assign, whatever it carries. The facts that change every tick and
// report (facts.ts) are kept here, in plain context; a guest's machine keeps its lifecycle and
// gets an event only when that changes (an XState event costs ~15 us per actor, so a tick that
// touched every guest's machine cost tens of ms at 1,000 guests).
//
// Each tick that runs the policy emits a `decision` event (writes.ts), each prompt self step a
// `selfStep`, each hello a `handshake`. No clock is read here: time is the `at` of the input
// being handled. The policy and the logger are closures, so persisted snapshots stay plain JSON.
import { enqueueActions, setup, type Actor, type ActorSystem, type SnapshotFrom } from 'xstate';
import { decide } from '../policy/decide.ts';
import { policyByName } from '../policy/registry.ts';
import { ruleOn } from '../policy/rules.ts';
import { SAFE, unsafePolicy } from '../policy/unsafe.ts';
import type { Policy } from '../policy/types.ts';
import { silentLogger, type Logger } from '../log/logger.ts';
import type { SupervisorConfig } from '../vocabulary/config.ts';
import type { SupervisorInput } from '../vocabulary/events.ts';
import type { GuestFacts, Lifecycle } from './facts.ts';
import { createGuestMachine, guestStateName, type GuestActorRef, type GuestEvent, type GuestSnapshot } from './guest.ts';
import { guestLoggers } from './guest-log.ts';
import {
  onAppeared,
  onConfigChanged,
  onDuplicateGuest,
  onEffectFailed,
  onHello,
  onLeft,
  onReports,
  onReserveSet,
  onReservedGuest,
  onSample,
  onTick,
  onTickWithoutHost,
  onUnknownGuest,
  speaksOurProtocol,
  type LastDecision,
  type LogEntry,
  type Step,
  type SupervisorContext,
} from './handlers.ts';
import { DOM0_ID, type ModeWriteParams, type SupervisorEmitted, type TargetWriteParams } from '../vocabulary/writes.ts';

export type { SupervisorContext } from './handlers.ts';

/** The regimes, in the order their guards are tried: the first that holds is the state. */
export const REGIMES = ['overcommitted', 'reclaimingForDom0', 'abundant', 'scarce'] as const;
export type Regime = (typeof REGIMES)[number];
export type SupervisorStateName = 'starting' | Regime;

/** When each regime holds, from the tick's decision in short (context.last): the regime guards. */
const REGIME_HOLDS: Readonly<Record<Regime, (last: LastDecision) => boolean>> = {
  overcommitted: (last) => last.overcommitted,
  reclaimingForDom0: (last) => last.reclaimKiB > 0,
  abundant: (last) => last.state === 'abundant',
  scarce: (last) => last.state === 'scarce',
};

/** The regime a decision puts the supervisor in; 'starting' before any. */
export function regimeOf(last: LastDecision): SupervisorStateName {
  return REGIMES.find((r) => REGIME_HOLDS[r](last)) ?? 'starting';
}

/**
 * Raised by a tick whose decision changes the regime (the regime guards read the decision in
 * context.last); a tick that leaves it where it was raises nothing, and costs no second step.
 */
export interface Decided {
  type: 'decided';
}

export interface SupervisorOptions {
  /** The policy run each tick (default: the one config.policy names); the simulator plugs in peers. */
  policy?: Policy;
  logger?: Logger;
}

/** The systemId (and actor id) of a guest's machine: `actor.system.get(guestSystemId(id))`. */
export function guestSystemId(id: string): string {
  return `guest:${id}`;
}

/** A guest's facts (allocation, report, what was written, ...) from a supervisor snapshot. */
export function guestFacts(snapshot: { context: SupervisorContext }, id: string): GuestFacts | undefined {
  const c = snapshot.context;
  const i = indexOf(c.guestIds).get(id);
  return i === undefined ? undefined : c.facts[i];
}

/**
 * A guest machine's actor id (its key among the supervisor's children; guests are looked up by
 * systemId, guestSystemId): the spawn count as a decimal integer. XState copies the children
 * record at every spawn and stop; integer keys keep that record an array-like store V8 copies
 * quickly, where 1,000 names made each copy ~2 ms, and stopping a 1,000-guest supervisor 2.7 s.
 */
function guestActorId(spawned: number): string {
  return String(spawned + 1);
}

/** What the supervisor reads of one guest's machine: its ref, and its lifecycle as of `snap`. */
interface GuestSlot {
  ref: GuestActorRef | undefined;
  snap: GuestSnapshot | null;
  life: Lifecycle | null;
}

// guestIds only changes when a guest comes or goes, so its id -> index map, and each guest's
// machine, are looked up once per array (and per actor system: two actors never share slots).
const indexes = new WeakMap<readonly string[], Map<string, number>>();
function indexOf(ids: readonly string[]): Map<string, number> {
  let m = indexes.get(ids);
  if (m === undefined) {
    m = new Map(ids.map((id, i) => [id, i]));
    indexes.set(ids, m);
  }
  return m;
}
const slotCache = new WeakMap<readonly string[], { system: ActorSystem<any>; slots: GuestSlot[] }>();
function slotsOf(system: ActorSystem<any>, ids: readonly string[]): GuestSlot[] {
  const cached = slotCache.get(ids);
  if (cached !== undefined && cached.system === system) return cached.slots;
  const slots = ids.map((id): GuestSlot => ({ ref: system.get(guestSystemId(id)) as GuestActorRef | undefined, snap: null, life: null }));
  slotCache.set(ids, { system, slots });
  return slots;
}

/**
 * A guest's lifecycle, read again only when its machine has a new snapshot (it handled an
 * event): reading every guest's state each tick and report would otherwise dominate them.
 * A synchronous read on purpose, not an event from the child: a guest machine changes state only
 * on an event the supervisor itself sent, and XState delivers it before the supervisor's send
 * returns, so the snapshot is settled by the supervisor's next event. Having the child report
 * back (sendParent) would add one supervisor event per change and keep a second copy of each
 * lifecycle in context, an assign (an O(guests) array copy) per change, to learn what this read
 * gives; and it reads the machine's own state, never a guest's input, so replay stays exact.
 */
function lifecycleOf(slot: GuestSlot & { ref: GuestActorRef }): Lifecycle {
  const snap = slot.ref.getSnapshot();
  if (snap !== slot.snap || slot.life === null) {
    slot.snap = snap;
    slot.life = { state: guestStateName(snap), unmanagedReason: snap.context.unmanagedReason, agentProtocol: snap.context.agentProtocol };
  }
  return slot.life;
}

/** The slot of guest `i` if it has a machine. */
function liveSlot(slots: readonly GuestSlot[], i: number): (GuestSlot & { ref: GuestActorRef }) | undefined {
  const slot = slots[i];
  return slot?.ref === undefined ? undefined : (slot as GuestSlot & { ref: GuestActorRef });
}


/** The guards of the regimes, by state: each reads the decision the tick just made (context.last). */
const REGIME_GUARD = {
  overcommitted: 'hostOvercommitted',
  reclaimingForDom0: 'dom0Reclaiming',
  abundant: 'memoryAbundant',
  scarce: 'memoryScarce',
} as const;

/**
 * The `decided` transitions out of `here`: to the first regime whose guard holds, in REGIMES'
 * order (overcommitted outranks a reclaim, which outranks abundant or scarce); staying put when
 * that is `here` itself (no transition, so nothing is exited and entered again).
 */
function regimeTransitions(here: SupervisorStateName) {
  return REGIMES.map((r) => (r === here ? { guard: REGIME_GUARD[r] } : { guard: REGIME_GUARD[r], target: r }));
}

export function createSupervisorMachine(opts: SupervisorOptions = {}) {
  const log = opts.logger ?? silentLogger();
  const guestLog = guestLoggers(log);
  const guest = createGuestMachine({ logger: log });
  // One policy instance per supervisor: the peers that keep their own pace (src/policy/peers/
  // paced.ts) carry state from tick to tick, so a new one is made only when the config names
  // another policy or other safety switches.
  let made: { name: string; unsafe: SupervisorConfig['unsafe']; policy: Policy } | null = null;
  const policyOf = (c: SupervisorConfig): Policy => {
    if (opts.policy !== undefined) return opts.policy;
    if (made === null || made.name !== c.policy || made.unsafe !== c.unsafe) {
      made = { name: c.policy, unsafe: c.unsafe, policy: unsafePolicy(policyByName(c.policy), c.unsafe ?? SAFE) };
    }
    return made.policy;
  };
  const debug = () => log.isLevelEnabled('debug');

  /** The part of enqueueActions' `enqueue` a Step needs (XState's own type is too generic to name here). */
  interface StepEnqueuer {
    (action: { type: 'log'; params: LogEntry } | { type: 'writeMode'; params: ModeWriteParams } | { type: 'writeTarget'; params: TargetWriteParams }): void;
    sendTo(ref: GuestActorRef, event: GuestEvent): void;
    assign(patch: Partial<SupervisorContext>): void;
    emit(event: SupervisorEmitted): void;
  }

  /** What a handler returned, as the machine's actions: logs, writes, guest events, assign, emit. */
  function enqueueStep(enqueue: StepEnqueuer, step: Step, system: ActorSystem<any>, guestIds: readonly string[]): void {
    for (const l of step.logs) enqueue({ type: 'log', params: l });
    for (const w of step.writes) {
      if (w.kind === 'mode') enqueue({ type: 'writeMode', params: { id: w.id, mode: w.mode, protocol: w.protocol } });
      else enqueue({ type: 'writeTarget', params: { id: w.id, targetKiB: w.targetKiB, ...(w.prompt ? { prompt: true as const } : {}) } });
    }
    if (step.signals.length > 0) {
      const slots = slotsOf(system, guestIds);
      for (const s of step.signals) {
        const ref = slots[s.index]?.ref;
        if (ref !== undefined) enqueue.sendTo(ref, s.event);
      }
    }
    if (step.assign !== null) enqueue.assign(step.assign);
    if (step.emit !== null) enqueue.emit(step.emit);
  }

  /** The supervisor's half of the handshake (onHello decides accepted or refused by the same rule as the guard). */
  function answer(enqueue: StepEnqueuer, context: SupervisorContext, event: SupervisorInput | Decided, system: ActorSystem<any>): void {
    if (event.type !== 'agent.hello') return;
    const i = indexOf(context.guestIds).get(event.id)!;
    const life = lives(system, context.guestIds)(i);
    enqueueStep(enqueue, life === null ? onUnknownGuest(event) : onHello(context, event, i, life), system, context.guestIds);
  }

  /** `lifeOf` for the handlers: each guest's lifecycle as its machine has it. */
  function lives(system: ActorSystem<any>, guestIds: readonly string[]) {
    const slots = slotsOf(system, guestIds);
    return (i: number): Lifecycle | null => {
      const slot = liveSlot(slots, i);
      return slot === undefined ? null : lifecycleOf(slot);
    };
  }

  return setup({
    types: {
      context: {} as SupervisorContext,
      input: {} as SupervisorConfig,
      events: {} as SupervisorInput | Decided,
      emitted: {} as SupervisorEmitted,
    },
    actors: { guest },
    actions: {
      /** Effect: move a balloon. Supplied by the shell; does nothing by default. */
      writeTarget: (_, _params: TargetWriteParams) => {},
      /** Effect: tell an agent its mode. Supplied by the shell; does nothing by default. */
      writeMode: (_, _params: ModeWriteParams) => {},
      /** One line a handler asked for: the supervisor's, or a guest's (bound to its domid only). */
      log: (_, e: LogEntry) => {
        const l = e.domid === undefined ? log : guestLog(e.domid);
        if (e.fields === undefined) l[e.level](e.msg);
        else l[e.level](e.fields, e.msg);
      },

      admitGuest: enqueueActions(({ context, event, enqueue, system }) => {
        if (event.type !== 'guest.appeared') return;
        enqueue.spawnChild('guest', {
          id: guestActorId(context.spawnedGuests),
          systemId: guestSystemId(event.id),
          input: { id: event.id, domid: event.domid },
        });
        enqueueStep(enqueue as never, onAppeared(context, event), system, context.guestIds);
      }),
      ignoreKnownGuest: enqueueActions(({ context, event, enqueue, system }) => {
        if (event.type === 'guest.appeared') enqueueStep(enqueue as never, onDuplicateGuest(event), system, context.guestIds);
      }),
      ignoreReservedGuest: enqueueActions(({ context, event, enqueue, system }) => {
        if (event.type === 'guest.appeared') enqueueStep(enqueue as never, onReservedGuest(event), system, context.guestIds);
      }),
      ignoreUnknownGuest: enqueueActions(({ context, event, enqueue, system }) => {
        enqueueStep(enqueue as never, onUnknownGuest(event as { type: string; at: number }), system, context.guestIds);
      }),
      releaseGuest: enqueueActions(({ context, event, enqueue, system }) => {
        if (event.type !== 'guest.left') return;
        const i = indexOf(context.guestIds).get(event.id)!;
        const ref = liveSlot(slotsOf(system, context.guestIds), i)?.ref;
        if (ref === undefined) return enqueueStep(enqueue as never, onUnknownGuest(event), system, context.guestIds);
        enqueueStep(enqueue as never, onLeft(context, i, event.at), system, context.guestIds);
        enqueue.stopChild(ref);
      }),
      /** The handshake accepted: the guest's machine is told `registered`, its agent its mode. */
      acceptAgent: enqueueActions(({ context, event, enqueue, system }) => answer(enqueue as never, context, event, system)),
      /** The handshake refused (another protocol version): `rejected`, and the agent is told `held`. */
      refuseAgent: enqueueActions(({ context, event, enqueue, system }) => answer(enqueue as never, context, event, system)),
      recordReports: enqueueActions(({ context, event, enqueue, system }) => {
        if (event.type !== 'agent.reports') return;
        const step = onReports(context, event, indexOf(context.guestIds), lives(system, context.guestIds), false, debug());
        enqueueStep(enqueue as never, step, system, context.guestIds);
      }),
      /** Reports while memory is abundant: the reporting self-adjusting guests move at once (Algorithm 2). */
      recordReportsAndSelfStep: enqueueActions(({ context, event, enqueue, system }) => {
        if (event.type !== 'agent.reports') return;
        const step = onReports(context, event, indexOf(context.guestIds), lives(system, context.guestIds), true, debug());
        enqueueStep(enqueue as never, step, system, context.guestIds);
      }),
      recordSample: enqueueActions(({ context, event, enqueue, system }) => {
        if (event.type === 'host.sample') enqueueStep(enqueue as never, onSample(context, event, debug()), system, context.guestIds);
      }),
      skipTick: enqueueActions(({ context, event, enqueue, system }) => {
        enqueueStep(enqueue as never, onTickWithoutHost(event.type === 'tick' ? event.at : 0), system, context.guestIds);
      }),
      /** Algorithm 1: the policy decides, the writes go out, and the regime follows the decision. */
      runTick: enqueueActions(({ context, event, enqueue, system }) => {
        if (event.type !== 'tick' || context.host === null) return;
        const step = onTick(context, event.at, context.host, policyOf(context.config), lives(system, context.guestIds), debug());
        enqueueStep(enqueue as never, step, system, context.guestIds);
        if (step.assign?.last !== undefined && regimeOf(step.assign.last) !== regimeOf(context.last)) enqueue.raise({ type: 'decided' });
      }),
      forgetFailedEffect: enqueueActions(({ context, event, enqueue, system }) => {
        if (event.type === 'effect.failed') enqueueStep(enqueue as never, onEffectFailed(context, event), system, context.guestIds);
      }),
      /** The operator's new configuration: in effect from the next tick, which reads it. */
      takeConfig: enqueueActions(({ context, event, enqueue, system }) => {
        if (event.type === 'config.changed') enqueueStep(enqueue as never, onConfigChanged(event), system, context.guestIds);
      }),
      /** The operator's reservations for domains about to start: served from the next tick. */
      takeReservation: enqueueActions(({ context, event, enqueue, system }) => {
        if (event.type === 'reserve.set') enqueueStep(enqueue as never, onReserveSet(event), system, context.guestIds);
      }),
    },
    guards: {
      guestKnown: ({ context, event }) => 'id' in event && indexOf(context.guestIds).has(event.id),
      guestUnknown: ({ context, event }) => !('id' in event && indexOf(context.guestIds).has(event.id)),
      /** Dom0's id, or a domid that is not a whole number >= 0: not a guest memcoop may manage. */
      reservedId: ({ event }) => event.type === 'guest.appeared' && (event.id === DOM0_ID || !Number.isSafeInteger(event.domid) || event.domid < 0),
      speaksOurProtocol: ({ event }) => event.type === 'agent.hello' && speaksOurProtocol(event),
      noHostSample: ({ context }) => context.host === null,
      /**
       * memcoop's own policy (Algorithm 1 with Algorithm 2's self steps) with its promptSelfSteps
       * rule on; a peer, or the rule off, decides on ticks alone.
       */
      promptSelfSteps: ({ context }) => policyOf(context.config) === decide && ruleOn(context.config.params, 'promptSelfSteps'),
      hostOvercommitted: ({ context }) => REGIME_HOLDS.overcommitted(context.last),
      dom0Reclaiming: ({ context }) => REGIME_HOLDS.reclaimingForDom0(context.last),
      memoryAbundant: ({ context }) => REGIME_HOLDS.abundant(context.last),
      memoryScarce: ({ context }) => REGIME_HOLDS.scarce(context.last),
    },
  }).createMachine({
    id: 'supervisor',
    context: ({ input }) => ({
      config: input,
      guestIds: [],
      facts: [],
      host: null,
      dom0WrittenTargetKiB: null,
      last: { state: null, overcommitted: false, reclaimKiB: 0, dom0GoalKiB: null },
      ticks: 0,
      promptBudgetKiB: 0,
      spawnedGuests: 0,
      reservedKiB: 0,
    }),
    initial: 'starting',
    on: {
      'guest.appeared': [
        { guard: 'guestKnown', actions: 'ignoreKnownGuest' },
        { guard: 'reservedId', actions: 'ignoreReservedGuest' },
        { actions: 'admitGuest' },
      ],
      'guest.left': [{ guard: 'guestUnknown', actions: 'ignoreUnknownGuest' }, { actions: 'releaseGuest' }],
      // The handshake (paper section 4.3): the agent's hello, answered with its mode (or refused).
      'agent.hello': [
        { guard: 'guestUnknown', actions: 'ignoreUnknownGuest' },
        { guard: 'speaksOurProtocol', actions: 'acceptAgent' },
        { actions: 'refuseAgent' },
      ],
      'agent.reports': { actions: 'recordReports' },
      'host.sample': { actions: 'recordSample' },
      tick: [{ guard: 'noHostSample', actions: 'skipTick' }, { actions: 'runTick' }],
      'effect.failed': { actions: 'forgetFailedEffect' },
      // The operator's inputs: both take effect at the next tick, which reads them.
      'config.changed': { actions: 'takeConfig' },
      'reserve.set': { actions: 'takeReservation' },
    },
    states: {
      /** No decision yet: ticks wait for a host sample; reports wait for the first decision. */
      starting: { on: { decided: regimeTransitions('starting') } },
      /** Memory for everyone's commit: guests self-adjust, and their reports move them at once. */
      abundant: {
        on: {
          decided: regimeTransitions('abundant'),
          'agent.reports': { guard: 'promptSelfSteps', actions: 'recordReportsAndSelfStep' },
        },
      },
      /** Not enough: the global balance (equal idle-memory price), on ticks; reports wait for it. */
      scarce: { on: { decided: regimeTransitions('scarce') } },
      /** Dom0 needs more than host free: guests under global control give it back first. */
      reclaimingForDom0: { on: { decided: regimeTransitions('reclaimingForDom0') } },
      /** Every guest at its minimum cannot cover Dom0: they are held there until it eases. */
      overcommitted: { on: { decided: regimeTransitions('overcommitted') } },
    },
  });
}

export type SupervisorMachine = ReturnType<typeof createSupervisorMachine>;
export type SupervisorActor = Actor<SupervisorMachine>;
export type SupervisorSnapshot = SnapshotFrom<SupervisorMachine>;
