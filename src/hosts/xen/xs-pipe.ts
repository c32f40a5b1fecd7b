// XenStore's wire protocol (xen/io/xs_wire.h) on xenstored's unix socket, pipelined: each request
// is written as it is made (a turn's requests in one write) and answers are read as they come, on
// the JS thread. Through libxenstore each request is a blocking round trip on a pool thread
// (write, sleep until xenstored answers, wake): at 1,000 guests that was a few thousand sleeps
// and wake-ups a second in memcoop and as many in xenstored, on a Dom0 with few CPUs.
//
// A request's answer is what the addon's batch gives for it (NativeXsHandle.batch): its value, or
// an Error (code, errno, op, path, as the addon makes them). Transactions are begun and ended by
// their caller (xenstore.ts, PipeRequests), whose requests wait for the start's id. Used for the
// request connection when xenstored listens on a unix socket (the Dom0 case; the tests' fixture);
// the addon serves the rest (the xenbus device, and watches).
import { createConnection, type Socket } from 'node:net';
import { getSystemErrorMap } from 'node:util';
import { constants } from 'node:os';
import { NATIVE_BATCH, type NativeBatchOp, type NativeXsPerm } from './addon.ts';

/** enum xsd_sockmsg_type in xen/io/xs_wire.h. */
const XS = {
  DIRECTORY: 1,
  READ: 2,
  GET_PERMS: 3,
  TRANSACTION_START: 6,
  TRANSACTION_END: 7,
  WRITE: 11,
  MKDIR: 12,
  RM: 13,
  SET_PERMS: 14,
  WATCH_EVENT: 15,
  ERROR: 16,
  DIRECTORY_PART: 22,
} as const;
/** struct xsd_sockmsg: type, req_id, tx_id, len, each a little-endian uint32. */
const HEADER_BYTES = 16;
/** XENSTORE_PAYLOAD_MAX: libxenstore refuses a longer request with E2BIG before sending it. */
const PAYLOAD_MAX = 4096;
/**
 * Connect attempts refused with EAGAIN before giving up, and the wait between them: 20 x 50 ms
 * gives xenstored a second to accept what is queued before this connection (it accepts one per
 * turn of its loop, which a busy xenstored under load takes a while to come round to).
 */
const OPEN_EAGAIN_TRIES = 20;
const OPEN_EAGAIN_WAIT_MS = 50;
/** XS_PERM_* letters of xs_perm_to_string. */
const PERM_LETTERS = ['n', 'r', 'w', 'b'] as const;

const BATCH_KIND_TO_WIRE: Record<number, number> = {
  [NATIVE_BATCH.read]: XS.READ,
  [NATIVE_BATCH.write]: XS.WRITE,
  [NATIVE_BATCH.mkdir]: XS.MKDIR,
  [NATIVE_BATCH.setPermissions]: XS.SET_PERMS,
  [NATIVE_BATCH.directory]: XS.DIRECTORY,
  [NATIVE_BATCH.rm]: XS.RM,
  [NATIVE_BATCH.getPermissions]: XS.GET_PERMS,
};
const OP_NAMES = ['read', 'write', 'mkdir', 'set_permissions', 'directory', 'rm', 'transaction_start', 'transaction_end', 'get_permissions'];

const errnoOf = (code: string): number => (constants.errno as Record<string, number>)[code] ?? constants.errno.EIO;
let systemErrors: Map<number, [string, string]> | undefined;

/** An error shaped as the addon's (native/src/xs_errors.cc): code, errno (negative), op, path. */
export function xsError(code: string, op: string, path: string): Error {
  const errno = errnoOf(code);
  systemErrors ??= getSystemErrorMap();
  const text = systemErrors.get(-errno)?.[1] ?? code;
  const e = new Error(`xenstore ${op}${path ? ` ${path}` : ''}: ${text.charAt(0).toUpperCase()}${text.slice(1)} (${code})`);
  return Object.assign(e, { code, errno: -errno, op, path });
}

interface Pending {
  resolve: (body: Buffer) => void;
  reject: (err: Error) => void;
  op: string;
  path: string;
}

function permString(p: NativeXsPerm): string {
  return `${PERM_LETTERS[p.perms & 3]}${p.id}`;
}

function parsePerms(body: Buffer): NativeXsPerm[] {
  return body
    .toString('utf8')
    .split('\0')
    .filter((s) => s !== '')
    .map((s) => ({ id: Number(s.slice(1)), perms: Math.max(0, PERM_LETTERS.indexOf(s[0] as (typeof PERM_LETTERS)[number])) }));
}

/** NUL-terminated names as a list (a trailing NUL ends the last). */
function parseNames(body: Buffer): string[] {
  const s = body.toString('utf8');
  if (s === '') return [];
  const names = s.split('\0');
  if (names.at(-1) === '') names.pop();
  return names;
}

export class XsPipe {
  private buf: Buffer = Buffer.alloc(0);
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Why requests fail now: null while connected. */
  private dead: string | null = null;
  private closing: Promise<void> | null = null;
  /**
   * Requests made in one turn of the event loop, each one buffer (header and payload), written
   * together when the turn ends: one buffer and one write(2) per turn. Corking the socket did
   * the same with two buffers and a queued-write record per request, and writev was the
   * largest item after the GC in the daemon's CPU profile (bench:scale, 1,000 guests).
   */
  private out: Buffer[] = [];
  private outBytes = 0;
  /** Called once no request is in flight (close waits for that). */
  private idle: (() => void)[] = [];

  private constructor(
    private readonly socket: Socket,
    readonly path: string,
  ) {
    socket.unref(); // only requests in flight keep the process alive, as with the addon
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (e: NodeJS.ErrnoException) => this.fail(typeof e.code === 'string' && e.code.startsWith('E') ? e.code : 'EIO'));
    socket.on('close', () => this.fail(this.closing ? 'EBADF' : 'EPIPE'));
  }

  /**
   * Connects to xenstored's socket; rejects with an addon-shaped error (op 'open'). A connect
   * refused with EAGAIN (the listen backlog is full: xenstored has not accepted the connections
   * before it yet, seen with oxenstored when clients connect at once under load) is
   * tried again, OPEN_EAGAIN_TRIES times in all, OPEN_EAGAIN_WAIT_MS apart.
   */
  static async open(path: string): Promise<XsPipe> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await XsPipe.connect(path);
      } catch (e) {
        if ((e as { code?: string }).code !== 'EAGAIN' || attempt >= OPEN_EAGAIN_TRIES) throw e;
        await new Promise((r) => setTimeout(r, OPEN_EAGAIN_WAIT_MS));
      }
    }
  }

  private static connect(path: string): Promise<XsPipe> {
    return new Promise((resolve, reject) => {
      const s = createConnection({ path });
      s.once('connect', () => {
        s.removeAllListeners('error');
        resolve(new XsPipe(s, path));
      });
      s.once('error', (e: NodeJS.ErrnoException) => reject(xsError(typeof e.code === 'string' ? e.code : 'ECONNREFUSED', 'open', path)));
    });
  }

  /** Begins a transaction: its id. */
  begin(): Promise<number> {
    return this.request(XS.TRANSACTION_START, 0, Buffer.from('\0'), 'transaction_start', '').then((b) => Number(b.toString('utf8').replace(/\0.*$/s, '')));
  }

  /** Commits (abort false) or aborts transaction `tx`. */
  end(tx: number, abort: boolean): Promise<void> {
    return this.request(XS.TRANSACTION_END, tx, Buffer.from(abort ? 'F\0' : 'T\0'), 'transaction_end', '').then(() => undefined);
  }

  /**
   * One request (a NATIVE_BATCH kind other than a transaction's start or end) on the wire now,
   * behind those already sent; its answer as the addon's batch gives it.
   */
  send(kind: number, path: string, tx: number, value: NativeBatchOp[3]): Promise<unknown> {
    const op = OP_NAMES[kind] ?? 'batch';
    const wire = BATCH_KIND_TO_WIRE[kind];
    if (wire === undefined) return Promise.reject(xsError('EINVAL', op, path));
    const p = Buffer.from(`${path}\0`, 'utf8');
    switch (kind) {
      case NATIVE_BATCH.write:
        return this.request(wire, tx, Buffer.concat([Buffer.from(path, 'utf8'), Buffer.from([0]), value as Buffer]), op, path).then(() => undefined);
      case NATIVE_BATCH.setPermissions:
        return this.request(wire, tx, Buffer.from(`${path}\0${(value as NativeXsPerm[]).map((x) => `${permString(x)}\0`).join('')}`, 'utf8'), op, path).then(() => undefined);
      case NATIVE_BATCH.read:
        return this.request(wire, tx, p, op, path);
      case NATIVE_BATCH.getPermissions:
        return this.request(wire, tx, p, op, path).then(parsePerms);
      case NATIVE_BATCH.directory:
        return this.request(wire, tx, p, op, path).then(parseNames, (e: Error & { code?: string }) => {
          if (e.code !== 'E2BIG') throw e;
          return this.directoryInParts(path, tx);
        });
      default:
        return this.request(wire, tx, p, op, path).then(() => undefined);
    }
  }

  /**
   * A directory too long for one answer (over ~1,000 domains under /local/domain), read with
   * XS_DIRECTORY_PART as libxenstore does: <generation> then names from a byte offset, an empty
   * name marking the end; started again if the generation changes between parts.
   */
  private async directoryInParts(path: string, tx: number): Promise<string[]> {
    for (;;) {
      let generation: string | null = null;
      let offset = 0;
      const names: string[] = [];
      let restart = false;
      for (;;) {
        const body = await this.request(XS.DIRECTORY_PART, tx, Buffer.from(`${path}\0${offset}\0`, 'utf8'), 'directory', path);
        const nul = body.indexOf(0);
        const gen = body.subarray(0, nul).toString('utf8');
        if (generation !== null && gen !== generation) {
          restart = true;
          break;
        }
        generation = gen;
        const chunk = body.subarray(nul + 1);
        if (chunk.length === 0 || chunk[0] === 0) break; // the empty name: the end
        const part = chunk.toString('utf8').split('\0');
        // Each name ends with a NUL; two NULs at the end mark the last part.
        const last = chunk.length >= 2 && chunk[chunk.length - 1] === 0 && chunk[chunk.length - 2] === 0;
        names.push(...part.filter((n) => n !== ''));
        offset += last ? chunk.length - 1 : chunk.length;
        if (last) break;
      }
      if (!restart) return names;
    }
  }

  private request(type: number, tx: number, payload: Buffer, op: string, path: string): Promise<Buffer> {
    if (this.dead !== null) return Promise.reject(xsError(this.dead, op, path));
    if (payload.length > PAYLOAD_MAX) return Promise.reject(xsError('E2BIG', op, path));
    const id = this.nextId;
    this.nextId = (this.nextId % 0xfffffffe) + 1;
    const msg = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
    msg.writeUInt32LE(type, 0);
    msg.writeUInt32LE(id, 4);
    msg.writeUInt32LE(tx >>> 0, 8);
    msg.writeUInt32LE(payload.length, 12);
    payload.copy(msg, HEADER_BYTES);
    if (this.pending.size === 0) this.socket.ref();
    if (this.out.length === 0) process.nextTick(() => this.flush());
    this.out.push(msg);
    this.outBytes += msg.length;
    return new Promise<Buffer>((resolve, reject) => this.pending.set(id, { resolve, reject, op, path }));
  }

  private flush(): void {
    const out = this.out;
    const bytes = this.outBytes;
    this.out = [];
    this.outBytes = 0;
    if (this.dead !== null || out.length === 0) return; // fail() has rejected what they were for
    this.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out, bytes));
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    while (this.buf.length >= HEADER_BYTES) {
      const len = this.buf.readUInt32LE(12);
      if (this.buf.length < HEADER_BYTES + len) break;
      const type = this.buf.readUInt32LE(0);
      const id = this.buf.readUInt32LE(4);
      const body = this.buf.subarray(HEADER_BYTES, HEADER_BYTES + len);
      this.buf = this.buf.subarray(HEADER_BYTES + len);
      if (type === XS.WATCH_EVENT) continue; // no watches on this connection
      const p = this.pending.get(id);
      if (p === undefined) continue;
      this.pending.delete(id);
      if (type === XS.ERROR) p.reject(xsError(body.toString('utf8').replace(/\0.*$/s, ''), p.op, p.path));
      else p.resolve(Buffer.from(body)); // a copy: the receive buffer is reused
    }
    if (this.pending.size === 0) this.settled();
  }

  private settled(): void {
    this.socket.unref();
    const waiters = this.idle;
    this.idle = [];
    for (const w of waiters) w();
  }

  /** The connection is gone: every request in flight fails with `code`, and later ones too. */
  private fail(code: string): void {
    if (this.dead === null) this.dead = code;
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(xsError(this.dead, p.op, p.path));
    this.settled();
  }

  /** Lets requests in flight finish, then closes; later requests fail with EBADF. */
  async close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      if (this.pending.size > 0 && this.dead === null) await new Promise<void>((r) => this.idle.push(r));
      this.dead = 'EBADF';
      this.socket.destroy();
    })();
    return this.closing;
  }
}
