// The Dom0 end of one guest's virtio-serial port: QEMU serves the port as a unix socket (a
// chardev with server=on) and memcoop connects to it as a client, one per guest, and stays
// connected (a guest's writes go nowhere while no host client is connected). On every connect
// it sends `hello?` so an agent that said hello before we were there says it again.
//
// What arrives is guest text: framed with a 128-byte line bound (lines.ts), read by the strict
// grammar of agent-lines.ts, and rate-limited here (a window's budget of bytes and messages;
// past the byte budget the socket is paused until the window ends, so a flooding guest costs us
// one buffer, not a queue). Messages go to `onMessage`; the host parses their payloads.
import { createConnection, type Socket } from 'node:net';
import { LineSplitter } from './lines.ts';
import { AgentLineReader, HELLO_QUERY, MAX_AGENT_LINE_BYTES, formatMode, type AgentMessage } from './agent-lines.ts';

/** Rate window: 1 s, the agent's default report interval (docs/agent-protocol.md). */
export const AGENT_WINDOW_MS = 1000;
/**
 * Messages (hellos and reports) accepted per window: 4. An agent sends at most one report per
 * interval, plus a hello after `hello?`; 4 leaves room for a reconnect's burst and no more.
 */
export const AGENT_MAX_MESSAGES_PER_WINDOW = 4;
/** Bytes read per window: 4 reports at the 2048-byte block bound, plus their framing lines. */
export const AGENT_MAX_BYTES_PER_WINDOW = 4 * (2048 + 64);
/** Retry period for a port that is not (yet, or no longer) accepting: 1 s, one tick. */
export const AGENT_RETRY_MS = 1000;

export interface AgentChannelOptions {
  path: string;
  onMessage: (m: AgentMessage) => void;
  /** Once per change: connected, or the reason it is not. */
  onState?: (connected: boolean, reason: string) => void;
  windowMs?: number;
  retryMs?: number;
}

export class AgentChannel {
  private socket: Socket | null = null;
  private connected = false;
  private closed = false;
  private retry: NodeJS.Timeout | null = null;
  private resume: NodeJS.Timeout | null = null;
  private splitter = new LineSplitter(MAX_AGENT_LINE_BYTES);
  private readonly reader = new AgentLineReader();
  private windowStart = -Infinity;
  private windowBytes = 0;
  private windowMessages = 0;
  private lastState: string | null = null;
  /** Messages dropped by the rate limit in this window (the caller logs the first). */
  dropped = 0;

  constructor(private readonly opts: AgentChannelOptions) {
    this.connect();
  }

  get isConnected(): boolean {
    return this.connected;
  }

  private state(connected: boolean, reason: string): void {
    const key = `${connected}:${reason}`;
    if (key === this.lastState) return;
    this.lastState = key;
    this.opts.onState?.(connected, reason);
  }

  private connect(): void {
    if (this.closed) return;
    const s = createConnection({ path: this.opts.path });
    this.socket = s;
    this.splitter = new LineSplitter(MAX_AGENT_LINE_BYTES);
    this.reader.reset();
    s.on('connect', () => {
      this.connected = true;
      this.state(true, 'connected');
      s.write(HELLO_QUERY);
    });
    s.on('data', (chunk: Buffer) => this.onData(s, chunk));
    // The reason goes out with the close that follows (one line per change, not two per retry).
    let error: string | null = null;
    s.on('error', (err: NodeJS.ErrnoException) => (error = `agent port error ${err.code ?? 'unknown'}`));
    s.on('close', () => {
      if (this.socket !== s) return;
      this.connected = false;
      this.socket = null;
      this.state(false, error ?? 'agent port closed');
      if (!this.closed) this.retry = setTimeout(() => this.connect(), this.opts.retryMs ?? AGENT_RETRY_MS);
    });
  }

  private onData(s: Socket, chunk: Buffer): void {
    const now = Date.now();
    const windowMs = this.opts.windowMs ?? AGENT_WINDOW_MS;
    if (now - this.windowStart >= windowMs) {
      this.windowStart = now;
      this.windowBytes = 0;
      this.windowMessages = 0;
      this.dropped = 0;
    }
    this.windowBytes += chunk.length;
    for (const ev of this.splitter.push(chunk)) {
      for (const m of this.reader.line(ev)) {
        if (m.kind !== 'bad' && ++this.windowMessages > AGENT_MAX_MESSAGES_PER_WINDOW) {
          this.dropped++;
          this.opts.onMessage({ kind: 'bad', problem: `more than ${AGENT_MAX_MESSAGES_PER_WINDOW} messages in ${windowMs} ms (rate limit)` });
          continue;
        }
        this.opts.onMessage(m);
      }
    }
    if (this.windowBytes > AGENT_MAX_BYTES_PER_WINDOW && this.resume === null) {
      // Past the byte budget: stop reading until the window ends (QEMU then holds, and the
      // guest's non-blocking writes fail) rather than buffer a flood.
      s.pause();
      this.resume = setTimeout(() => {
        this.resume = null;
        if (this.socket === s) s.resume();
      }, Math.max(0, this.windowStart + windowMs - now));
      this.opts.onMessage({ kind: 'bad', problem: `more than ${AGENT_MAX_BYTES_PER_WINDOW} bytes in ${windowMs} ms (rate limit; reading paused)` });
    }
  }

  /** Sends the supervisor's mode; rejects when the port is not connected (the supervisor re-issues). */
  sendMode(mode: string, protocol: number): Promise<void> {
    const s = this.socket;
    if (!this.connected || s === null) return Promise.reject(new Error('agent port not connected'));
    return new Promise((resolve, reject) => {
      s.write(formatMode(mode, protocol), (err) => (err ? reject(err) : resolve()));
    });
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.resume) clearTimeout(this.resume);
    this.socket?.destroy();
    this.socket = null;
    this.connected = false;
  }
}
