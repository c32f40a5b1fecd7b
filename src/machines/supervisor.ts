// The supervisor: every external input (events.ts) enters here, with its timestamp. It owns the
// registration handshake (paper section 4.3) and runs Algorithm 1 on each tick: Dom0 first,
// reclaim for Dom0 when host free cannot cover it, abundant -> self adjustment, scarce -> global
// balance (the policy decides; plan.ts turns the decision into writes). Writing a target or a
// mode is a named action the shell supplies:
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
// Prompt self adjustment: while the last decision was abundant (and Dom0 needed nothing back), a
// report batch moves the reporting self-adjusting guests at once (policy/self-step.ts, paper
// Algorithm 2), emitting a `selfStep` event. Scarce memory or a Dom0 reclaim needs every guest's
// data, so then reports wait for the tick's global balance. Only with memcoop's own policy: a
// peer policy decides on ticks alone.
//
// Each tick that runs the policy emits a `decision` event (writes.ts). No clock is read here:
// time is the `at` of the input being handled. The policy and the logger are closures, so
// persisted snapshots stay plain JSON.
import { enqueueActions, setup, type Actor, type ActorSystem, type AnyActorRef, type SnapshotFrom } from 'xstate';
import { decide } from '../policy/decide.ts';
import { policyByName } from '../policy/registry.ts';
import { ruleOn } from '../policy/rules.ts';
import { SAFE, unsafePolicy } from '../policy/unsafe.ts';
import { freeBudget, selfAdjustStep, type SelfStepGuest } from '../policy/self-step.ts';
import { isPaging } from '../policy/pressure.ts';
import { orderWrites } from '../policy/steps.ts';
import { releaseReservedToFree, withReservation } from '../policy/reservation.ts';
import type { Policy } from '../policy/types.ts';
import { silentLogger, type Logger } from '../log/logger.ts';
import type { SupervisorConfig } from './config.ts';
import { PROTOCOL_VERSION, type SupervisorInput } from './events.ts';
import {
  applyAllocation,
  applyEffectFailed,
  applyHello,
  applyReport,
  answerHello,
  newFacts,
  participates,
  tickGuest,
  withFacts,
  type GuestFacts,
  type GuestLimits,
  keptReport,
  type GuestReport,
  type GuestSignal,
  type Lifecycle,
} from './facts.ts';
import { createGuestMachine, guestStateName, type GuestActorRef, type GuestEvent, type GuestSnapshot } from './guest.ts';
import { guestLoggers } from './guest-log.ts';
import { buildDecideInput, MIN_TARGET_CHANGE_KIB, planTick, runPolicy, withinDeadband, type GuestView, type HostFacts } from './plan.ts';
import { DOM0_ID, type ModeWriteParams, type SupervisorEmitted, type TargetWriteParams, type Write } from './writes.ts';

export interface SupervisorContext {
  config: SupervisorConfig;
  /** Live guests, sorted: the order guests are given to the policy (replays see the same order). */
  guestIds: string[];
  /** Each live guest's facts, in the order of guestIds. */
  facts: GuestFacts[];
  host: HostFacts | null;
  dom0WrittenTargetKiB: number | null;
  /** Last tick's outcome: to log changes rather than every tick, and to allow prompt self steps. */
  last: { state: 'abundant' | 'scarce' | null; overcommitted: boolean; reclaimKiB: number; dom0GoalKiB: number | null };
  /** Ticks that ran the policy: the clock silence and stalls are counted by. */
  ticks: number;
  /** Free memory not yet spoken for: what prompt self steps may still grow guests by. */
  promptBudgetKiB: number;
  /** Guest machines spawned so far: the next one's actor id (see guestActorId). */
  spawnedGuests: number;
  /** Memory reserved for domains about to start (reserve.set): served as Dom0's need, kept free. */
  reservedKiB: number;
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

function sortedPosition(ids: readonly string[], id: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ids[mid]! < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function limitsOf(c: SupervisorConfig): GuestLimits {
  return { silenceTicks: c.silenceTicks, stuckTicks: c.stuckTicks, stuckRetryTicks: c.stuckRetryTicks, balloonSlackKiB: c.balloonSlackKiB };
}

/** Copy-on-write over the facts array: one copy per input at most, only if something changed. */
function factsWriter(base: GuestFacts[]) {
  let out: GuestFacts[] | null = null;
  return {
    get: (i: number): GuestFacts => (out ?? base)[i]!,
    set(i: number, f: GuestFacts): void {
      if ((out ?? base)[i] === f) return;
      out ??= base.slice();
      out[i] = f;
    },
    result: (): GuestFacts[] => out ?? base,
  };
}

function withAt(s: GuestSignal, at: number): GuestEvent {
  return { ...s, at } as GuestEvent;
}

/** Memory promised to guests and not yet seen landed: written targets above the allocation. */
function pendingIncreases(facts: readonly GuestFacts[]): number {
  let sum = 0;
  for (const f of facts) if (f.writtenTargetKiB !== null && f.writtenTargetKiB > f.currentKiB) sum += f.writtenTargetKiB - f.currentKiB;
  return sum;
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
  // The write deadband (plan.ts), unless the rules switch it off; the paper's policy has none.
  const deadbandOf = (c: SupervisorConfig): number => (c.policy === 'paper' || !ruleOn(c.params, 'deadband') ? 0 : MIN_TARGET_CHANGE_KIB);

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
      facts: [],
      host: null,
      dom0WrittenTargetKiB: null,
      last: { state: null, overcommitted: false, reclaimKiB: 0, dom0GoalKiB: null },
      ticks: 0,
      promptBudgetKiB: 0,
      spawnedGuests: 0,
      reservedKiB: 0,
    }),
    on: {
      'guest.appeared': {
        actions: enqueueActions(({ context, event, enqueue }) => {
          if (indexOf(context.guestIds).has(event.id)) {
            log.warn({ domid: event.domid, at: event.at }, 'guest.appeared for a guest already known; ignored');
            return;
          }
          if (event.id === DOM0_ID || !Number.isSafeInteger(event.domid) || event.domid < 0) {
            log.warn({ at: event.at }, 'guest.appeared with a reserved id or a bad domid; ignored');
            return;
          }
          enqueue.spawnChild('guest', {
            id: guestActorId(context.spawnedGuests),
            systemId: guestSystemId(event.id),
            input: { id: event.id, domid: event.domid },
          });
          const f = newFacts(event, context.ticks);
          guestLog(f.domid).info(
            { minKiB: f.minKiB, maxKiB: f.maxKiB, currentKiB: f.currentKiB, shares: f.shares },
            'guest appeared; waiting for its agent',
          );
          const at = sortedPosition(context.guestIds, event.id);
          const guestIds = context.guestIds.slice();
          guestIds.splice(at, 0, event.id);
          const facts = context.facts.slice();
          facts.splice(at, 0, f);
          enqueue.assign({ guestIds, facts, spawnedGuests: context.spawnedGuests + 1 });
        }),
      },
      'guest.left': {
        actions: enqueueActions(({ context, event, enqueue, system }) => {
          const i = indexOf(context.guestIds).get(event.id);
          const ref = i === undefined ? undefined : liveSlot(slotsOf(system, context.guestIds), i)?.ref;
          if (i === undefined || ref === undefined) {
            log.debug({ at: event.at }, 'guest.left for an unknown guest; ignored');
            return;
          }
          enqueue.sendTo(ref, { type: 'left', at: event.at });
          enqueue.stopChild(ref);
          enqueue.assign({
            guestIds: context.guestIds.filter((_, k) => k !== i),
            facts: context.facts.filter((_, k) => k !== i),
          });
        }),
      },
      // The handshake: the agent announced its protocol and preference; we answer with the mode.
      // A first registration (or one after the guest went unmanaged) gets the agent's preference;
      // an agent that says hello again while managed is told the mode the supervisor gave it.
      'agent.hello': {
        actions: enqueueActions(({ context, event, enqueue, system }) => {
          const i = indexOf(context.guestIds).get(event.id);
          const slot = i === undefined ? undefined : liveSlot(slotsOf(system, context.guestIds), i);
          if (i === undefined || slot === undefined) {
            log.debug({ at: event.at }, 'agent.hello for an unknown guest; ignored');
            return;
          }
          const ref = slot.ref;
          const life = lifecycleOf(slot);
          const { accepted, mode } = answerHello(life, event.protocol, event.selfAdjust, PROTOCOL_VERSION);
          enqueue.sendTo(
            ref,
            accepted
              ? { type: 'registered', at: event.at, protocol: event.protocol, selfAdjust: event.selfAdjust, mode }
              : { type: 'rejected', at: event.at, protocol: event.protocol },
          );
          enqueue({ type: 'writeMode', params: { id: event.id, mode, protocol: PROTOCOL_VERSION } });
          const facts = factsWriter(context.facts);
          facts.set(i, applyHello(facts.get(i), life, mode, accepted, context.ticks));
          enqueue.assign({ facts: facts.result() });
          enqueue.emit({ type: 'handshake', at: event.at, id: event.id, accepted, mode });
        }),
      },
      'agent.reports': {
        actions: enqueueActions(({ context, event, enqueue, system }) => {
          const index = indexOf(context.guestIds);
          const slots = slotsOf(system, context.guestIds);
          const facts = factsWriter(context.facts);
          // Prompt self steps: memcoop's policy, and only while the last decision was abundant
          // with nothing owed to Dom0; otherwise the reports wait for the tick's global balance.
          const last = context.last;
          const prompt =
            policyOf(context.config) === decide &&
            ruleOn(context.config.params, 'promptSelfSteps') &&
            context.host !== null && last.state === 'abundant' && last.reclaimKiB === 0 && !last.overcommitted;
          const selfAdjusting = new Set<number>();
          const debug = log.isLevelEnabled('debug');
          let unknown = 0;
          for (const r of event.reports) {
            const i = index.get(r.id);
            const slot = i === undefined ? undefined : liveSlot(slots, i);
            if (i === undefined || slot === undefined) {
              unknown++;
              continue;
            }
            const ref = slot.ref;
            const life = lifecycleOf(slot);
            const report: GuestReport = keptReport(r, facts.get(i).report);
            const out = applyReport(facts.get(i), life, report, context.ticks);
            facts.set(i, out.facts);
            if (out.signal !== null) enqueue.sendTo(ref, withAt(out.signal, event.at));
            if (prompt && life.state === 'selfAdjusting' && participates(life, out.facts)) selfAdjusting.add(i);
          }
          if (unknown > 0) log.debug({ at: event.at, unknown }, 'agent.reports names guests not known; ignored');

          let promptBudgetKiB = context.promptBudgetKiB;
          if (selfAdjusting.size > 0) {
            const idx = [...selfAdjusting];
            const guests: SelfStepGuest[] = idx.map((i) => {
              const f = facts.get(i);
              return {
                id: f.id,
                minKiB: f.minKiB,
                maxKiB: f.maxKiB,
                currentKiB: f.currentKiB,
                committedKiB: f.report!.committedKiB,
                pendingIncreaseKiB: f.writtenTargetKiB === null ? 0 : Math.max(0, f.writtenTargetKiB - f.currentKiB),
                paging: isPaging(f.report!),
              };
            });
            const step = selfAdjustStep({ params: context.config.params, budgetKiB: promptBudgetKiB, guests });
            promptBudgetKiB = step.budgetKiB;
            const current = new Map<number, number>();
            const targets = new Map<number, number>();
            step.guests.forEach((g, k) => {
              const i = idx[k]!;
              const f = facts.get(i);
              // The tick's write deadband (plan.ts) holds here too: Committed_AS jitters by a few
              // pages from report to report, and each write would wake the balloon for nothing.
              if (g.targetKiB !== f.writtenTargetKiB && !withinDeadband(g.targetKiB, g.goalKiB, f.writtenTargetKiB, f.currentKiB, f.minKiB, f.maxKiB, deadbandOf(context.config))) {
                current.set(i, f.currentKiB);
                targets.set(i, g.targetKiB);
              }
              facts.set(i, withFacts(f, { goalKiB: g.goalKiB, targetKiB: g.targetKiB }));
            });
            // Decreases before increases; a hold (target = allocation) goes between.
            const moving = orderWrites(current, targets);
            const holds = [...targets].filter(([i, t]) => t === current.get(i)).map(([i, t]) => ({ id: i, fromKiB: t, toKiB: t, direction: 'hold' }));
            const firstUp = moving.findIndex((w) => w.direction === 'increase');
            const split = firstUp < 0 ? moving.length : firstUp;
            const writes: Write[] = [];
            for (const w of [...moving.slice(0, split), ...holds, ...moving.slice(split)]) {
              const f = facts.get(w.id);
              facts.set(w.id, withFacts(f, { writtenTargetKiB: w.toKiB, touched: true, targetWriteFailed: false }));
              writes.push({ kind: 'target', id: f.id, targetKiB: w.toKiB, fromKiB: w.fromKiB });
              enqueue({ type: 'writeTarget', params: { id: f.id, targetKiB: w.toKiB } });
              if (debug) guestLog(f.domid).debug({ targetKiB: w.toKiB, goalKiB: f.goalKiB, currentKiB: f.currentKiB }, 'target written');
            }
            if (writes.length > 0) enqueue.emit({ type: 'selfStep', at: event.at, guests: step.guests, writes, budgetKiB: promptBudgetKiB });
          }
          enqueue.assign({ facts: facts.result(), promptBudgetKiB });
        }),
      },
      'host.sample': {
        actions: enqueueActions(({ context, event, enqueue }) => {
          const host: HostFacts = {
            at: event.at,
            freeKiB: event.freeKiB,
            dom0: { currentKiB: event.dom0.currentKiB, committedKiB: event.dom0.committedKiB },
          };
          const facts = factsWriter(context.facts);
          // By our guests rather than by the sample's keys: lookups in the sample are ~5x cheaper
          // than listing its 1,000 keys.
          const { allocations } = event;
          let known = 0;
          context.guestIds.forEach((id, i) => {
            if (!Object.hasOwn(allocations, id)) return;
            known++;
            facts.set(i, applyAllocation(facts.get(i), allocations[id]!));
          });
          if (log.isLevelEnabled('debug')) {
            const unknown = Object.keys(allocations).length - known;
            if (unknown > 0) log.debug({ at: event.at, unknown }, 'host.sample names guests not known; ignored');
          }
          const next = facts.result();
          const dom0Need = context.last.dom0GoalKiB === null ? 0 : context.last.dom0GoalKiB - host.dom0.currentKiB;
          const promptBudgetKiB = freeBudget(context.config.params, host.freeKiB, dom0Need + context.reservedKiB, pendingIncreases(next));
          enqueue.assign({ host, facts: next, promptBudgetKiB });
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
          const refs: GuestActorRef[] = [];
          const lives: Lifecycle[] = [];
          const views: GuestView[] = [];
          const slots: number[] = []; // views[k] is facts[slots[k]]
          const guests = slotsOf(system, context.guestIds);
          context.guestIds.forEach((id, i) => {
            const slot = liveSlot(guests, i);
            if (slot === undefined) return;
            const ref = slot.ref;
            const life = lifecycleOf(slot);
            const f = context.facts[i]!;
            refs.push(ref);
            lives.push(life);
            slots.push(i);
            views.push({ id, state: life.state, participates: participates(life, f), agentProtocol: life.agentProtocol, facts: f });
          });
          const input = buildDecideInput(context.config, host, views);
          const ran = runPolicy(policyOf(context.config), withReservation(input, context.reservedKiB));
          if ('error' in ran) {
            log.error({ at: event.at, error: ran.error }, 'policy failed; tick skipped');
            return;
          }
          const decision = releaseReservedToFree(ran.decision, input, context.reservedKiB);
          const plan = planTick(decision, views, host, context.dom0WrittenTargetKiB, deadbandOf(context.config));

          for (const w of plan.writes) {
            if (w.kind === 'mode') enqueue({ type: 'writeMode', params: { id: w.id, mode: w.mode, protocol: w.protocol } });
            else enqueue({ type: 'writeTarget', params: { id: w.id, targetKiB: w.targetKiB } });
          }

          const ticks = context.ticks + 1;
          const limits = limitsOf(context.config);
          const facts = factsWriter(context.facts);
          const debug = log.isLevelEnabled('debug');
          views.forEach((v, k) => {
            const outcome = plan.outcomes[k]!;
            const out = tickGuest(v.facts, lives[k]!, outcome, ticks, limits);
            facts.set(slots[k]!, out.facts);
            for (const s of out.signals) enqueue.sendTo(refs[k] as AnyActorRef, withAt(s, event.at));
            if (debug && outcome.wroteTargetKiB !== null) {
              guestLog(v.facts.domid).debug(
                { targetKiB: outcome.wroteTargetKiB, goalKiB: outcome.goalKiB, currentKiB: v.facts.currentKiB },
                'target written',
              );
            }
          });

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

          const next = facts.result();
          enqueue.assign({
            facts: next,
            dom0WrittenTargetKiB: plan.dom0TargetKiB ?? context.dom0WrittenTargetKiB,
            last: {
              state: decision.state,
              overcommitted: decision.overcommitted,
              reclaimKiB: decision.dom0.reclaimKiB,
              dom0GoalKiB: decision.dom0.goalKiB,
            },
            ticks,
            promptBudgetKiB: freeBudget(context.config.params, host.freeKiB, decision.dom0.goalKiB - host.dom0.currentKiB + context.reservedKiB, pendingIncreases(next)),
          });
          enqueue.emit({ type: 'decision', at: event.at, decision, writes: plan.writes });
        }),
      },
      // The operator's inputs: both take effect at the next tick, which reads them.
      'config.changed': {
        actions: enqueueActions(({ event, enqueue }) => {
          log.info({ at: event.at, policy: event.config.policy }, 'configuration changed; in effect from the next tick');
          enqueue.assign({ config: event.config });
        }),
      },
      'reserve.set': {
        actions: enqueueActions(({ event, enqueue }) => {
          log.info({ at: event.at, reservedKiB: event.reservedKiB }, 'memory reserved for new domains');
          enqueue.assign({ reservedKiB: event.reservedKiB });
        }),
      },
      'effect.failed': {
        actions: enqueueActions(({ context, event, enqueue }) => {
          if (event.id === DOM0_ID) {
            log.warn({ at: event.at, effect: event.effect, error: event.error }, 'Dom0 effect failed; re-issued next tick');
            if (event.effect === 'setTarget') enqueue.assign({ dom0WrittenTargetKiB: null });
            return;
          }
          const i = indexOf(context.guestIds).get(event.id);
          if (i === undefined) {
            log.debug({ at: event.at }, 'effect.failed for an unknown guest; ignored');
            return;
          }
          const facts = factsWriter(context.facts);
          const f = facts.get(i);
          guestLog(f.domid).warn({ effect: event.effect, error: event.error }, 'effect failed; re-issued next tick');
          facts.set(i, applyEffectFailed(f, event.effect));
          enqueue.assign({ facts: facts.result() });
        }),
      },
    },
  });
}

export type SupervisorMachine = ReturnType<typeof createSupervisorMachine>;
export type SupervisorActor = Actor<SupervisorMachine>;
export type SupervisorSnapshot = SnapshotFrom<SupervisorMachine>;
