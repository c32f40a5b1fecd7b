// What a guest's agent writes under /local/domain/<domid>/data/memcoop/ (layout.ts), parsed as
// the untrusted input it is: a length bound checked before anything else, then a strict grammar.
// A failure says what was wrong in memcoop's own words, never by quoting the guest's text, so a
// caller can log it without copying guest-supplied bytes into the logs.
import type { AgentReport } from '../../vocabulary/events.ts';
import { MeminfoError, agentReportFromMeminfo } from '../../vocabulary/meminfo.ts';

/** The hello is one short line ("protocol=1 selfAdjust=1" is 23 bytes); 64 leaves room, no more. */
export const MAX_HELLO_BYTES = 64;
/**
 * A report is at most 2048 bytes: oxenstored refuses larger values (quota-maxsize in Debian's
 * oxenstored.conf, E2BIG). memcoop-agent (native/agent) sends the five required lines and the
 * optional ones of docs/agent-protocol.md (under 700 bytes with every field at its largest),
 * not all of meminfo.
 */
export const MAX_REPORT_BYTES = 2048;

/** The largest protocol number the grammar admits (six digits: a bound, not a plan). */
const MAX_PROTOCOL_DIGITS = 6;
/**
 * The hello grammar, exactly: `protocol=<n> selfAdjust=<0|1>` with one space, n decimal without
 * leading zeros, and at most one trailing newline. Nothing else (no other fields, no spaces).
 */
const HELLO = new RegExp(`^protocol=(0|[1-9][0-9]{0,${MAX_PROTOCOL_DIGITS - 1}}) selfAdjust=(0|1)\\n?$`);

export interface Hello {
  protocol: number;
  selfAdjust: boolean;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

/** The hello text an agent writes (the test plays the agent with it; so will the C agent). */
export function formatHello(h: Hello): string {
  return `protocol=${h.protocol} selfAdjust=${h.selfAdjust ? 1 : 0}`;
}

export function parseHello(text: string): Parsed<Hello> {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_HELLO_BYTES) return { ok: false, problem: `hello longer than ${MAX_HELLO_BYTES} bytes (${bytes})` };
  const m = HELLO.exec(text);
  if (m === null) return { ok: false, problem: 'hello does not match "protocol=<n> selfAdjust=<0|1>"' };
  return { ok: true, value: { protocol: Number(m[1]), selfAdjust: m[2] === '1' } };
}

/** A meminfo report as the host's raw agent.report (not yet smoothed). */
export function parseReport(id: string, at: number, text: string): Parsed<AgentReport> {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_REPORT_BYTES) return { ok: false, problem: `report longer than ${MAX_REPORT_BYTES} bytes (${bytes})` };
  try {
    return { ok: true, value: agentReportFromMeminfo(id, at, text) };
  } catch (e) {
    if (!(e instanceof MeminfoError)) throw e;
    // A bad line's message quotes it: only its number leaves this function. A whole-text problem
    // (line 0) names memcoop's own keys and parsed integers only, so it is passed on as it is.
    return { ok: false, problem: e.line > 0 ? `report line ${e.line} is not "Key: <number> kB"` : `report: ${e.problem}` };
  }
}
