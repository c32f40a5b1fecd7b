// The daemon's YAML config (`memcoop run --config FILE`; config/memcoop.example.yaml shows every
// field). Read strictly: an unknown key or a wrong type is an error naming its path, so a typo
// never silently falls back to a default. Every field is optional.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { DEFAULT_SUPERVISOR_CONFIG, parseSupervisorConfig, type SupervisorConfig } from '../vocabulary/config.ts';
import { DEFAULT_TICK_MS } from '../vocabulary/events.ts';
import { InputError, array, boolean, integer, noUnknownKeys, number, object, oneOf, optional, required, string } from '../util/validate.ts';
import { MIB } from '../vocabulary/units.ts';
import { yamlInput } from '../util/yaml-input.ts';

export const HOST_KINDS = ['xen', 'kvm'] as const;
export type HostKind = (typeof HOST_KINDS)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What the supervisor is told of a guest that the host cannot know: its floor and its shares. */
export interface GuestSettings {
  minKiB: number;
  shares: number;
}

export interface GuestsConfig {
  default: GuestSettings;
  /** By domid (Xen) or other numeric handle: wins over byName. */
  byDomid: ReadonlyMap<number, Partial<GuestSettings>>;
  /** By the domain's name. The name is text the toolstack (or a guest) wrote: used only to look up here. */
  byName: ReadonlyMap<string, Partial<GuestSettings>>;
}

export interface StandInSettings {
  hostTotalKiB: number;
  dom0KiB: number;
  dom0CommittedKiB: number;
}

export interface DaemonConfig {
  host: HostKind;
  /** Algorithm 1's period, and the Xen host's probe period. */
  tickMs: number;
  journal: string | null;
  logLevel: LogLevel;
  /** The control socket (memcoop status, explain, reserve); null: beside the pid lock. */
  control: string | null;
  /** Serve Prometheus metrics on 127.0.0.1:metricsPort; null: off. */
  metricsPort: number | null;
  xen: {
    /** A xenstored unix socket; null: libxenstore's default (the xenbus device or its socket). */
    socket: string | null;
    /** Used only where libxenctrl cannot run (no hypervisor): see src/hosts/xen/stand-in.ts. */
    standIn: StandInSettings;
  };
  /** `host: kvm` (src/hosts/kvm, docs/kvm.md). */
  kvm: KvmConfig;
  guests: GuestsConfig;
  supervisor: SupervisorConfig;
}

/** One guest listed in the config: its name (the supervisor id) and QEMU's two sockets. */
export interface KvmGuestEntry {
  name: string;
  qmp: string;
  agent: string;
}

export interface KvmConfig {
  /** A directory of per-guest subdirectories <name>/qmp.sock + agent.sock, re-read every tick; null: none. */
  guestsDir: string | null;
  guests: KvmGuestEntry[];
  /** The memory memcoop may hand to guests (their balloon sizes together), KiB; null: not set (required for kvm). */
  poolKiB: number | null;
  /** The host's MemAvailable below which its own need (Dom0's part) takes memory back from the pool. */
  hostMinAvailableKiB: number;
  /** A guest's overhead (balloon minus MemTotal) until it is measured. */
  overheadKiB: number;
  /** The largest overhead believed from a guest's report (a bound on what lying about MemTotal gains). */
  maxOverheadKiB: number;
  /** The largest kernel share believed (memory inside MemTotal the guest kernel holds outside Committed_AS); 0 turns it off. */
  maxKernelShareKiB: number;
  /** Poll the balloon driver's guest-stats when no agent says hello (overhead and log only). */
  statsFallback: boolean;
}


/**
 * A guest's floor: 128 MiB, the smallest allocation in the paper's experiments (paper-3vm and
 * paper-4vm start guests at 128 MiB) and about what a small Linux guest needs to boot and run its
 * agent; below it a guest thrashes whatever the policy says.
 */
export const DEFAULT_GUEST_MIN_KIB = 128 * MIB;
/**
 * The least minimum the config accepts: 64 MiB. A Linux guest cannot run in less than its own
 * kernel, about 62 MiB for the Debian 6.1 guests of docs/measurements.md section 2 (the part of the 90 MiB
 * guest floor the simulator fits to those measurements that is the kernel itself). A smaller
 * configured minimum would let the balance squeeze a guest whose agent reports little use down
 * to nothing; refusing it is the only way to keep "no guest below its minimum" meaningful.
 */
export const LEAST_GUEST_MIN_KIB = 64 * MIB;
/** Shares S_i: 1, the paper's default (every guest weighs the same). */
export const DEFAULT_GUEST_SHARES = 1;
/**
 * The stand-in's host: 2 GiB with a 512 MiB Dom0, the nested Xen of docs/measurements.md section 3
 * (QEMU -m 2G, dom0_mem=512M). Dom0's Committed_AS: 256 MiB, about what that Dom0's busybox
 * userspace plus xenstored and xenconsoled commit (an assumption, not a measurement).
 */
export const DEFAULT_STAND_IN: Readonly<StandInSettings> = Object.freeze({
  hostTotalKiB: 2048 * MIB,
  dom0KiB: 512 * MIB,
  dom0CommittedKiB: 256 * MIB,
});
/** Shortest tick accepted: below 10 ms the daemon spends its time probing XenStore. */
export const MIN_TICK_MS = 10;
/**
 * Longest tick accepted: Node's largest timer delay (2^31 - 1 ms, its TIMEOUT_MAX). A longer one
 * is not refused by Node but run after 1 ms, which would make the daemon probe XenStore in a loop.
 */
export const MAX_TICK_MS = 2 ** 31 - 1;
/** Domids at or above DOMID_FIRST_RESERVED (0x7ff0, xen/include/public/xen.h) are not domains. */
const MAX_GUEST_DOMID = 0x7ff0 - 1;
/** Longest domain name looked up (libxl's names are short; this only bounds what we hold). */
export const MAX_NAME_CHARS = 256;
/** Largest shares value: a bound against typos (1e9), not a tuning limit. */
export const MAX_SHARES = 1000;

/**
 * A guest's overhead until measured: 55 MiB, balloon actual minus MemTotal of the 512 MiB Debian
 * 6.1 guests measured here (2,670 of 2,712 settled samples; also 55 MiB at a 128 MiB balloon).
 */
export const DEFAULT_KVM_OVERHEAD_KIB = 55 * MIB;
/**
 * The largest overhead believed: 128 MiB, more than twice the measured 55 MiB (a larger guest's
 * struct pages add 1.6% of its size: 64 MiB more at 4 GiB); a guest claiming a smaller MemTotal
 * than this allows gains nothing from it.
 */
export const DEFAULT_KVM_MAX_OVERHEAD_KIB = 128 * MIB;
/**
 * The largest kernel share believed: 64 MiB, twice the 28 MiB an idle 512 MiB testbed guest
 * held outside Committed_AS (64 MiB usable, 30 MiB free, 6 MiB committed, measured here).
 */
export const DEFAULT_KVM_MAX_KERNEL_SHARE_KIB = 64 * MIB;
/**
 * The host keeps 256 MiB available for itself (QEMU processes, memcoop, the page cache a host
 * needs to stay responsive); an assumption for small hosts, to be raised on a busy one.
 */
export const DEFAULT_KVM_HOST_MIN_AVAILABLE_KIB = 256 * MIB;
/** Longest socket or directory path accepted (Linux's PATH_MAX). */
const MAX_PATH_CHARS = 4096;
/** Most guests listed in the config: a bound against a runaway file, not a scaling limit. */
const MAX_KVM_GUESTS = 4096;
const KVM_GUEST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const DEFAULT_KVM_CONFIG: Readonly<KvmConfig> = Object.freeze({
  guestsDir: null,
  guests: [],
  poolKiB: null,
  hostMinAvailableKiB: DEFAULT_KVM_HOST_MIN_AVAILABLE_KIB,
  overheadKiB: DEFAULT_KVM_OVERHEAD_KIB,
  maxOverheadKiB: DEFAULT_KVM_MAX_OVERHEAD_KIB,
  maxKernelShareKiB: DEFAULT_KVM_MAX_KERNEL_SHARE_KIB,
  statsFallback: true,
});

export const DEFAULT_DAEMON_CONFIG: DaemonConfig = Object.freeze({
  host: 'xen',
  tickMs: DEFAULT_TICK_MS,
  journal: null,
  logLevel: 'info',
  control: null,
  metricsPort: null,
  xen: Object.freeze({ socket: null, standIn: DEFAULT_STAND_IN }),
  kvm: DEFAULT_KVM_CONFIG,
  guests: Object.freeze({
    default: Object.freeze({ minKiB: DEFAULT_GUEST_MIN_KIB, shares: DEFAULT_GUEST_SHARES }),
    byDomid: new Map(),
    byName: new Map(),
  }),
  supervisor: DEFAULT_SUPERVISOR_CONFIG,
}) as DaemonConfig;

const TOP_KEYS = ['host', 'tickMs', 'journal', 'logLevel', 'control', 'metricsPort', 'xen', 'kvm', 'guests', 'supervisor'] as const;
/** The highest TCP port. */
const MAX_PORT = 65_535;

const kib = (v: unknown, p: string): number => integer(v, p, { min: 0 });
// S_i > 0 (src/policy/balance.ts): a guest of shares 0 drops out of the price, and all at 0 leave
// memory unassigned. `memcoop decide` refuses 0 the same way.
const shares = (v: unknown, p: string): number => {
  const x = number(v, p, { min: 0, max: MAX_SHARES });
  if (x === 0) throw new InputError(p, 'must be > 0, got 0');
  return x;
};

function partialSettings(v: unknown, path: string): Partial<GuestSettings> {
  const o = object(v, path);
  noUnknownKeys(o, path, ['minKiB', 'shares']);
  const out: Partial<GuestSettings> = {};
  if (o['minKiB'] !== undefined) out.minKiB = integer(o['minKiB'], `${path}.minKiB`, { min: LEAST_GUEST_MIN_KIB });
  if (o['shares'] !== undefined) out.shares = shares(o['shares'], `${path}.shares`);
  return out;
}

function parseGuests(v: unknown, path: string): GuestsConfig {
  const o = object(v, path);
  noUnknownKeys(o, path, ['default', 'byDomid', 'byName']);
  const d = DEFAULT_DAEMON_CONFIG.guests.default;
  const dflt = optional(
    o,
    'default',
    path,
    (x, p) => {
      const s = partialSettings(x, p);
      return { minKiB: s.minKiB ?? d.minKiB, shares: s.shares ?? d.shares };
    },
    { ...d },
  );
  const byDomid = new Map<number, Partial<GuestSettings>>();
  if (o['byDomid'] !== undefined) {
    const m = object(o['byDomid'], `${path}.byDomid`);
    for (const [k, s] of Object.entries(m)) {
      const p = `${path}.byDomid.${k}`;
      // Domain 0 is Dom0, configured under supervisor.dom0, not here.
      if (!/^[1-9][0-9]{0,4}$/.test(k) || Number(k) > MAX_GUEST_DOMID) throw new InputError(p, `expected a domid (1 to ${MAX_GUEST_DOMID}) as the key`);
      byDomid.set(Number(k), partialSettings(s, p));
    }
  }
  const byName = new Map<string, Partial<GuestSettings>>();
  if (o['byName'] !== undefined) {
    const m = object(o['byName'], `${path}.byName`);
    for (const [k, s] of Object.entries(m)) {
      const p = `${path}.byName.${k}`;
      if (k.length === 0 || k.length > MAX_NAME_CHARS) throw new InputError(p, `a name of 1 to ${MAX_NAME_CHARS} characters`);
      byName.set(k, partialSettings(s, p));
    }
  }
  return { default: dflt, byDomid, byName };
}

function parseXen(v: unknown, path: string): DaemonConfig['xen'] {
  const o = object(v, path);
  noUnknownKeys(o, path, ['socket', 'standIn']);
  const socket = o['socket'] === undefined || o['socket'] === null ? null : string(o['socket'], `${path}.socket`, 4096);
  const standIn = optional(
    o,
    'standIn',
    path,
    (x, p) => {
      const q = object(x, p);
      noUnknownKeys(q, p, ['hostTotalKiB', 'dom0KiB', 'dom0CommittedKiB']);
      const s = DEFAULT_STAND_IN;
      const r = {
        hostTotalKiB: optional(q, 'hostTotalKiB', p, (y, pp) => integer(y, pp, { min: 1 }), s.hostTotalKiB),
        dom0KiB: optional(q, 'dom0KiB', p, kib, s.dom0KiB),
        dom0CommittedKiB: optional(q, 'dom0CommittedKiB', p, kib, s.dom0CommittedKiB),
      };
      if (r.dom0KiB > r.hostTotalKiB) throw new InputError(`${p}.dom0KiB`, `must be <= hostTotalKiB (${r.hostTotalKiB}), got ${r.dom0KiB}`);
      return r;
    },
    { ...DEFAULT_STAND_IN },
  );
  return { socket, standIn };
}

function parseKvm(v: unknown, path: string): KvmConfig {
  const o = object(v, path);
  noUnknownKeys(o, path, ['guestsDir', 'guests', 'poolKiB', 'hostMinAvailableKiB', 'overheadKiB', 'maxOverheadKiB', 'maxKernelShareKiB', 'statsFallback']);
  const d = DEFAULT_KVM_CONFIG;
  const guests: KvmGuestEntry[] = [];
  if (o['guests'] !== undefined && o['guests'] !== null) {
    const names = new Set<string>();
    array(o['guests'], `${path}.guests`, MAX_KVM_GUESTS).forEach((x, i) => {
      const p = `${path}.guests[${i}]`;
      const q = object(x, p);
      noUnknownKeys(q, p, ['name', 'qmp', 'agent']);
      const name = required(q, 'name', p, (y, pp) => string(y, pp, 64));
      if (!KVM_GUEST_NAME.test(name) || name === 'dom0') throw new InputError(`${p}.name`, 'letters, digits, ".", "_" or "-" (1 to 64, not "dom0")');
      if (names.has(name)) throw new InputError(`${p}.name`, `${name} is listed twice`);
      names.add(name);
      guests.push({
        name,
        qmp: required(q, 'qmp', p, (y, pp) => string(y, pp, MAX_PATH_CHARS)),
        agent: required(q, 'agent', p, (y, pp) => string(y, pp, MAX_PATH_CHARS)),
      });
    });
  }
  const kibOpt = (k: string, dflt: number) => optional(o, k, path, (y, p) => integer(y, p, { min: 0 }), dflt);
  const r: KvmConfig = {
    guestsDir: o['guestsDir'] === undefined || o['guestsDir'] === null ? null : string(o['guestsDir'], `${path}.guestsDir`, MAX_PATH_CHARS),
    guests,
    poolKiB: o['poolKiB'] === undefined || o['poolKiB'] === null ? null : integer(o['poolKiB'], `${path}.poolKiB`, { min: 1 }),
    hostMinAvailableKiB: kibOpt('hostMinAvailableKiB', d.hostMinAvailableKiB),
    overheadKiB: kibOpt('overheadKiB', d.overheadKiB),
    maxOverheadKiB: kibOpt('maxOverheadKiB', d.maxOverheadKiB),
    maxKernelShareKiB: kibOpt('maxKernelShareKiB', d.maxKernelShareKiB),
    statsFallback: optional(o, 'statsFallback', path, boolean, d.statsFallback),
  };
  if (r.overheadKiB > r.maxOverheadKiB) throw new InputError(`${path}.overheadKiB`, `must be <= maxOverheadKiB (${r.maxOverheadKiB}), got ${r.overheadKiB}`);
  return r;
}

/** Validates a parsed YAML/JSON config; throws InputError naming the field. */
export function parseDaemonConfig(v: unknown, path = 'config'): DaemonConfig {
  const o = v === null || v === undefined ? {} : object(v, path); // an empty file is all defaults
  noUnknownKeys(o, path, TOP_KEYS);
  const d = DEFAULT_DAEMON_CONFIG;
  return {
    host: optional(o, 'host', path, (x, p) => oneOf(x, p, HOST_KINDS), d.host),
    tickMs: optional(o, 'tickMs', path, (x, p) => integer(x, p, { min: MIN_TICK_MS, max: MAX_TICK_MS }), d.tickMs),
    journal: o['journal'] === undefined || o['journal'] === null ? null : string(o['journal'], `${path}.journal`, 4096),
    logLevel: optional(o, 'logLevel', path, (x, p) => oneOf(x, p, LOG_LEVELS), d.logLevel),
    control: o['control'] === undefined || o['control'] === null ? null : string(o['control'], `${path}.control`, 4096),
    metricsPort: o['metricsPort'] === undefined || o['metricsPort'] === null ? null : integer(o['metricsPort'], `${path}.metricsPort`, { min: 0, max: MAX_PORT }),
    xen: optional(o, 'xen', path, parseXen, { socket: null, standIn: { ...DEFAULT_STAND_IN } }),
    kvm: optional(o, 'kvm', path, parseKvm, { ...DEFAULT_KVM_CONFIG, guests: [] }),
    guests: optional(o, 'guests', path, parseGuests, parseGuests({}, `${path}.guests`)),
    supervisor: optional(o, 'supervisor', path, (x, p) => parseSupervisorConfig(x, p), parseSupervisorConfig({}, `${path}.supervisor`)),
  };
}

/** Reads and validates a YAML config file. Errors: InputError (bad content), or the fs error. */
/**
 * The largest config file read: the example with every field and comment is ~3 KB; 1 MiB is room
 * for thousands of per-guest overrides. Checked before reading, so `--config /dev/zero` or a
 * huge file is refused at once rather than read until memory runs out.
 */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Reads a config file: a regular file of at most MAX_CONFIG_BYTES, or an InputError naming it. */
async function readConfigText(file: string): Promise<string> {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below).
  const fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new InputError(file, 'not a regular file');
    if (st.size > MAX_CONFIG_BYTES) throw new InputError(file, `larger than ${MAX_CONFIG_BYTES} bytes (${st.size})`);
    const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    if (bytesRead > MAX_CONFIG_BYTES) throw new InputError(file, `larger than ${MAX_CONFIG_BYTES} bytes`);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

export async function loadDaemonConfig(file: string): Promise<DaemonConfig> {
  const text = await readConfigText(file);
  return parseDaemonConfig(yamlInput(text, file), file);
}

/**
 * A guest's settings: the default, then its name's entry, then its domid's. `name` is used for
 * this lookup and nothing else (it is text the guest's side may have written).
 */
export function guestSettings(guests: GuestsConfig, domid: number, name: string | null): GuestSettings {
  const byName = name !== null ? guests.byName.get(name) : undefined;
  const byDomid = guests.byDomid.get(domid);
  return { ...guests.default, ...byName, ...byDomid };
}
