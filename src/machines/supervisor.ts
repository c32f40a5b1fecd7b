// The supervisor: every external input (events.ts) enters here, with its timestamp, and only
// then reaches a guest machine. It owns the registration handshake (paper section 4.3) and runs
// Algorithm 1 on each tick: Dom0 first, reclaim for Dom0 when host free cannot cover it,
// abundant -> self adjustment, scarce -> global balance (the policy decides; plan.ts turns the
// decision into writes). Writing a target or a mode is a named action the shell supplies:
//
//   createSupervisorMachine().provide({ actions: {
//     writeTarget: (_, { id, targetKiB }) => host.setTarget(id, targetKiB),
//     writeMode: (_, { id, mode, protocol }) => host.setMode(id, mode, protocol) } })
//
// Each tick that runs the policy also emits a `decision` event (writes.ts). No clock is read
// here: time is the `at` of the input being handled. The policy and the logger are closures, so
// persisted snapshots stay plain JSON.
import { enqueueActions, setup, type Actor, type ActorSystem, type AnyActorRef } from 'xstate';
import { decide } from '../policy/decide.ts';
import type { Policy } from '../policy/types.ts';
import { silentLogger, type Logger } from '../log/logger.ts';
import type { SupervisorConfig } from './config.ts';
import { PROTOCOL_VERSION, type SupervisorInput } from './events.ts';
import { createGuestMachine, guestStateName, modeOfState, participates, type GuestActorRef } from './guest.ts';
import { buildDecideInput, planTick, runPolicy, type GuestView, type HostFacts } from './plan.ts';
import { DOM0_ID, type ModeWriteParams, type SupervisorEmitted, type TargetWriteParams } from './writes.ts';

export interface SupervisorContext {
  config: SupervisorConfig;
  /** Live guests, sorted: the order guests are given to the policy (replays see the same order). */
  guestIds: string[];
  host: HostFacts | null;
  dom0WrittenTargetKiB: number | null;
  /** Last tick's outcome, to log changes rather than every tick. */
  last: { state: 'abundant' | 'scarce' | null; overcommitted: boolean; reclaimKiB: number };
  ticks: number;
}

export interface SupervisorOptions {
  /** The policy run each tick (default: the paper's, `decide`); the simulator plugs in peers. */
  policy?: Policy;
  logger?: Logger;
}

/** The systemId (and actor id) of a guest's machine: `actor.system.get(guestSystemId(id))`. */
export function guestSystemId(id: string): string {
  return `guest:${id}`;
}

function guestRef(system: ActorSystem<any>, id: string): GuestActorRef | undefined {
  return system.get(guestSystemId(id)) as GuestActorRef | undefined;
}

function insertSorted(ids: readonly string[], id: string): string[] {
  const out = ids.slice();
  let i = out.length;
  while (i > 0 && out[i - 1]! > id) i--;
  out.splice(i, 0, id);
  return out;
}

export function createSupervisorMachine(opts: SupervisorOptions = {}) {
  const policy = opts.policy ?? decide;
  const log = opts.logger ?? silentLogger();
  const guest = createGuestMachine({ logger: log });

  return setup({
    types: {
      context: {} as SupervisorContext,
      input: {} as SupervisorConfig,
      events: {} as SupervisorInput,
      emitted: {} as SupervisorEmitted,
    },
    actors: { guest },
    actions: {
      /** Effect: move a balloon. Supplied by the shell; does nothing by default. */
      writeTarget: (_, _params: TargetWriteParams) => {},
      /** Effect: tell an agent its mode. Supplied by the shell; does nothing by default. */
      writeMode: (_, _params: ModeWriteParams) => {},

    },
  }).createMachine({
    id: 'supervisor',
    context: ({ input }) => ({
      config: input,
      guestIds: [],
      host: null,
      dom0WrittenTargetKiB: null,
      last: { state: null, overcommitted: false, reclaimKiB: 0 },
      ticks: 0,
    }),
    on: {
      'guest.appeared': {
        actions: enqueueActions(({ context, event, enqueue, system }) => {
          if (guestRef(system, event.id) !== undefined) {
            log.warn({ domid: event.domid, at: event.at }, 'guest.appeared for a guest already known; ignored');
            return;
          }
          if (event.id === DOM0_ID || !Number.isSafeInteger(event.domid) || event.domid < 0) {
            log.warn({ at: event.at }, 'guest.appeared with a reserved id or a bad domid; ignored');
            return;
          }
          const { silenceTicks, stuckTicks, stuckRetryTicks, balloonSlackKiB } = context.config;
          enqueue.spawnChild('guest', {
            id: guestSystemId(event.id),
            systemId: guestSystemId(event.id),
            input: {
              id: event.id,
              domid: event.domid,
              minKiB: event.minKiB,
              maxKiB: event.maxKiB,
              currentKiB: event.currentKiB,
              shares: event.shares,
              limits: { silenceTicks, stuckTicks, stuckRetryTicks, balloonSlackKiB },
            },
          });
          enqueue.assign({ guestIds: insertSorted(context.guestIds, event.id) });
        }),
      },
      'guest.left': {
        actions: enqueueActions(({ context, event, enqueue, system }) => {
          const ref = guestRef(system, event.id);
          if (ref === undefined) {
            log.debug({ at: event.at }, 'guest.left for an unknown guest; ignored');
            return;
          }
          enqueue.sendTo(ref, { type: 'left', at: event.at });
          enqueue.stopChild(guestSystemId(event.id));
          enqueue.assign({ guestIds: context.guestIds.filter((g) => g !== event.id) });
        }),
      },
      // The handshake: the agent announced its protocol and preference; we answer with the mode.
      // A first registration (or one after the guest went unmanaged) gets the agent's preference;
      // an agent that says hello again while managed is told the mode the supervisor gave it.
      'agent.hello': {
        actions: enqueueActions(({ event, enqueue, system }) => {
          const ref = guestRef(system, event.id);
          if (ref === undefined) {
            log.debug({ at: event.at }, 'agent.hello for an unknown guest; ignored');
            return;
          }
          if (event.protocol !== PROTOCOL_VERSION) {
            enqueue.sendTo(ref, { type: 'rejected', at: event.at, protocol: event.protocol });
            enqueue({ type: 'writeMode', params: { id: event.id, mode: 'held', protocol: PROTOCOL_VERSION } });
            enqueue.emit({ type: 'handshake', at: event.at, id: event.id, accepted: false, mode: 'held' });
            return;
          }
          const state = guestStateName(ref.getSnapshot());
          const fresh = state === 'registering' || state === 'unmanaged';
          const mode = fresh ? (event.selfAdjust ? 'self' : 'global') : (modeOfState(state) ?? 'held');
          enqueue.sendTo(ref, { type: 'registered', at: event.at, protocol: event.protocol, selfAdjust: event.selfAdjust, mode });
          enqueue({ type: 'writeMode', params: { id: event.id, mode, protocol: PROTOCOL_VERSION } });
          enqueue.emit({ type: 'handshake', at: event.at, id: event.id, accepted: true, mode });
        }),
      },
      'agent.reports': {
        actions: enqueueActions(({ event, enqueue, system }) => {
          let unknown = 0;
          for (const r of event.reports) {
            const ref = guestRef(system, r.id);
            if (ref === undefined) {
              unknown++;
              continue;
            }
            const { committedKiB, freeKiB, swapTotalKiB, swapFreeKiB } = r;
            enqueue.sendTo(ref, { type: 'report', at: event.at, report: { committedKiB, freeKiB, swapTotalKiB, swapFreeKiB } });
          }
          if (unknown > 0) log.debug({ at: event.at, unknown }, 'agent.reports names guests not known; ignored');
        }),
      },
      'host.sample': {
        actions: enqueueActions(({ event, enqueue, system }) => {
          enqueue.assign({
            host: {
              at: event.at,
              freeKiB: event.freeKiB,
              dom0: { currentKiB: event.dom0.currentKiB, committedKiB: event.dom0.committedKiB },
            },
          });
          let unknown = 0;
          for (const [id, currentKiB] of Object.entries(event.allocations)) {
            const ref = guestRef(system, id);
            if (ref === undefined) unknown++;
            else if (ref.getSnapshot().context.currentKiB !== currentKiB) {
              enqueue.sendTo(ref, { type: 'allocation', at: event.at, currentKiB });
            }
          }
          if (unknown > 0) log.debug({ at: event.at, unknown }, 'host.sample names guests not known; ignored');
        }),
      },
      // Algorithm 1, once per tick.
      tick: {
        actions: enqueueActions(({ context, event, enqueue, system }) => {
          const host = context.host;
          if (host === null) {
            log.debug({ at: event.at }, 'tick before any host sample; nothing to decide on');
            return;
          }
          const refs = new Map<string, GuestActorRef>();
          const views: GuestView[] = [];
          for (const id of context.guestIds) {
            const ref = guestRef(system, id);
            if (ref === undefined) continue;
            const snap = ref.getSnapshot();
            refs.set(id, ref);
            views.push({ id, state: guestStateName(snap), participates: participates(snap), context: snap.context });
          }
          const ran = runPolicy(policy, buildDecideInput(context.config, host, views));
          if ('error' in ran) {
            log.error({ at: event.at, error: ran.error }, 'policy failed; tick skipped');
            return;
          }
          const { decision } = ran;
          const plan = planTick(decision, views, host, context.dom0WrittenTargetKiB);

          for (const w of plan.writes) {
            if (w.kind === 'mode') enqueue({ type: 'writeMode', params: { id: w.id, mode: w.mode, protocol: w.protocol } });
            else enqueue({ type: 'writeTarget', params: { id: w.id, targetKiB: w.targetKiB } });
          }
          for (const [id, outcome] of plan.outcomes) {
            const ref = refs.get(id);
            if (ref !== undefined) enqueue.sendTo(ref as AnyActorRef, { type: 'decided', at: event.at, ...outcome });
          }

          const last = context.last;
          if (decision.state !== last.state) {
            log.info(
              { at: event.at, state: decision.state, price: decision.price },
              decision.state === 'abundant' ? 'memory abundant: guests self-adjust' : 'memory scarce: global balance',
            );
          }
          if (decision.overcommitted !== last.overcommitted) {
            if (decision.overcommitted) log.warn({ at: event.at, dom0GoalKiB: decision.dom0.goalKiB }, 'host overcommitted: every guest at its minimum cannot cover Dom0');
            else log.info({ at: event.at }, 'host no longer overcommitted');
          }
          if ((decision.dom0.reclaimKiB > 0) !== (last.reclaimKiB > 0)) {
            if (decision.dom0.reclaimKiB > 0) log.info({ at: event.at, reclaimKiB: decision.dom0.reclaimKiB }, 'reclaiming memory from the guests for Dom0');
            else log.info({ at: event.at }, 'Dom0 reclaim over');
          }
          if (plan.dom0TargetKiB !== null) log.debug({ at: event.at, targetKiB: plan.dom0TargetKiB }, 'Dom0 target written');

          enqueue.assign({
            dom0WrittenTargetKiB: plan.dom0TargetKiB ?? context.dom0WrittenTargetKiB,
            last: { state: decision.state, overcommitted: decision.overcommitted, reclaimKiB: decision.dom0.reclaimKiB },
            ticks: context.ticks + 1,
          });
          enqueue.emit({ type: 'decision', at: event.at, decision, writes: plan.writes });
        }),
      },
      'effect.failed': {
        actions: enqueueActions(({ event, enqueue, system }) => {
          if (event.id === DOM0_ID) {
            log.warn({ at: event.at, effect: event.effect, error: event.error }, 'Dom0 effect failed; re-issued next tick');
            if (event.effect === 'setTarget') enqueue.assign({ dom0WrittenTargetKiB: null });
            return;
          }
          const ref = guestRef(system, event.id);
          if (ref === undefined) {
            log.debug({ at: event.at }, 'effect.failed for an unknown guest; ignored');
            return;
          }
          enqueue.sendTo(ref, { type: 'effectFailed', at: event.at, effect: event.effect, error: event.error });
        }),
      },
    },
  });
}

export type SupervisorMachine = ReturnType<typeof createSupervisorMachine>;
export type SupervisorActor = Actor<SupervisorMachine>;
