// The guest-to-host half of the virtio-serial line protocol (docs/agent-protocol.md), as a pure
// state machine over lines: `hello protocol=<n> selfAdjust=<0|1>`, or a report block `report`,
// meminfo lines, `end`. Everything here is the guest's text: each line is bounded (128 bytes),
// a block is bounded (32 lines, 2048 bytes), anything off the grammar is a `bad` message naming
// what was wrong in memcoop's words, never quoting the guest. The payloads go to the same
// parsers the Xen host uses (xen/agent-protocol.ts), so both transports accept exactly the same.
import { MAX_REPORT_BYTES } from '../xen/agent-protocol.ts';
import type { LineEvent } from './lines.ts';

/** Longest line either side sends, without its newline (docs/agent-protocol.md). */
export const MAX_AGENT_LINE_BYTES = 128;
/** Most meminfo lines in one report block (the protocol's bound; a report has at most 15 keys). */
export const MAX_REPORT_LINES = 32;
/** Most bytes of meminfo lines in one block, newlines included: the XenStore transport's bound. */
export const MAX_REPORT_BLOCK_BYTES = MAX_REPORT_BYTES;

const HELLO_PREFIX = 'hello ';
const REPORT_START = 'report';
const REPORT_END = 'end';

export type AgentMessage =
  /** The hello's payload (`protocol=<n> selfAdjust=<0|1>`), still to be parsed by parseHello. */
  | { kind: 'hello'; text: string }
  /** A report block's meminfo lines joined with newlines, still to be parsed by parseReport. */
  | { kind: 'report'; text: string }
  | { kind: 'bad'; problem: string };

export class AgentLineReader {
  /** Inside a report block: its lines so far, or 'overflow' once it broke a bound (skip to `end`). */
  private block: string[] | 'overflow' | null = null;
  private blockBytes = 0;

  /** One framed line (from LineSplitter with MAX_AGENT_LINE_BYTES) to the messages it completes. */
  line(ev: LineEvent): AgentMessage[] {
    if (ev.kind === 'too-long') {
      const bad: AgentMessage = { kind: 'bad', problem: `a line longer than ${MAX_AGENT_LINE_BYTES} bytes` };
      // A report with an overlong line is broken as a whole: drop it to its `end`.
      if (this.block !== null) this.block = 'overflow';
      return [bad];
    }
    const text = ev.text;
    if (this.block === null) {
      if (text === REPORT_START) {
        this.block = [];
        this.blockBytes = 0;
        return [];
      }
      if (text.startsWith(HELLO_PREFIX)) return [{ kind: 'hello', text: text.slice(HELLO_PREFIX.length) }];
      return [{ kind: 'bad', problem: text === REPORT_END ? '"end" outside a report' : 'a line that is neither hello nor report' }];
    }
    if (text === REPORT_END) {
      const block = this.block;
      this.block = null;
      if (block === 'overflow') return [];
      return [{ kind: 'report', text: block.length === 0 ? '' : block.join('\n') + '\n' }];
    }
    if (text === REPORT_START) {
      // The previous block never ended (a restarted agent): it is dropped, the new one begins.
      const wasOverflow = this.block === 'overflow';
      this.block = [];
      this.blockBytes = 0;
      return wasOverflow ? [] : [{ kind: 'bad', problem: 'a report without its "end"' }];
    }
    if (this.block === 'overflow') return [];
    this.blockBytes += Buffer.byteLength(text, 'utf8') + 1;
    if (this.block.length + 1 > MAX_REPORT_LINES || this.blockBytes > MAX_REPORT_BLOCK_BYTES) {
      this.block = 'overflow';
      return [{ kind: 'bad', problem: `a report longer than ${MAX_REPORT_LINES} lines or ${MAX_REPORT_BLOCK_BYTES} bytes` }];
    }
    this.block.push(text);
    return [];
  }

  /** The connection ended: a block in progress is dropped. */
  reset(): void {
    this.block = null;
    this.blockBytes = 0;
  }
}

/** The host-to-guest lines. */
export const formatMode = (mode: string, protocol: number): string => `mode ${mode} protocol=${protocol}\n`;
export const HELLO_QUERY = 'hello?\n';
