// The explanation of one tick's decision, for the control socket and `memcoop replay --explain`:
// refused, in one line, where it would not describe what ran (a peer's policy, safety switched
// off, a guest the decision does not name).
import type { SupervisorConfig } from '../vocabulary/config.ts';
import { explainDecision, forGuest, formatExplanation, mib, type Explanation } from '../policy/explain.ts';
import type { TickInput } from './policy-input.ts';
import { isSafe } from '../policy/unsafe.ts';

/** A clock past this is the wall clock (epoch ms, 2001-09-09); below it, a simulator's virtual time. */
const EPOCH_MS_2001 = 1e12;

export interface ExplainResult {
  /** The tick's time (the daemon's clock, or the journal's). */
  at: number;
  guest: string | null;
  text: string;
  explanation: Explanation;
}

/** The explanation, or a one-line reason why there is none. */
export function explainTick(config: SupervisorConfig, tick: TickInput, at: number, guest: string | null): ExplainResult | string {
  const { input, reservedKiB } = tick;
  if (config.policy !== 'memcoop') return `explain covers memcoop's own policy; this run uses ${config.policy}`;
  if (config.unsafe !== undefined && !isSafe(config.unsafe)) return 'explain covers the policy with its safety rules on; this run switched some off (config.unsafe)';
  if (guest !== null && !tick.input.guests.some((g) => g.id === guest)) {
    return `no guest ${guest} in the decision at t=${at} (guests: ${tick.input.guests.map((g) => g.id).join(', ') || 'none'})`;
  }
  const e = explainDecision(input);
  // A daemon on the wall clock stamps epoch ms: the date too, for people (replay --at takes the ms).
  const when = at > EPOCH_MS_2001 ? ` (${new Date(at).toISOString()})` : '';
  const reserved =
    reservedKiB > 0
      ? `reserved for new domains: ${mib(reservedKiB)}, counted in Dom0's need below (served first, taken back from the guests) and kept free: the target written for Dom0 stays at its own\n`
      : '';
  const text = `decision at t=${at} ms${when}\n` + reserved + formatExplanation(e, guest ?? undefined);
  return { at, guest, text, explanation: guest === null ? e : forGuest(e, guest) };
}
