// What the daemon knows beyond the supervisor's own state, for the control socket and the
// metrics: the last decision, the policy input of the last tick (to explain it), each guest's
// latest report with the pressure figures the supervisor does not keep, when it came, and the
// daemon's own timings. Fed by the daemon's streams; nothing here changes what the supervisor
// does. Times are the daemon's clock (the `at` of inputs), except handling durations, which are
// the process's own (performance.now), as a metric of the daemon and never an input.
import { performance } from 'node:perf_hooks';
import type { Subscription } from 'rxjs';
import type { Daemon } from '../daemon/daemon.ts';
import type { ReportEntry, SupervisorInput } from '../vocabulary/events.ts';
import type { DecisionEvent, SelfStepEvent, Write } from '../vocabulary/writes.ts';
import { policyInputNow, type TickInput } from './policy-input.ts';

/** The last report of one guest, as the input stream handed it to the supervisor. */
export interface LastReport {
  at: number;
  entry: ReportEntry;
}

export interface ObserverListener {
  /** A tick was handled (its decision, if the policy ran, already seen). */
  tick?(at: number, handledMs: number): void;
  /** A target write was issued for `id`, `latencyMs` after the report it was based on (null: no report waited). */
  targetWrite?(id: string, latencyMs: number | null): void;
  effectFailed?(effect: string): void;
  /** Any input, once the supervisor has handled it. */
  input?(input: SupervisorInput): void;
}

export class DaemonObserver {
  lastDecision: DecisionEvent | null = null;
  /** The policy's input of the tick that made lastDecision. */
  lastTickInput: TickInput | null = null;
  /** The input just before the tick being handled (becomes lastTickInput if the policy runs). */
  private pendingInput: TickInput | null = null;
  readonly reports = new Map<string, LastReport>();
  /**
   * Each guest's latest report not yet followed by a target write: the write is based on it, so
   * the report-to-target latency runs from it (a report the deadband answers with no write is
   * replaced by the next one rather than counted from, which would measure the quiet time).
   */
  private readonly unanswered = new Map<string, number>();
  private handlingSince = 0;
  private readonly listeners = new Set<ObserverListener>();
  private readonly subs: Subscription[] = [];

  constructor(readonly daemon: Daemon) {
    this.subs.push(daemon.beforeInput$.subscribe((i) => this.before(i)));
    this.subs.push(daemon.inputs$.subscribe((i) => this.after(i)));
    this.subs.push(daemon.decisions$.subscribe((e) => this.decided(e)));
    const sub = daemon.actor.on('selfStep', (e: SelfStepEvent) => this.wrote(e.at, e.writes));
    this.subs.push({ unsubscribe: () => sub.unsubscribe() } as Subscription);
  }

  listen(l: ObserverListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  close(): void {
    for (const s of this.subs) s.unsubscribe();
    this.listeners.clear();
  }

  private before(input: SupervisorInput): void {
    this.handlingSince = performance.now();
    if (input.type === 'tick') this.pendingInput = policyInputNow(this.daemon.actor);
    else if (input.type === 'agent.reports') {
      for (const r of input.reports) {
        this.reports.set(r.id, { at: input.at, entry: r });
        this.unanswered.set(r.id, input.at);
      }
    } else if (input.type === 'guest.left') {
      this.reports.delete(input.id);
      this.unanswered.delete(input.id);
    }
  }

  private after(input: SupervisorInput): void {
    const handledMs = performance.now() - this.handlingSince;
    if (input.type === 'tick') for (const l of this.listeners) l.tick?.(input.at, handledMs);
    else if (input.type === 'effect.failed') for (const l of this.listeners) l.effectFailed?.(input.effect);
    for (const l of this.listeners) l.input?.(input);
  }

  private decided(e: DecisionEvent): void {
    this.lastDecision = e;
    this.lastTickInput = this.pendingInput;
    this.wrote(e.at, e.writes);
  }

  private wrote(at: number, writes: readonly Write[]): void {
    for (const w of writes) {
      if (w.kind !== 'target') continue;
      const since = this.unanswered.get(w.id);
      this.unanswered.delete(w.id);
      for (const l of this.listeners) l.targetWrite?.(w.id, since === undefined ? null : at - since);
    }
  }
}
