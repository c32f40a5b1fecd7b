// The imperative shell: a Host's events and the tick become the supervisor's inputs (streams),
// each input is journaled and then sent (recorder), and the supervisor's named effects are run
// against the host. A failed effect comes back as an `effect.failed` input, journaled like any
// other, so a replay sees the same failures.
import { Subject, asyncScheduler, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { createActor, type InspectionEvent, type Observer } from 'xstate';
import type { Host } from '../hosts/host.ts';
import type { Logger } from '../log/logger.ts';
import type { SupervisorConfig } from '../vocabulary/config.ts';
import type { ConfigChanged, EffectFailed, ReserveSet, SupervisorInput } from '../vocabulary/events.ts';
import { createSupervisorMachine, type SupervisorActor } from '../machines/supervisor.ts';
import type { DecisionEvent, HandshakeEvent } from '../vocabulary/writes.ts';
import { nameOfPolicy } from '../policy/registry.ts';
import type { Policy } from '../policy/types.ts';
import { supervisorInputs, type InputStreamOptions } from '../streams/inputs.ts';
import { JournalWriter } from '../journal/writer.ts';
import { LogBudget } from '../util/log-budget.ts';

/** An effect's error text is cut to this before it enters the journal (format.ts bounds it too). */
const MAX_EFFECT_ERROR_CHARS = 200;

/** The inputs that come from the operator rather than the host or the clock. */
export type OperatorInput = ConfigChanged | ReserveSet;

export interface DaemonOptions {
  host: Host;
  config: SupervisorConfig;
  logger: Logger;
  /** Default: the paper's policy. */
  policy?: Policy;
  /** Where to record every input (JSONL); none when absent. */
  journalPath?: string;
  /** The shell's clock for ticks, rate limits and effect failures (the simulator passes its virtual one). */
  scheduler?: SchedulerLike;
  tickMs?: number;
  smoothing?: InputStreamOptions['smoothing'];
  /** The actor system's inspection events (--inspect); none are made without it. */
  inspect?: Observer<InspectionEvent>;
}

export interface Daemon {
  readonly actor: SupervisorActor;
  readonly decisions$: Observable<DecisionEvent>;
  readonly handshakes$: Observable<HandshakeEvent>;
  /** Inputs as they reach the supervisor (after the journal took them). */
  readonly inputs$: Observable<SupervisorInput>;
  /**
   * Each input just before the supervisor handles it (after the journal took it): what the
   * control socket and the metrics read the supervisor's state at (a tick's policy input) and
   * time its handling from; inputs$ follows once it is handled.
   */
  readonly beforeInput$: Observable<SupervisorInput>;
  /** The shell's clock (ms): what inputs are stamped with. */
  now(): number;
  /**
   * An operator's input (a reloaded configuration, a reservation), stamped with now(): journaled
   * and handled like every input. Throws if the journal refuses it (then it is not handled).
   */
  submit(input: OperatorInput): void;
  readonly journal: JournalWriter | null;
  /** Stops the inputs, the actor, the journal and the host. */
  stop(): Promise<void>;
  /** Settles when the daemon stops: resolves after stop(), rejects if its inputs failed. */
  readonly done: Promise<void>;
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { host, logger } = opts;
  // The config names the policy that runs (the journal header records it, and a replay runs
  // it): a known policy given as a function is recorded by its name.
  const named = opts.policy === undefined ? opts.config.policy : nameOfPolicy(opts.policy);
  const config = named === null || named === opts.config.policy ? opts.config : { ...opts.config, policy: named };
  if (named === null) {
    logger.warn({ policy: config.policy }, 'the policy that runs has no name memcoop knows; the journal names config.policy, which is what a replay will run');
  }
  const scheduler = opts.scheduler ?? asyncScheduler;
  const effects$ = new Subject<EffectFailed>();
  const decisions$ = new Subject<DecisionEvent>();
  const handshakes$ = new Subject<HandshakeEvent>();
  const inputs$ = new Subject<SupervisorInput>();
  const beforeInput$ = new Subject<SupervisorInput>();

  const failed = (id: string, effect: EffectFailed['effect']) => (err: unknown) => {
    const error = (err instanceof Error ? err.message : String(err)).slice(0, MAX_EFFECT_ERROR_CHARS) || 'unknown error';
    logger.warn({ effect, error }, `${effect} failed`);
    effects$.next({ type: 'effect.failed', at: scheduler.now(), id, effect, error });
  };

  // The latest write in flight per guest and effect. A write that fails after a later one to the
  // same guest was issued is not reported: the later one replaced it, and an effect.failed would
  // make the supervisor forget the later write while it is in flight (its increase would no longer
  // be counted against free memory). Entries go when their write settles, so this holds only
  // writes in flight.
  const inFlight = new Map<string, number>();
  let writes = 0;
  let stopped = false;
  let cancelledByStop = 0;
  const issue = (id: string, effect: EffectFailed['effect'], write: Promise<void>) => {
    const key = `${effect}:${id}`;
    const n = ++writes;
    inFlight.set(key, n);
    const latest = () => {
      if (inFlight.get(key) !== n) return false;
      inFlight.delete(key);
      return true;
    };
    write.then(latest, (err: unknown) => {
      // Writes the stop cancelled (the host closed under them) are not failures of the guest:
      // one line at the stop says how many, instead of a warning per guest (1,707 at 1,000 guests).
      if (stopped) {
        cancelledByStop += 1;
        return;
      }
      if (latest()) failed(id, effect)(err);
      else logger.debug({ effect }, `${effect} failed after a later one was issued; the later one stands`);
    });
  };

  const machine = createSupervisorMachine({ ...(opts.policy ? { policy: opts.policy } : {}), logger }).provide({
    actions: {
      writeTarget: (_, { id, targetKiB, prompt }) => {
        issue(id, 'setTarget', host.setTarget(id, targetKiB, prompt ? { prompt } : undefined));
      },
      writeMode: (_, { id, mode, protocol }) => {
        issue(id, 'setMode', host.setMode(id, mode, protocol));
      },
    },
  });
  const actor = createActor(machine, { input: config, ...(opts.inspect ? { inspect: opts.inspect } : {}) });
  actor.on('decision', (e) => decisions$.next(e));
  actor.on('handshake', (e) => handshakes$.next(e));
  actor.start();

  // Not per input, and not per gap either: a disk at the edge of full lets a short line through
  // now and then, opening and closing a gap each time; one line a minute each way, with a count.
  const gapOpened = new LogBudget();
  const gapClosed = new LogBudget();
  const journal = opts.journalPath
    ? JournalWriter.open(opts.journalPath, { startedAt: scheduler.now(), config }, {}, {
        opened: (err) => {
          const b = gapOpened.take(scheduler.now());
          if (b.log) logger.error({ code: err.code, journal: opts.journalPath, suppressed: b.suppressed }, 'journal: the disk refused a line; balancing goes on, and the inputs not recorded are counted until writing works again');
        },
        closed: (missing) => {
          const b = gapClosed.take(scheduler.now());
          if (b.log) logger.warn({ missing, journal: opts.journalPath, suppressed: b.suppressed }, 'journal: writing again; a gap line records the inputs that are missing');
        },
      })
    : null;
  // Journal first: what the supervisor saw is exactly what a replay will see.
  // (createRecorder's order, with the observers told in between.)
  const send = (input: SupervisorInput): void => {
    journal?.append(input);
    beforeInput$.next(input);
    actor.send(input);
  };

  let settle: { resolve: () => void; reject: (err: unknown) => void } = { resolve: () => {}, reject: () => {} };
  const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  // A caller that never awaits `done` must not get an unhandled rejection from it.
  done.catch(() => {});
  let sub: Subscription | null = null;

  const shutdown = async (failure?: unknown): Promise<void> => {
    if (stopped) return;
    stopped = true;
    sub?.unsubscribe();
    actor.stop();
    journal?.close();
    try {
      await host.close();
    } finally {
      for (const s of [effects$, decisions$, handshakes$, inputs$, beforeInput$]) s.complete();
      // Writes still failing once the host is closed settle within a turn or two.
      await new Promise<void>((r) => setImmediate(r));
      if (cancelledByStop > 0) logger.info({ writes: cancelledByStop }, 'writes in flight were cancelled by the stop');
      if (failure === undefined) {
        logger.info('memcoop supervisor stopped');
        settle.resolve();
      } else {
        settle.reject(failure);
      }
    }
  };

  sub = supervisorInputs(host.events$, {
    scheduler,
    effects$,
    ...(opts.tickMs !== undefined ? { tickMs: opts.tickMs } : {}),
    ...(opts.smoothing ? { smoothing: opts.smoothing } : {}),
  }).subscribe({
    next: (input) => {
      try {
        send(input);
      } catch (err) {
        // An input the journal refuses (a host emitted something out of its schema) is dropped,
        // not sent: the supervisor must never see what a replay could not. Thrown out of `next`,
        // it would end the process from an RxJS timer.
        logger.error({ err, type: input.type }, 'input refused by the journal; dropped');
        return;
      }
      inputs$.next(input);
    },
    // Without its inputs the supervisor would sit there deciding nothing: stop, and let `done`
    // tell the caller (the CLI exits non-zero so a service manager restarts it).
    error: (err) => {
      logger.fatal({ err }, 'input stream failed; stopping the supervisor');
      void shutdown(err);
    },
  });
  try {
    await host.start();
  } catch (err) {
    logger.fatal({ err }, 'host failed to start');
    await shutdown(err).catch(() => {});
    throw err;
  }
  logger.info({ host: host.kind, journal: opts.journalPath ?? null }, 'memcoop supervisor started');

  return {
    actor,
    decisions$,
    handshakes$,
    inputs$,
    beforeInput$,
    now: () => scheduler.now(),
    submit: (input) => {
      if (stopped) throw new Error('the daemon is stopping');
      send(input);
      inputs$.next(input);
    },
    journal,
    done,
    stop: () => shutdown(),
  };
}
