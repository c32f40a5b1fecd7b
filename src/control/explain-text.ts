// The explanation of one tick's decision, for the control socket and `memcoop replay --explain`:
// refused, in one line, where it would not describe what ran (a peer's policy, safety switched
// off, a guest the decision does not name).
import type { SupervisorConfig } from '../vocabulary/config.ts';
import { explainDecision, forGuest, formatExplanation, mib, type Explanation } from '../policy/explain.ts';
import type { TickInput } from './policy-input.ts';
import { isSafe } from '../policy/unsafe.ts';
import { deadbandOf } from '../machines/handlers.ts';
import type { Write } from '../vocabulary/writes.ts';

/** A clock past this is the wall clock (epoch ms, 2001-09-09); below it, a simulator's virtual time. */
const EPOCH_MS_2001 = 1e12;

export interface ExplainResult {
  /** The tick's time (the daemon's clock, or the journal's). */
  at: number;
  guest: string | null;
  text: string;
  explanation: Explanation;
}

/**
 * The write deadband (machines/plan.ts, the supervisor's rule around the policy): for each guest
 * whose new target differs from the one written before the tick, by less than the deadband, and
 * was not written this tick, the sentence that says so. writes: the tick's own writes.
 */
function deadbandNotes(config: SupervisorConfig, tick: TickInput, e: Explanation, writes: readonly Write[]): Record<string, string[]> {
  const band = deadbandOf(config);
  const written = new Set(writes.flatMap((w) => (w.kind === 'target' ? [w.id] : [])));
  const notes: Record<string, string[]> = {};
  for (const d of e.decision.guests) {
    const before = tick.writtenKiB[d.id] ?? null;
    if (band === 0 || before === null || d.targetKiB === before || written.has(d.id) || Math.abs(d.targetKiB - before) >= band) continue;
    notes[d.id] = [`not written: target ${mib(d.targetKiB)} is within ${mib(band)} of the target already written, ${mib(before)} (deadband)`];
  }
  return notes;
}

/** The explanation, or a one-line reason why there is none. writes: that tick's writes. */
export function explainTick(config: SupervisorConfig, tick: TickInput, at: number, guest: string | null, writes: readonly Write[] = []): ExplainResult | string {
  const { input, reservedKiB } = tick;
  if (config.policy !== 'memcoop') return `explain covers memcoop's own policy; this run uses ${config.policy}`;
  if (config.unsafe !== undefined && !isSafe(config.unsafe)) return 'explain covers the policy with its safety rules on; this run switched some off (config.unsafe)';
  if (guest !== null && !tick.input.guests.some((g) => g.id === guest)) {
    return `no guest ${guest} in the decision at t=${at} (guests: ${tick.input.guests.map((g) => g.id).join(', ') || 'none'})`;
  }
  const decided = explainDecision(input);
  const notes = deadbandNotes(config, tick, decided, writes);
  const e: Explanation = Object.keys(notes).length > 0 ? { ...decided, notes } : decided;
  // A daemon on the wall clock stamps epoch ms: the date too, for people (replay --at takes the ms).
  const when = at > EPOCH_MS_2001 ? ` (${new Date(at).toISOString()})` : '';
  const reserved =
    reservedKiB > 0
      ? `reserved for new domains: ${mib(reservedKiB)}, counted in Dom0's need below (served first, taken back from the guests) and kept free: the target written for Dom0 stays at its own\n`
      : '';
  const text = `decision at t=${at} ms${when}\n` + reserved + formatExplanation(e, guest ?? undefined, notes);
  return { at, guest, text, explanation: guest === null ? e : forGuest(e, guest) };
}
