// The explanation of one tick's decision, for the control socket and `memcoop replay --explain`:
// refused, in one line, where it would not describe what ran (a peer's policy, safety switched
// off, a guest the decision does not name).
import type { SupervisorConfig } from '../machines/config.ts';
import { explainDecision, formatExplanation, type Explanation } from '../policy/explain.ts';
import type { DecideInput } from '../policy/types.ts';
import { isSafe } from '../policy/unsafe.ts';

export interface ExplainResult {
  /** The tick's time (the daemon's clock, or the journal's). */
  at: number;
  guest: string | null;
  text: string;
  explanation: Explanation;
}

/** The explanation, or a one-line reason why there is none. */
export function explainTick(config: SupervisorConfig, input: DecideInput, at: number, guest: string | null): ExplainResult | string {
  if (config.policy !== 'memcoop') return `explain covers memcoop's own policy; this run uses ${config.policy}`;
  if (config.unsafe !== undefined && !isSafe(config.unsafe)) return 'explain covers the policy with its safety rules on; this run switched some off (config.unsafe)';
  if (guest !== null && !input.guests.some((g) => g.id === guest)) {
    return `no guest ${guest} in the decision at t=${at} (guests: ${input.guests.map((g) => g.id).join(', ') || 'none'})`;
  }
  const e = explainDecision(input);
  const text = `decision at t=${at} ms\n` + formatExplanation(e, guest ?? undefined);
  return { at, guest, text, explanation: guest === null ? e : { ...e, guests: e.guests.filter((g) => g.id === guest) } };
}
