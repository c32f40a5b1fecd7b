// A supervisor on a SimulatedClock with recording effects, and builders for its inputs (not a
// test file itself). Time: each tick is TICK_MS after the previous one; other inputs take 1 ms.
import { Writable } from 'node:stream';
import { createActor, SimulatedClock } from 'xstate';
import { createLogger, type Logger } from '../../../src/log/logger.ts';
import { DEFAULT_SUPERVISOR_CONFIG, type SupervisorConfig } from '../../../src/vocabulary/config.ts';
import type { GuestAppeared, HostSample, ReportEntry, SupervisorInput } from '../../../src/vocabulary/events.ts';
import type { GuestFacts } from '../../../src/machines/facts.ts';
import { guestStateName, type GuestSnapshot } from '../../../src/machines/guest.ts';
import { createSupervisorMachine, guestFacts, guestSystemId, type SupervisorActor } from '../../../src/machines/supervisor.ts';
import type { DecisionEvent, HandshakeEvent, ModeWriteParams, SelfStepEvent, TargetWriteParams } from '../../../src/vocabulary/writes.ts';
import type { Policy } from '../../../src/policy/types.ts';

export const MIB = 1024;
export const TICK_MS = 1000;

export type Effect = ({ kind: 'target' } & TargetWriteParams) | ({ kind: 'mode' } & ModeWriteParams);

/** A pino logger whose JSON lines are kept, parsed, in `lines`. */
export function capturingLogger(level = 'debug'): { logger: Logger; lines: Record<string, unknown>[]; raw: string[] } {
  const raw: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) {
        if (l === '') continue;
        raw.push(l);
        lines.push(JSON.parse(l) as Record<string, unknown>);
      }
      cb();
    },
  });
  // pino writes synchronously to a plain Writable without a sonic-boom in between.
  return { logger: createLogger({ level, destination }), lines, raw };
}

export interface RunOptions {
  config?: Partial<SupervisorConfig>;
  policy?: Policy;
  logger?: Logger;
}

export class Run {
  readonly clock = new SimulatedClock();
  readonly actor: SupervisorActor;
  readonly effects: Effect[] = [];
  readonly decisions: DecisionEvent[] = [];
  readonly handshakes: HandshakeEvent[] = [];
  readonly selfSteps: SelfStepEvent[] = [];
  readonly inputs: SupervisorInput[] = [];
  readonly config: SupervisorConfig;
  now = 0;

  constructor(opts: RunOptions = {}) {
    this.config = { ...DEFAULT_SUPERVISOR_CONFIG, ...opts.config };
    const machine = createSupervisorMachine({
      ...(opts.policy ? { policy: opts.policy } : {}),
      ...(opts.logger ? { logger: opts.logger } : {}),
    }).provide({
      actions: {
        writeTarget: (_, p) => void this.effects.push({ kind: 'target', ...p }),
        writeMode: (_, p) => void this.effects.push({ kind: 'mode', ...p }),
      },
    });
    this.actor = createActor(machine, { input: this.config, clock: this.clock });
    this.actor.on('decision', (e) => void this.decisions.push(e));
    this.actor.on('handshake', (e) => void this.handshakes.push(e));
    this.actor.on('selfStep', (e) => void this.selfSteps.push(e));
    this.actor.start();
  }

  send(e: SupervisorInput): void {
    this.now = e.at;
    this.clock.set(e.at);
    this.inputs.push(e);
    this.actor.send(e);
  }

  appear(id: string, domid: number, over: Partial<GuestAppeared> = {}): void {
    this.send({ type: 'guest.appeared', at: this.now + 1, id, domid, minKiB: 128 * MIB, maxKiB: 1024 * MIB, currentKiB: 512 * MIB, shares: 1, ...over });
  }
  hello(id: string, selfAdjust: boolean, protocol = 1): void {
    this.send({ type: 'agent.hello', at: this.now + 1, id, protocol, selfAdjust });
  }
  /** One guest's report, alone in its batch. */
  report(id: string, committedKiB: number, freeKiB = 32 * MIB, swapTotalKiB = 0, swapFreeKiB = 0): void {
    this.reports([{ id, committedKiB, freeKiB, swapTotalKiB, swapFreeKiB }]);
  }
  /** Several guests' reports as one agent.reports batch. */
  reports(reports: ReportEntry[]): void {
    this.send({ type: 'agent.reports', at: this.now + 1, reports });
  }
  sample(freeKiB: number, dom0: HostSample['dom0'], allocations: Record<string, number>): void {
    this.send({ type: 'host.sample', at: this.now + 1, freeKiB, dom0, allocations });
  }
  tick(): void {
    this.send({ type: 'tick', at: (Math.floor(this.now / TICK_MS) + 1) * TICK_MS });
  }
  left(id: string): void {
    this.send({ type: 'guest.left', at: this.now + 1, id });
  }

  guest(id: string): GuestSnapshot | undefined {
    return (this.actor.system.get(guestSystemId(id)) as { getSnapshot(): GuestSnapshot } | undefined)?.getSnapshot();
  }
  /** The supervisor's facts about a guest (allocation, report, what was written, ...). */
  facts(id: string): GuestFacts | undefined {
    return guestFacts(this.actor.getSnapshot(), id);
  }
  state(id: string): string {
    const s = this.guest(id);
    return s === undefined ? 'none' : guestStateName(s);
  }
  /** Effects issued since `from` (an index into effects). */
  since(from: number): Effect[] {
    return this.effects.slice(from);
  }
}

/** Throws unless v is plain JSON data (undefined fields allowed: JSON drops them): no functions, no class instances. */
export function assertPlainJson(v: unknown, path = '$'): void {
  if (v === null || v === undefined || typeof v === 'string' || typeof v === 'boolean') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`${path}: non-finite number`);
    return;
  }
  if (Array.isArray(v)) {
    v.forEach((x, i) => assertPlainJson(x, `${path}[${i}]`));
    return;
  }
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    for (const [k, x] of Object.entries(v)) assertPlainJson(x, `${path}.${k}`);
    return;
  }
  throw new Error(`${path}: not plain JSON (${typeof v}${typeof v === 'object' ? ' ' + (v as object).constructor?.name : ''})`);
}
