// One persistent QMP connection to one QEMU. QEMU serves one QMP client per socket at a time,
// so memcoop keeps this one open for the guest's life (an operator's own client would have to
// wait, or go through libvirt: docs/kvm.md). Connect, wait for the greeting, negotiate
// capabilities, then commands (each with a timeout) and events. A peer that is not QMP (no
// greeting, a line that is not QMP) or that stops answering fails the connection with a reason
// in memcoop's words; the caller logs it and drops the connection.
import { createConnection, type Socket } from 'node:net';
import { LineSplitter } from './lines.ts';
import { MAX_QMP_LINE_BYTES, formatQmpCommand, parseQmpLine } from './qmp-messages.ts';

/**
 * How long the greeting and each command may take: 5 s. QMP answers from QEMU's main loop in
 * milliseconds even while a TCG guest is busy; 5 s is a wedged QEMU or a socket that is not QMP.
 */
export const QMP_TIMEOUT_MS = 5000;

export class QmpError extends Error {
  constructor(
    message: string,
    /** The QMP error class when QEMU refused the command; null for a failed connection. */
    readonly errorClass: string | null = null,
  ) {
    super(message);
    this.name = 'QmpError';
  }
}

/** Why a connection ended: QEMU closed it, a command or the greeting timed out, QEMU broke the protocol, or we closed it. */
export type QmpCloseKind = 'peer' | 'timeout' | 'protocol' | 'local';

export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
}

export interface QmpClientOptions {
  timeoutMs?: number;
  onEvent?: (e: QmpEvent) => void;
  /** Called once when the connection ends (QEMU exited, a protocol failure, or close()). */
  onClose?: (reason: string, why: QmpCloseKind) => void;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  what: string;
}

export class QmpClient {
  private readonly lines = new LineSplitter(MAX_QMP_LINE_BYTES);
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private greeted: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private closedReason: string | null = null;
  private gotGreeting = false;
  private readonly timeoutMs: number;

  private constructor(
    private readonly socket: Socket,
    private readonly opts: QmpClientOptions,
  ) {
    this.timeoutMs = opts.timeoutMs ?? QMP_TIMEOUT_MS;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(`socket error ${err.code ?? err.message}`, 'peer'));
    socket.on('close', () => this.fail('QEMU closed the QMP socket', 'peer'));
  }

  /** Connects, reads the greeting and negotiates capabilities; rejects with a QmpError saying why not. */
  static async connect(path: string, opts: QmpClientOptions = {}): Promise<QmpClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = createConnection({ path });
      s.once('connect', () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', (err: NodeJS.ErrnoException) => reject(new QmpError(`cannot connect: ${err.code ?? err.message}`)));
    });
    const client = new QmpClient(socket, opts);
    try {
      await client.greeting();
      await client.execute('qmp_capabilities');
    } catch (e) {
      client.close();
      throw e;
    }
    return client;
  }

  private greeting(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(`no QMP greeting within ${this.timeoutMs} ms (not a QMP socket?)`, 'timeout'), this.timeoutMs);
      this.greeted = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      if (this.closedReason !== null) this.greeted.reject(new QmpError(this.closedReason));
      else if (this.gotGreeting) this.greeted.resolve();
    });
  }

  get closed(): boolean {
    return this.closedReason !== null;
  }

  /** Runs one command; resolves with its `return`, rejects with QmpError on an error or timeout. */
  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    if (this.closedReason !== null) return Promise.reject(new QmpError(`QMP connection closed: ${this.closedReason}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(`${command} unanswered within ${this.timeoutMs} ms`, 'timeout'), this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer, what: command });
      this.socket.write(formatQmpCommand(id, command, args));
    });
  }

  private onData(chunk: Buffer): void {
    for (const ev of this.lines.push(chunk)) {
      if (this.closedReason !== null) return;
      if (ev.kind === 'too-long') {
        this.fail(`a QMP line longer than ${MAX_QMP_LINE_BYTES} bytes`);
        return;
      }
      const m = parseQmpLine(ev.text);
      if (!this.gotGreeting) {
        if (m.kind !== 'greeting') return this.fail(m.kind === 'bad' ? `not a QMP greeting (${m.problem})` : 'a QMP message before the greeting');
        this.gotGreeting = true;
        this.greeted?.resolve();
        continue;
      }
      switch (m.kind) {
        case 'greeting':
          return this.fail('a second QMP greeting');
        case 'return':
        case 'error': {
          const p = this.pending.get(m.id);
          if (p === undefined) return this.fail('an answer to no command we sent');
          this.pending.delete(m.id);
          clearTimeout(p.timer);
          if (m.kind === 'return') p.resolve(m.value);
          else p.reject(new QmpError(`${p.what} refused: ${m.errorClass}: ${m.desc}`, m.errorClass));
          break;
        }
        case 'event':
          this.opts.onEvent?.({ event: m.event, data: m.data });
          break;
        case 'bad':
          return this.fail(`not a QMP message (${m.problem})`);
      }
    }
  }

  /** Ends the connection for `reason`: every command in flight rejects, onClose runs once. */
  private fail(reason: string, kind: QmpCloseKind = 'protocol'): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    const err = new QmpError(reason);
    this.greeted?.reject(err);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    this.socket.destroy();
    this.opts.onClose?.(reason, kind);
  }

  close(): void {
    this.fail('closed by memcoop', 'local');
  }
}
