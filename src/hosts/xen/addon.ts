// Loads the native Xen addon (native/, built by `npm run build:native`) without ever throwing at
// import time: memcoop runs everywhere else without it, and only the Xen host needs it.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Where node-gyp puts the addon. */
export const XEN_ADDON_PATH = fileURLToPath(
  new URL('../../../native/build/Release/memcoop_xen.node', import.meta.url),
);

/** Set to `absent` to make the loader behave as if the addon were not built (for tests). */
export const XEN_ADDON_ENV = 'MEMCOOP_XEN_ADDON';

/** libxen-dev's header: where it is, only the build step is missing. */
const XENSTORE_HEADER = '/usr/include/xenstore.h';

/**
 * What a machine without the addon must do, as one sentence naming only the step that is
 * missing: the build where libxen-dev is installed, the packages and the build where it is not.
 */
export const XEN_ADDON_MISSING = existsSync(XENSTORE_HEADER)
  ? 'The Xen addon is not built (libxen-dev is installed): run `npm run build:native`.'
  : 'The Xen addon is not built: install libxen-dev and pkg-config (apt-get install --no-install-recommends ' +
    'libxen-dev pkg-config g++ make), then run `npm run build:native`.';

/** One XenStore permission entry as libxenstore has it (perms: XS_PERM_* bits). */
export interface NativeXsPerm {
  id: number;
  perms: number;
}

/** Called on the JS thread for each watch event, or once with an error if the connection dies. */
export type NativeWatchCallback = (err: Error | null, path: string | undefined, token: string | undefined) => void;

/** Request kinds of NativeXsHandle.batch, as native/src/xs_handle.cc numbers them. */
export const NATIVE_BATCH = {
  read: 0,
  write: 1,
  mkdir: 2,
  setPermissions: 3,
  directory: 4,
  rm: 5,
  transactionStart: 6,
  transactionEnd: 7,
  getPermissions: 8,
} as const;

/**
 * One request of a batch: its kind, path, transaction (an id, 0 for none, or -1-k for the one
 * begun by request k of the same batch) and value (a write's bytes, set_permissions' entries,
 * transaction_end's abort flag).
 */
export type NativeBatchOp = [kind: number, path: string, tx: number, value?: Buffer | NativeXsPerm[] | boolean];

/** native/src/xs_handle.cc. `tx` 0 is "no transaction". */
export interface NativeXsHandle {
  open(socketPath: string | undefined, socketOnly: boolean): void;
  read(tx: number, path: string): Promise<Buffer>;
  write(tx: number, path: string, value: Buffer): Promise<void>;
  directory(tx: number, path: string): Promise<string[]>;
  mkdir(tx: number, path: string): Promise<void>;
  rm(tx: number, path: string): Promise<void>;
  getPermissions(tx: number, path: string): Promise<NativeXsPerm[]>;
  setPermissions(tx: number, path: string, perms: NativeXsPerm[]): Promise<void>;
  /**
   * Several requests in one thread-pool job (native/src/xs_handle.cc, BatchOp), in order: one
   * result per request, its value or its Error, or null when it was skipped (an earlier request
   * of its transaction failed, or its transaction did not begin).
   */
  batch(ops: NativeBatchOp[]): Promise<unknown[]>;
  transactionStart(): Promise<number>;
  transactionEnd(tx: number, abort: boolean): Promise<void>;
  watch(path: string, token: string): Promise<void>;
  unwatch(path: string, token: string): Promise<void>;
  setWatchRef(ref: boolean): void;
  close(): Promise<void>;
}

/** native/src/xc_handle.cc (only where libxenctrl was found at build time). */
export interface NativeXcHandle {
  open(): void;
  close(): void;
  physinfo(): { totalPages: number; freePages: number };
  domainList(firstDomid?: number): Array<{
    domid: number;
    totPages: number;
    maxPages: number;
    dying: boolean;
    shutdown: boolean;
  }>;
  setMaxMem(domid: number, maxKiB: number): void;
}

export interface NativeXenAddon {
  XsHandle: new (onWatch: NativeWatchCallback) => NativeXsHandle;
  XcHandle?: new () => NativeXcHandle;
  hasXenctrl: boolean;
}

export type XenAddonLoad = { ok: true; addon: NativeXenAddon } | { ok: false; reason: string };

let cached: XenAddonLoad | undefined;

/** The addon, or one sentence saying why it is not there. Never throws. */
export function loadXenAddon(): XenAddonLoad {
  if (cached) return cached;
  cached = tryLoad();
  return cached;
}

function tryLoad(): XenAddonLoad {
  if (process.env[XEN_ADDON_ENV] === 'absent' || !existsSync(XEN_ADDON_PATH)) {
    return { ok: false, reason: XEN_ADDON_MISSING };
  }
  try {
    const addon = createRequire(import.meta.url)(XEN_ADDON_PATH) as NativeXenAddon;
    return { ok: true, addon };
  } catch (e) {
    // Typically libxenstore.so vanished since the build (package removed).
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return {
      ok: false,
      reason:
        `The Xen addon could not be loaded (${why}): install xenstore-utils and libxen-dev, ` +
        'then run `npm run build:native`.',
    };
  }
}

/** Thrown by openXenStore/openXenCtrl when the addon is not there; `message` says what to do. */
export class XenAddonUnavailableError extends Error {
  readonly code = 'XEN_ADDON_UNAVAILABLE';
  constructor(reason: string) {
    super(reason);
    this.name = 'XenAddonUnavailableError';
  }
}

/** The addon, or throw XenAddonUnavailableError. */
export function requireXenAddon(): NativeXenAddon {
  const r = loadXenAddon();
  if (!r.ok) throw new XenAddonUnavailableError(r.reason);
  return r.addon;
}
