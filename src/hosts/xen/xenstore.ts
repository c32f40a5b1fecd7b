// XenStore for memcoop: a promise API over the native libxenstore binding (native/), with
// transactions retried on conflict and watches dispatched by token on the JS thread.
import { statSync } from 'node:fs';
import { XsPipe, xsError } from './xs-pipe.ts';
import { NATIVE_BATCH, requireXenAddon, type NativeBatchOp, type NativeXsHandle, type NativeXsPerm } from './addon.ts';

/** XS_PERM_READ / XS_PERM_WRITE from xenstore_lib.h. */
const XS_PERM_READ = 0x01;
const XS_PERM_WRITE = 0x02;

/** "No transaction" (XBT_NULL in xenstore.h). */
const XBT_NULL = 0;

/**
 * Retries of a conflicting transaction before giving up. libxl retries without bound; a
 * balancer should rather report a key that is being fought over. Conflicts on these daemons
 * clear on the next attempt unless another writer keeps writing the same keys.
 */
export const DEFAULT_TX_MAX_RETRIES = 8;

export type XsAccess = 'none' | 'read' | 'write' | 'both';

/**
 * A node's permissions in XenStore's order: the first entry names the owner, and its access is
 * what every domain not listed gets; later entries grant access to particular domains.
 */
export interface XsPermission {
  domid: number;
  access: XsAccess;
}

/** A failed XenStore request: `code` is the errno name (ENOENT, EAGAIN, E2BIG, EACCES ...). */
export class XenStoreError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly op: string,
    readonly path: string,
    readonly errno?: number,
  ) {
    super(message);
    this.name = 'XenStoreError';
  }
}

export function isXenStoreError(e: unknown, code?: string): e is XenStoreError {
  return e instanceof XenStoreError && (code === undefined || e.code === code);
}

/**
 * Codes a request fails with once xenstored has gone (seen when the fixture's daemon is stopped
 * under an open connection: EPIPE without watches, EBADF once libxenstore's reader thread has
 * dropped the socket). A watch alone does not notice: libxenstore does not wake the watch pipe
 * when its reader thread stops, so a client that must notice has to make a request.
 */
export const CONNECTION_LOST_CODES: ReadonlySet<string> = new Set(['EPIPE', 'EBADF', 'ECONNRESET', 'ENOTCONN', 'EIO']);

/** True when a request on a connection that is not closed failed because xenstored went away. */
export function isConnectionLost(store: XenStore, e: unknown): boolean {
  return !store.closed && e instanceof XenStoreError && CONNECTION_LOST_CODES.has(e.code);
}

/** Requests that can run inside a transaction as well as outside one. */
export interface XsOps {
  /** The value, or null when the node does not exist. */
  read(path: string): Promise<string | null>;
  write(path: string, value: string | Uint8Array): Promise<void>;
  directory(path: string): Promise<string[]>;
  mkdir(path: string): Promise<void>;
  rm(path: string): Promise<void>;
  getPermissions(path: string): Promise<XsPermission[]>;
  setPermissions(path: string, perms: XsPermission[]): Promise<void>;
}

export type XsWatchCallback = (path: string, token: string) => void;

export interface XsWatch {
  readonly path: string;
  readonly token: string;
  /** Stops delivery at once, then removes the watch from xenstored. */
  unwatch(): Promise<void>;
  /** Keep the process alive while this watch is registered (the default). */
  ref(): XsWatch;
  /** Let the process exit even though this watch is registered. */
  unref(): XsWatch;
}

export interface TransactionOptions {
  /** Retries after an EAGAIN conflict; the last EAGAIN is thrown. */
  maxRetries?: number;
}

export interface XenStore extends XsOps {
  /**
   * Runs fn inside a transaction and commits. A conflict (EAGAIN, at commit or from a request)
   * aborts and runs fn again, up to maxRetries times; any other error aborts and is rethrown.
   * fn may run more than once, so it must only do XenStore requests through `tx`.
   */
  transaction<T>(fn: (tx: XsOps, attempt: number) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Registers a watch; xenstored fires it once at once, then on every change at or below path.
   * Tokens are unique per connection. Resolves once xenstored has accepted it.
   */
  watch(path: string, token: string, cb: XsWatchCallback): Promise<XsWatch>;
  /** True once close() has been called. */
  readonly closed: boolean;
  close(): Promise<void>;
}

export interface OpenXenStoreOptions {
  /** A xenstored unix socket; sets XENSTORED_PATH for this open only. */
  socketPath?: string;
  /** Refuse to fall back to /dev/xen/xenbus. */
  socketOnly?: boolean;
  /**
   * Called if the connection fails while watches are registered (xenstored gone). Without it the
   * error is emitted as a process warning.
   */
  onWatchError?: (err: XenStoreError) => void;
}

/**
 * Opens a XenStore connection. Rejects with XenAddonUnavailableError (one sentence naming what
 * to install) when the addon is not built, or with XenStoreError (op 'open') if xenstored is not
 * reachable.
 */
export async function openXenStore(options: OpenXenStoreOptions = {}): Promise<XenStore> {
  const addon = requireXenAddon();
  return new XenStoreConnection(addon.XsHandle, options, await openRequests(addon.XsHandle, options));
}

/** libxenstore's default socket (xs_daemon_socket() in xen-utils 4.17), and its override. */
const DEFAULT_SOCKET = '/var/run/xenstored/socket';
const SOCKET_ENV = 'XENSTORED_PATH';
/** Set to `off` to send requests through libxenstore even where a socket would do (comparisons). */
export const XS_PIPE_ENV = 'MEMCOOP_XENSTORE_PIPE';

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

/**
 * The connection requests go on: xenstored's unix socket, pipelined (xs-pipe.ts), where there is
 * one; else libxenstore's (the xenbus device), batched a pool job at a time.
 */
async function openRequests(XsHandle: XsHandleClass, options: OpenXenStoreOptions): Promise<RequestChannel> {
  const path = options.socketPath ?? process.env[SOCKET_ENV] ?? DEFAULT_SOCKET;
  if (process.env[XS_PIPE_ENV] !== 'off' && isSocket(path)) {
    try {
      return await XsPipe.open(path);
    } catch (e) {
      throw toXenStoreError(e);
    }
  }
  return openHandle(XsHandle, options, () => {});
}

function toXenStoreError(e: unknown): unknown {
  if (e instanceof XenStoreError || typeof e !== 'object' || e === null) return e;
  const { code, op, path, errno, message } = e as Record<string, unknown>;
  if (typeof code !== 'string' || typeof op !== 'string') return e;
  return new XenStoreError(
    String(message),
    code,
    op,
    typeof path === 'string' ? path : '',
    typeof errno === 'number' ? errno : undefined,
  );
}

async function call<T>(p: () => Promise<T>): Promise<T> {
  try {
    return await p();
  } catch (e) {
    throw toXenStoreError(e);
  }
}

function toNativePerms(perms: XsPermission[]): NativeXsPerm[] {
  return perms.map((p) => {
    if (!Number.isInteger(p.domid) || p.domid < 0) throw new TypeError(`bad domid ${p.domid}`);
    const bits =
      (p.access === 'read' || p.access === 'both' ? XS_PERM_READ : 0) |
      (p.access === 'write' || p.access === 'both' ? XS_PERM_WRITE : 0);
    return { id: p.domid, perms: bits };
  });
}

function fromNativePerms(perms: NativeXsPerm[]): XsPermission[] {
  return perms.map(({ id, perms: bits }) => {
    const r = (bits & XS_PERM_READ) !== 0;
    const w = (bits & XS_PERM_WRITE) !== 0;
    const access: XsAccess = r && w ? 'both' : r ? 'read' : w ? 'write' : 'none';
    return { domid: id, access };
  });
}

/**
 * A transaction as a connection's requests (Batcher, PipeRequests) track it: not begun yet,
 * begun (its id), or failed to begin.
 */
interface TxHandle {
  state: number | 'unstarted' | 'failed';
  /** A request has been queued for it (so it will begin, or has). */
  used: boolean;
  startError?: unknown;
  /** On the pipe (PipeRequests): its start, sent with its first request. */
  begun?: Promise<number>;
  /** On the pipe: its first failed request (a read's ENOENT is an answer, not a failure); its end then aborts. */
  failure?: unknown;
}

/** How a connection's requests reach xenstored: batched (Batcher) or each at once (PipeRequests). */
interface Requests {
  request(kind: number, path: string, tx: TxHandle | null, value?: NativeBatchOp[3]): Promise<unknown>;
}

/** A request waiting for its batch. */
interface Queued {
  kind: number;
  path: string;
  tx: TxHandle | null;
  value?: NativeBatchOp[3];
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

const OP_NAMES = ['read', 'write', 'mkdir', 'set_permissions', 'directory', 'rm', 'transaction_start', 'transaction_end', 'get_permissions'];

/** A failure of a whole batch (the handle closed, say) as the failure of one of its requests. */
function asRequestError(e: unknown, kind: number, path: string): unknown {
  if (!(e instanceof XenStoreError) || e.op !== 'batch') return e;
  const op = OP_NAMES[kind] ?? 'batch';
  const message = e.message.replace(/^xenstore batch/, `xenstore ${op}${path ? ` ${path}` : ''}`);
  return new XenStoreError(message, e.code, op, path, e.errno);
}

/**
 * Sends a connection's requests in batches: those made in one turn of the event loop, and all
 * those made while the previous batch was out, go to the addon as one thread-pool job
 * (NativeXsHandle.batch), in the order they were made, transactions and all (a transaction
 * begins in the batch of its first request). libxenstore sends one request at a time on a
 * connection anyway; what a batch saves is the job's trip through the thread pool and back to
 * the JS thread, each a thread woken, which at 1,000 guests reporting every second (5,000+
 * requests a second) cost more than xenstored's answers did. One batch is out at a time, so
 * requests keep their order; under load batches grow instead of jobs queueing up.
 */
/** The addon's handle, which takes a batch at a time. */
type NativeChannel = Pick<NativeXsHandle, 'batch' | 'close'>;
/** Where requests go: the addon's handle (batched), or the pipelined socket (each at once). */
type RequestChannel = NativeChannel | XsPipe;

class Batcher implements Requests {
  private queue: Queued[] = [];
  private scheduled = false;
  private sending = false;

  constructor(private readonly h: NativeChannel) {}

  request(kind: number, path: string, tx: TxHandle | null, value?: NativeBatchOp[3]): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      if (tx !== null) {
        if (tx.state === 'failed') {
          reject(asRequestError(tx.startError, kind, path));
          return;
        }
        tx.used = true;
      }
      this.queue.push({ kind, path, tx, value, resolve, reject });
      if (!this.scheduled && !this.sending) {
        this.scheduled = true;
        queueMicrotask(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    if (this.sending || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    // The native requests; a transaction's start goes in before its first request.
    const ops: NativeBatchOp[] = [];
    const sent: (Queued | TxHandle)[] = [];
    const startAt = new Map<TxHandle, number>();
    for (const q of batch) {
      let tx = XBT_NULL;
      if (q.tx !== null) {
        const t = q.tx;
        if (t.state === 'failed') {
          q.reject(asRequestError(t.startError, q.kind, q.path));
          continue;
        }
        if (t.state === 'unstarted' && !startAt.has(t)) {
          startAt.set(t, ops.length);
          ops.push([NATIVE_BATCH.transactionStart, '', 0]);
          sent.push(t);
        }
        tx = typeof t.state === 'number' ? t.state : -1 - startAt.get(t)!;
      }
      ops.push(q.value === undefined ? [q.kind, q.path, tx] : [q.kind, q.path, tx, q.value]);
      sent.push(q);
    }
    if (ops.length === 0) return;
    this.sending = true;
    let out: Promise<unknown[]>;
    try {
      out = this.h.batch(ops);
    } catch (e) {
      out = Promise.reject(e);
    }
    out.then(
      (results) => {
        this.sending = false;
        const failure = new Map<TxHandle, unknown>();
        sent.forEach((item, k) => {
          const r = results[k];
          if (!('kind' in item)) {
            // A transaction's start.
            if (typeof r === 'number') item.state = r;
            else {
              item.state = 'failed';
              item.startError = r instanceof Error ? toXenStoreError(r) : new XenStoreError('xenstore transaction_start: skipped', 'EIO', 'transaction_start', '');
              failure.set(item, item.startError);
            }
            return;
          }
          if (r === null) {
            const f = item.tx !== null ? failure.get(item.tx) : undefined;
            item.reject(asRequestError(f ?? new XenStoreError(`xenstore ${OP_NAMES[item.kind]} ${item.path}: skipped`, 'EIO', OP_NAMES[item.kind]!, item.path), item.kind, item.path));
          } else if (r instanceof Error) {
            const err = toXenStoreError(r);
            if (item.tx !== null && !failure.has(item.tx) && !isXenStoreError(err, 'ENOENT')) failure.set(item.tx, err);
            item.reject(err);
          } else {
            item.resolve(r);
          }
        });
        this.next();
      },
      (e: unknown) => {
        this.sending = false;
        const err = toXenStoreError(e);
        for (const item of sent) {
          if ('kind' in item) item.reject(asRequestError(err, item.kind, item.path));
          else {
            item.state = 'failed';
            item.startError = err;
          }
        }
        this.next();
      },
    );
  }

  private next(): void {
    if (this.queue.length > 0 && !this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }
}

/**
 * Requests on the pipelined socket, each written as it is made (a turn's requests still leave in
 * one write: xs-pipe.ts gathers them until the turn ends). No batch waits for the one before it: xenstored
 * answers a connection's requests in the order they came, so the socket keeps their order, and
 * a read made while a transaction is being committed does not wait for that commit. Only a
 * transaction's own requests wait, for its start's answer (the id they carry), and its end goes
 * behind them. With a batch out at a time, a report's read waited for the batch before it,
 * whose transactions took up to three round trips (starts, requests, ends) to come back.
 */
class PipeRequests implements Requests {
  constructor(private readonly pipe: XsPipe) {}

  request(kind: number, path: string, tx: TxHandle | null, value?: NativeBatchOp[3]): Promise<unknown> {
    if (tx === null) return this.pipe.send(kind, path, XBT_NULL, value).catch((e: unknown) => Promise.reject(toXenStoreError(e)));
    if (tx.state === 'failed') return Promise.reject(asRequestError(tx.startError, kind, path));
    tx.used = true;
    tx.begun ??= this.pipe.begin().then(
      (id) => (tx.state = id),
      (e: unknown) => {
        tx.state = 'failed';
        tx.startError = toXenStoreError(e);
        throw tx.startError;
      },
    );
    const begun = tx.begun.catch((e: unknown) => Promise.reject(asRequestError(e, kind, path)));
    if (kind === NATIVE_BATCH.transactionEnd) {
      return begun.then((id) => {
        const f = tx.failure as { code?: string } | undefined;
        const failed = () => toXenStoreError(xsError(f!.code ?? 'EIO', 'transaction_end', ''));
        return this.pipe.end(id, f !== undefined || value === true).then(
          () => {
            if (f !== undefined) throw failed();
          },
          (e: unknown) => Promise.reject(f !== undefined ? failed() : toXenStoreError(e)),
        );
      });
    }
    return begun.then((id) =>
      this.pipe.send(kind, path, id, value).catch((e: unknown) => {
        const err = toXenStoreError(e);
        if (tx.failure === undefined && !isXenStoreError(err, 'ENOENT')) tx.failure = err;
        throw err;
      }),
    );
  }
}

function requestsOn(h: RequestChannel): Requests {
  return h instanceof XsPipe ? new PipeRequests(h) : new Batcher(h);
}

/** Requests bound to one transaction (or to none), through the connection's requests. */
class BoundOps implements XsOps {
  constructor(
    protected readonly requests: Requests,
    protected readonly txh: TxHandle | null,
    private readonly check: (op: string, path: string) => void = () => {},
  ) {}

  async read(path: string): Promise<string | null> {
    this.check('read', path);
    try {
      return ((await this.requests.request(NATIVE_BATCH.read, path, this.txh)) as Buffer).toString('utf8');
    } catch (e) {
      if (isXenStoreError(e, 'ENOENT')) return null;
      throw e;
    }
  }

  async write(path: string, value: string | Uint8Array): Promise<void> {
    this.check('write', path);
    const buf = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
    await this.requests.request(NATIVE_BATCH.write, path, this.txh, buf);
  }

  async directory(path: string): Promise<string[]> {
    this.check('directory', path);
    return (await this.requests.request(NATIVE_BATCH.directory, path, this.txh)) as string[];
  }

  async mkdir(path: string): Promise<void> {
    this.check('mkdir', path);
    await this.requests.request(NATIVE_BATCH.mkdir, path, this.txh);
  }

  async rm(path: string): Promise<void> {
    this.check('rm', path);
    await this.requests.request(NATIVE_BATCH.rm, path, this.txh);
  }

  async getPermissions(path: string): Promise<XsPermission[]> {
    this.check('get_permissions', path);
    return fromNativePerms((await this.requests.request(NATIVE_BATCH.getPermissions, path, this.txh)) as NativeXsPerm[]);
  }

  async setPermissions(path: string, perms: XsPermission[]): Promise<void> {
    this.check('set_permissions', path);
    await this.requests.request(NATIVE_BATCH.setPermissions, path, this.txh, toNativePerms(perms));
  }
}

interface WatchEntry {
  path: string;
  cb: XsWatchCallback;
  refd: boolean;
}

type XsHandleClass = new (cb: (err: Error | null, path?: string, token?: string) => void) => NativeXsHandle;

function openHandle(XsHandle: XsHandleClass, options: OpenXenStoreOptions, cb: ConstructorParameters<XsHandleClass>[0]): NativeXsHandle {
  const h = new XsHandle(cb);
  try {
    h.open(options.socketPath, options.socketOnly === true);
  } catch (e) {
    throw toXenStoreError(e);
  }
  return h;
}

/**
 * One XenStore client on two libxenstore connections: requests on one, watches on the other
 * (opened with the first watch). Once a connection has a watch, libxenstore runs a reader thread
 * on it and every answer to a request passes through that thread before it reaches the thread
 * that asked: a second thread woken per request. Without watches the asking thread reads its own
 * answer. At 1,000 guests that halves the wake-ups per request, on a Dom0 whose few CPUs are shared.
 * A watch event and the requests it prompts need no common order: a read after an event sees at
 * least what fired it.
 */
class XenStoreConnection extends BoundOps implements XenStore {
  private readonly h: RequestChannel;
  private readonly watches = new Map<string, WatchEntry>();
  private readonly onWatchError: (err: XenStoreError) => void;
  private watchHandle: NativeXsHandle | null = null;
  closed = false;

  constructor(
    private readonly XsHandle: XsHandleClass,
    private readonly options: OpenXenStoreOptions,
    h: RequestChannel,
  ) {
    super(requestsOn(h), null);
    this.h = h;
    this.onWatchError =
      options.onWatchError ?? ((err) => process.emitWarning(`xenstore watch: ${err.message}`, 'XenStoreWarning'));
  }

  /** The watch connection, opened on first use. */
  private watcher(): NativeXsHandle {
    this.watchHandle ??= openHandle(this.XsHandle, this.options, (err, path, token) => this.dispatch(err, path, token));
    return this.watchHandle;
  }

  async transaction<T>(
    fn: (tx: XsOps, attempt: number) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    const maxRetries = options.maxRetries ?? DEFAULT_TX_MAX_RETRIES;
    for (let attempt = 0; ; attempt++) {
      let open = true;
      const txh: TxHandle = { state: 'unstarted', used: false };
      const ops = new BoundOps(this.requests, txh, (op, path) => {
        if (!open) throw new XenStoreError(`xenstore ${op} ${path}: transaction already ended`, 'EINVAL', op, path);
      });
      let result: T;
      try {
        result = await fn(ops, attempt);
      } catch (e) {
        open = false;
        // Abort (queued behind whatever fn left in flight); the first error matters.
        if (txh.used) await this.requests.request(NATIVE_BATCH.transactionEnd, '', txh, true).catch(() => {});
        if (isXenStoreError(e, 'EAGAIN') && attempt < maxRetries) continue;
        throw e;
      }
      open = false;
      if (!txh.used) return result; // fn asked nothing: nothing to commit
      try {
        await this.requests.request(NATIVE_BATCH.transactionEnd, '', txh, false);
        return result;
      } catch (e) {
        if (isXenStoreError(e, 'EAGAIN') && attempt < maxRetries) continue;
        throw e;
      }
    }
  }

  async watch(path: string, token: string, cb: XsWatchCallback): Promise<XsWatch> {
    if (this.watches.has(token)) {
      throw new XenStoreError(`xenstore watch ${path}: token ${token} already in use`, 'EEXIST', 'watch', path);
    }
    // Registered before asking xenstored, which sends the first event straight after accepting.
    const w = this.watcher();
    const entry: WatchEntry = { path, cb, refd: true };
    this.watches.set(token, entry);
    this.syncRef();
    try {
      await call(() => w.watch(path, token));
    } catch (e) {
      if (this.watches.get(token) === entry) this.watches.delete(token);
      this.syncRef();
      throw e;
    }
    const handle: XsWatch = {
      path,
      token,
      unwatch: async () => {
        if (this.watches.get(token) !== entry) return;
        this.watches.delete(token);
        this.syncRef();
        await call(() => w.unwatch(path, token));
      },
      ref: () => {
        entry.refd = true;
        this.syncRef();
        return handle;
      },
      unref: () => {
        entry.refd = false;
        this.syncRef();
        return handle;
      },
    };
    return handle;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watches.clear();
    await Promise.all([this.h.close(), this.watchHandle?.close()]);
  }

  private syncRef(): void {
    let any = false;
    for (const w of this.watches.values()) any ||= w.refd;
    this.watchHandle?.setWatchRef(any);
  }

  private dispatch(err: Error | null, path: string | undefined, token: string | undefined): void {
    if (err) {
      const e = toXenStoreError(err);
      this.onWatchError(e instanceof XenStoreError ? e : new XenStoreError(err.message, 'EIO', 'watch', ''));
      return;
    }
    if (path === undefined || token === undefined) return;
    const entry = this.watches.get(token);
    if (!entry) return; // unwatched: late events are dropped
    entry.cb(path, token);
  }
}
