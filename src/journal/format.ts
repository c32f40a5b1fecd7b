// The journal: every external input to the supervisor, one JSON object per line (JSONL), after a
// header line. Versioned, and checked strictly on read: a replay is only as good as its input,
// so a journal that a hand edit or a crash has damaged is refused with the line and field named
// rather than replayed into different decisions.
//
//   {"kind":"memcoop-journal","v":2,"startedAt":<ms>,"config":<any JSON>}
//   {"type":"tick","at":1000}
//   {"type":"agent.reports","at":1003,"reports":[{"id":"vm1","committedKiB":...,...},...]}
//
// Each line ends with "\n". The writer (writer.ts) encodes with the same checks it reads with
// (the per-guest inputs first by plain loops that accept no more than those checks do), so
// whatever it writes reads back.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { REPORT_EXTRA_FIELDS, type AgentReports, type HostSample, type ReportEntry, type SupervisorInput, type SupervisorInputType } from '../vocabulary/events.ts';
import { pickExtras } from '../vocabulary/meminfo.ts';
import { parseSupervisorConfig } from '../vocabulary/config.ts';
import {
  InputError,
  array,
  boolean,
  integer,
  noUnknownKeys,
  number,
  object,
  oneOf,
  required,
  string,
} from '../util/validate.ts';

/** Format version; bump it when a line's shape changes, and keep reading the old one or refuse it. */
export const JOURNAL_VERSION = 3;
/**
 * Versions this memcoop still reads. v3 added `seq`, a line number on every line after the
 * header, so that a line missing from the middle of a journal is detected; a v2 journal (no
 * `seq`) reads as before.
 */
const READABLE_VERSIONS: readonly number[] = [2, 3];
/**
 * Why each older version is refused. v1 carried one `agent.report` line per report, and the
 * supervisor that wrote it handled each alone (no prompt self adjustment), so even converted to
 * batches it would not replay to the decisions it recorded.
 */
const RETIRED_VERSIONS: Record<number, string> = {
  1: 'v1 journals hold one agent.report per line, from before reports were batched (agent.reports) and self adjustment became prompt; the decisions they recorded cannot be reproduced by this supervisor. Replay a v1 journal with the memcoop that wrote it',
};
/** The header's `kind`: tells a journal from any other JSONL file. */
export const JOURNAL_KIND = 'memcoop-journal';
/**
 * Longest line accepted. A host.sample carries one allocation per guest (~30 characters each);
 * 10,000 guests (the policy benchmark's largest case) is ~300 KB, so 4 MiB leaves room while
 * still bounding what one bad line can make us hold.
 */
export const MAX_JOURNAL_LINE_CHARS = 4 * 1024 * 1024;
/** Longest guest id accepted (ids are host handles: Xen domid, a QEMU name, a sim name). */
export const MAX_ID_CHARS = 256;
/** Longest effect error message kept. */
export const MAX_ERROR_CHARS = 4096;
/**
 * Most reports one agent.reports line may carry: one per guest, and Xen domids stop below
 * 32,752 (DOMID_FIRST_RESERVED), so no host has more guests than this.
 */
export const MAX_BATCH_REPORTS = 32768;

export interface JournalHeader {
  kind: typeof JOURNAL_KIND;
  v: number;
  /** The shell's clock when the journal was opened, ms. */
  startedAt: number;
  /** The supervisor config as run; its own parser validates it, so it stays opaque here. */
  config: unknown;
}

export interface ParsedJournal {
  header: JournalHeader;
  inputs: SupervisorInput[];
  /**
   * Only with `allowTruncatedTail`: the 1-based number of a last line that was cut off (no final
   * newline and not complete JSON, as when the writer died mid-line) and so was dropped; else null.
   */
  truncatedLine: number | null;
  /** Where the writer could not write (a full disk): inputs that reached the supervisor unrecorded. */
  gaps: JournalGap[];
}

/**
 * A `journal.gap` line: `missing` inputs before this point reached the supervisor but not the
 * journal (the disk refused them). `tornLine` is the number of a damaged line just before it,
 * a fragment the writer could not cut back, or null.
 */
export interface JournalGap {
  line: number;
  at: number;
  missing: number;
  tornLine: number | null;
}

/** The line's `type`: not a supervisor input, so no replay ever feeds it to a supervisor. */
export const GAP_TYPE = 'journal.gap';

export interface ParseOptions {
  /**
   * Accept a journal whose last line was cut off mid-write (a crashed daemon's journal) and
   * report it in `truncatedLine`; by default it is an error like any other bad line.
   */
  allowTruncatedTail?: boolean;
  /** Names the journal in error messages (e.g. its file path). */
  source?: string;
}

/** A bad journal line: `line` is 1-based, `path` names the line and field. */
export class JournalError extends InputError {
  constructor(
    readonly line: number,
    path: string,
    problem: string,
  ) {
    super(path, problem);
    this.name = 'JournalError';
  }
}

// --- encoding ------------------------------------------------------------------------------

/** The header line (no trailing newline). */
export function encodeHeader(h: { startedAt: number; config: unknown }): string {
  const header: JournalHeader = { kind: JOURNAL_KIND, v: JOURNAL_VERSION, startedAt: h.startedAt, config: h.config };
  // Check what we write with the reader's rules, so a bad header fails now, not at replay.
  checkHeader(JSON.parse(JSON.stringify(header)) as unknown, 'header');
  return JSON.stringify(header);
}

/** A line from encodeInput or encodeGap with its sequence number put first (the writer's v3 lines). */
export function withSeq(seq: number, line: string): string {
  return `{"seq":${seq},${line.slice(1)}`;
}

/** A gap line (no trailing newline): `missing` inputs up to `at` were not written. */
export function encodeGap(g: { at: number; missing: number }): string {
  return JSON.stringify({ type: GAP_TYPE, at: g.at, missing: g.missing });
}

function checkGap(v: unknown, path: string): { at: number; missing: number } {
  const o = object(v, path);
  noUnknownKeys(o, path, ['type', 'at', 'missing']);
  return {
    at: required(o, 'at', path, (x, p) => integer(x, p, { min: 0 })),
    missing: required(o, 'missing', path, (x, p) => integer(x, p, { min: 1 })),
  };
}

/**
 * One input as a line (no trailing newline): exactly the fields of its type, in a fixed order,
 * so stray properties on the object never reach the journal. Throws InputError if the input
 * would not read back (a non-integer KiB, an unknown type, ...).
 */
export function encodeInput(e: SupervisorInput): string {
  // The two inputs that carry an entry per guest (a batch of reports, a host sample) are most of
  // what a busy daemon journals: at 1,000 guests the general check below (a path string and a
  // reader call per field) cost ~1.7 ms per line. They are checked by plain loops first; only
  // what those do not accept takes the general way, which accepts it or names the field.
  if (e.type === 'agent.reports') {
    const line = encodeReportsFast(e);
    if (line !== null) return line;
  }
  if (e.type === 'host.sample' && sampleFastOk(e)) {
    // The allocations as they are: a copy of a 1,000-key object costs more than the rest of the line.
    const { at, freeKiB, dom0, allocations } = e;
    return JSON.stringify({ type: e.type, at, freeKiB, dom0: { currentKiB: dom0.currentKiB, committedKiB: dom0.committedKiB }, allocations });
  }
  const canonical = canonicalize(e);
  checkInput(canonical, 'input');
  return JSON.stringify(canonical);
}

const isKiB = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isTimestamp = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_ID_CHARS;

/**
 * An agent.reports line, or null unless every field is certainly what checkInput accepts (then
 * the general way decides). Written by hand: the same text JSON.stringify makes of the canonical
 * batch (finite numbers print alike either way, ids go through JSON.stringify), in ~a third of
 * its time.
 */
function encodeReportsFast(e: AgentReports): string | null {
  const { at, reports } = e;
  if (!isTimestamp(at) || !Array.isArray(reports) || reports.length === 0 || reports.length > MAX_BATCH_REPORTS) return null;
  const seen = new Set<string>();
  let line = '{"type":"agent.reports","at":' + String(at) + ',"reports":[';
  for (let i = 0; i < reports.length; i++) {
    const r: unknown = reports[i];
    if (typeof r !== 'object' || r === null) return null;
    const { id, committedKiB, freeKiB, swapTotalKiB, swapFreeKiB } = r as Partial<ReportEntry>;
    if (!isId(id) || seen.has(id) || !isKiB(committedKiB) || !isKiB(freeKiB) || !isKiB(swapTotalKiB) || !isKiB(swapFreeKiB)) return null;
    seen.add(id);
    line +=
      (i === 0 ? '{"id":' : ',{"id":') +
      JSON.stringify(id) +
      ',"committedKiB":' +
      String(committedKiB) +
      ',"freeKiB":' +
      String(freeKiB) +
      ',"swapTotalKiB":' +
      String(swapTotalKiB) +
      ',"swapFreeKiB":' +
      String(swapFreeKiB);
    // The optional fields a newer agent sends (absent ones stay absent), in canonical order.
    for (const f of REPORT_EXTRA_FIELDS) {
      const v: unknown = (r as ReportEntry)[f];
      if (v === undefined) continue;
      if (!isKiB(v)) return null;
      line += ',"' + f + '":' + String(v);
    }
    line += '}';
  }
  return line + ']}';
}

/**
 * Is a host.sample certainly what checkInput accepts, with allocations that JSON.stringify
 * prints as canonicalize's copy would be (a plain object: no inherited toJSON, no array)?
 * false: let the general way decide.
 */
function sampleFastOk(e: HostSample): boolean {
  const d: unknown = e.dom0;
  const a: unknown = e.allocations;
  if (!isTimestamp(e.at) || !isKiB(e.freeKiB) || typeof d !== 'object' || d === null) return false;
  const { currentKiB, committedKiB } = d as Partial<HostSample['dom0']>;
  if (!isKiB(currentKiB) || !isKiB(committedKiB) || typeof a !== 'object' || a === null) return false;
  const proto: unknown = Object.getPrototypeOf(a);
  if (proto !== Object.prototype && proto !== null) return false;
  const allocations = a as Record<string, unknown>;
  for (const gid of Object.keys(allocations)) {
    if (!isId(gid) || !isKiB(allocations[gid])) return false;
  }
  return true;
}

function canonicalize(e: SupervisorInput): SupervisorInput {
  switch (e.type) {
    case 'guest.appeared':
      return {
        type: e.type,
        at: e.at,
        id: e.id,
        domid: e.domid,
        minKiB: e.minKiB,
        maxKiB: e.maxKiB,
        currentKiB: e.currentKiB,
        shares: e.shares,
      };
    case 'guest.left':
      return { type: e.type, at: e.at, id: e.id };
    case 'agent.hello':
      return { type: e.type, at: e.at, id: e.id, protocol: e.protocol, selfAdjust: e.selfAdjust };
    case 'agent.reports':
      return {
        type: e.type,
        at: e.at,
        reports: Array.isArray(e.reports)
          ? e.reports.map((r) =>
              r === null || typeof r !== 'object'
                ? r
                : { id: r.id, committedKiB: r.committedKiB, freeKiB: r.freeKiB, swapTotalKiB: r.swapTotalKiB, swapFreeKiB: r.swapFreeKiB, ...pickExtras(r) },
            )
          : e.reports,
      };
    case 'host.sample':
      return {
        type: e.type,
        at: e.at,
        freeKiB: e.freeKiB,
        dom0: { currentKiB: e.dom0?.currentKiB, committedKiB: e.dom0?.committedKiB },
        allocations: e.allocations === null || typeof e.allocations !== 'object' ? e.allocations : { ...e.allocations },
      };
    case 'tick':
      return { type: e.type, at: e.at };
    case 'effect.failed':
      return { type: e.type, at: e.at, id: e.id, effect: e.effect, error: e.error };
    case 'config.changed':
      return { type: e.type, at: e.at, config: e.config };
    case 'reserve.set':
      return { type: e.type, at: e.at, reservedKiB: e.reservedKiB };
    default: {
      const unknownType: unknown = (e as { type?: unknown }).type;
      throw new InputError('input.type', `unknown input type ${JSON.stringify(unknownType)}`);
    }
  }
}

// --- checking ------------------------------------------------------------------------------

const INPUT_TYPES: readonly SupervisorInputType[] = [
  'guest.appeared',
  'guest.left',
  'agent.hello',
  'agent.reports',
  'host.sample',
  'tick',
  'effect.failed',
  'config.changed',
  'reserve.set',
];

/** The fields of each input type, `type` and `at` included: the single list both directions use. */
const FIELDS: Record<SupervisorInputType, readonly string[]> = {
  'guest.appeared': ['type', 'at', 'id', 'domid', 'minKiB', 'maxKiB', 'currentKiB', 'shares'],
  'guest.left': ['type', 'at', 'id'],
  'agent.hello': ['type', 'at', 'id', 'protocol', 'selfAdjust'],
  'agent.reports': ['type', 'at', 'reports'],
  'host.sample': ['type', 'at', 'freeKiB', 'dom0', 'allocations'],
  tick: ['type', 'at'],
  'effect.failed': ['type', 'at', 'id', 'effect', 'error'],
  'config.changed': ['type', 'at', 'config'],
  'reserve.set': ['type', 'at', 'reservedKiB'],
};

const kib = (v: unknown, p: string): number => integer(v, p, { min: 0 });
const id = (v: unknown, p: string): string => string(v, p, MAX_ID_CHARS);
const timestamp = (v: unknown, p: string): number => number(v, p, { min: 0 });
/** A report's fields; the optional ones (REPORT_EXTRA_FIELDS) came with agents of protocol 1's
 *  longer report, and journals written before them still read. */
const REPORT_FIELDS = ['id', 'committedKiB', 'freeKiB', 'swapTotalKiB', 'swapFreeKiB', ...REPORT_EXTRA_FIELDS] as const;

/** The optional report fields o has (each a count or KiB: an integer >= 0). */
function extraFields(o: Record<string, unknown>, p: string): Partial<ReportEntry> {
  const out: Partial<ReportEntry> = {};
  for (const f of REPORT_EXTRA_FIELDS) {
    if (o[f] !== undefined) out[f] = kib(o[f], `${p}.${f}`);
  }
  return out;
}

/** A non-empty list of reports, each with exactly its fields, at most one per guest id. */
function reportEntries(v: unknown, path: string): ReportEntry[] {
  const list = array(v, path, MAX_BATCH_REPORTS);
  if (list.length === 0) throw new InputError(path, 'must not be empty');
  const seen = new Map<string, number>();
  return list.map((x, i) => {
    const p = `${path}[${i}]`;
    const o = object(x, p);
    noUnknownKeys(o, p, REPORT_FIELDS);
    const rid = required(o, 'id', p, id);
    const first = seen.get(rid);
    if (first !== undefined) throw new InputError(`${p}.id`, `duplicate id ${JSON.stringify(rid)} (entry ${first} has it too): one report per guest per batch`);
    seen.set(rid, i);
    return {
      id: rid,
      committedKiB: required(o, 'committedKiB', p, kib),
      freeKiB: required(o, 'freeKiB', p, kib),
      swapTotalKiB: required(o, 'swapTotalKiB', p, kib),
      swapFreeKiB: required(o, 'swapFreeKiB', p, kib),
      ...extraFields(o, p),
    };
  });
}

function checkHeader(v: unknown, path: string): JournalHeader {
  const o = object(v, path);
  const kind = required(o, 'kind', path, (x, p) => string(x, p));
  if (kind !== JOURNAL_KIND) {
    throw new InputError(`${path}.kind`, `not a memcoop journal (expected ${JSON.stringify(JOURNAL_KIND)})`);
  }
  const ver = required(o, 'v', path, (x, p) => integer(x, p, { min: 1 }));
  if (!READABLE_VERSIONS.includes(ver)) {
    const why = RETIRED_VERSIONS[ver];
    throw new InputError(`${path}.v`, `journal version ${ver} is not supported (this memcoop reads ${READABLE_VERSIONS.join(' and ')})${why ? `: ${why}` : ''}`);
  }
  const startedAt = required(o, 'startedAt', path, timestamp);
  if (!('config' in o)) throw new InputError(`${path}.config`, 'is required');
  noUnknownKeys(o, path, ['kind', 'v', 'startedAt', 'config']);
  return { kind: JOURNAL_KIND, v: ver, startedAt, config: o['config'] };
}

/** Checks one parsed line against its type: every field present and typed, no others. */
function checkInput(v: unknown, path: string): SupervisorInput {
  const o = object(v, path);
  const type = required(o, 'type', path, (x, p) => oneOf(x, p, INPUT_TYPES));
  noUnknownKeys(o, path, FIELDS[type]);
  const at = required(o, 'at', path, timestamp);
  switch (type) {
    case 'guest.appeared':
      return {
        type,
        at,
        id: required(o, 'id', path, id),
        domid: required(o, 'domid', path, (x, p) => integer(x, p, { min: 0 })),
        minKiB: required(o, 'minKiB', path, kib),
        maxKiB: required(o, 'maxKiB', path, kib),
        currentKiB: required(o, 'currentKiB', path, kib),
        shares: required(o, 'shares', path, (x, p) => number(x, p, { min: 0 })),
      };
    case 'guest.left':
      return { type, at, id: required(o, 'id', path, id) };
    case 'agent.hello':
      return {
        type,
        at,
        id: required(o, 'id', path, id),
        protocol: required(o, 'protocol', path, (x, p) => integer(x, p, { min: 0 })),
        selfAdjust: required(o, 'selfAdjust', path, boolean),
      };
    case 'agent.reports':
      return { type, at, reports: required(o, 'reports', path, reportEntries) };
    case 'host.sample': {
      const freeKiB = required(o, 'freeKiB', path, kib);
      const d = required(o, 'dom0', path, object);
      noUnknownKeys(d, `${path}.dom0`, ['currentKiB', 'committedKiB']);
      const dom0 = {
        currentKiB: required(d, 'currentKiB', `${path}.dom0`, kib),
        committedKiB: required(d, 'committedKiB', `${path}.dom0`, kib),
      };
      const a = required(o, 'allocations', path, object);
      // fromEntries defines own properties, so a guest id such as "__proto__" stays a plain key.
      const allocations: Record<string, number> = Object.fromEntries(
        Object.entries(a).map(([gid, n]) => [id(gid, `${path}.allocations (key)`), kib(n, `${path}.allocations.${gid}`)]),
      );
      return { type, at, freeKiB, dom0, allocations };
    }
    case 'tick':
      return { type, at };
    case 'effect.failed':
      return {
        type,
        at,
        id: required(o, 'id', path, id),
        effect: required(o, 'effect', path, (x, p) => oneOf(x, p, ['setTarget', 'setMode'] as const)),
        error: required(o, 'error', path, (x, p) => string(x, p, MAX_ERROR_CHARS)),
      };
    case 'config.changed':
      return { type, at, config: required(o, 'config', path, (x, p) => parseSupervisorConfig(x, p)) };
    case 'reserve.set':
      return { type, at, reservedKiB: required(o, 'reservedKiB', path, kib) };
  }
}

/**
 * Checks lines one at a time, in order: the header first, then inputs with `at` never going
 * back. Shared by parseJournal (a string) and readJournalFile (a file read in chunks).
 */
export class JournalLineChecker {
  private lineNo = 0;
  private lastAt = -Infinity;
  header: JournalHeader | null = null;
  readonly inputs: SupervisorInput[] = [];
  readonly gaps: JournalGap[] = [];
  /** A line that is not JSON, held until the next line says whether it was torn before a gap. */
  private damaged: { line: number; error: JournalError } | null = null;

  constructor(private readonly source = 'journal') {}

  /** The number of lines fed so far. */
  get lines(): number {
    return this.lineNo;
  }

  private fail(problemPath: string, problem: string): never {
    throw new JournalError(this.lineNo, `${this.source} line ${this.lineNo}${problemPath}`, problem);
  }

  /** The previous line's seq; null before the first line after the header. */
  private seq: number | null = null;
  /** Whether this journal's lines carry seq (the first line after the header decides). */
  private sequenced: boolean | null = null;

  /**
   * Checks and strips a line's `seq`. A v3 writer numbers every line after the header 1, 2, ...;
   * a jump means a line is missing (deleted by hand, lost in a copy). A journal made by hand
   * (tests, v2) has no seq on any line; one that mixes the two is refused.
   */
  private takeSeq(v: unknown, where: string): unknown {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    const o = v as Record<string, unknown>;
    const has = 'seq' in o;
    if (this.sequenced === null) this.sequenced = has && this.header!.v >= 3;
    if (!this.sequenced) {
      if (has) this.fail('.seq', this.header!.v >= 3 ? 'present, but the first line after the header had none' : `not part of journal version ${this.header!.v}`);
      return v;
    }
    if (!has) this.fail('.seq', 'is required (every line after the header has one)');
    const n = integer(o.seq, `${where}.seq`, { min: 1 });
    const expected = this.seq === null ? 1 : this.seq + 1;
    if (n !== expected) {
      this.fail('.seq', n > expected ? `is ${n} where ${expected} was due: ${n - expected} line(s) missing before this one` : `is ${n} where ${expected} was due (lines out of order or repeated)`);
    }
    this.seq = n;
    const { seq: _seq, ...rest } = o;
    return rest;
  }

  /** Feeds one line (without its "\n"). */
  feed(line: string): void {
    this.lineNo += 1;
    if (line.length > MAX_JOURNAL_LINE_CHARS) this.fail('', `longer than ${MAX_JOURNAL_LINE_CHARS} characters`);
    const damaged = this.damaged;
    this.damaged = null;
    let v: unknown;
    try {
      if (line.trim() === '') this.fail('', 'empty line');
      try {
        v = JSON.parse(line);
      } catch (err) {
        this.fail('', `not valid JSON (${(err as Error).message}): ${truncate(line)}`);
      }
    } catch (err) {
      // Only a gap line right after it can excuse a damaged line (the writer's torn fragment).
      if (damaged !== null) throw damaged.error;
      if (this.header === null || !(err instanceof JournalError)) throw err;
      this.damaged = { line: this.lineNo, error: err };
      return;
    }
    const where = `${this.source} line ${this.lineNo}`;
    const isGap = typeof v === 'object' && v !== null && (v as { type?: unknown }).type === GAP_TYPE;
    if (damaged !== null && !isGap) throw damaged.error;
    try {
      if (this.header === null) {
        this.header = checkHeader(v, where);
        return;
      }
      v = this.takeSeq(v, where);
      if (isGap) {
        const g = checkGap(v, where);
        if (g.at < this.lastAt) this.fail('.at', `${g.at} is earlier than the previous line's ${this.lastAt} (at must not decrease)`);
        this.lastAt = g.at;
        this.gaps.push({ line: this.lineNo, at: g.at, missing: g.missing, tornLine: damaged?.line ?? null });
        return;
      }
      const input = checkInput(v, where);
      if (input.at < this.lastAt) {
        this.fail('.at', `${input.at} is earlier than the previous line's ${this.lastAt} (at must not decrease)`);
      }
      this.lastAt = input.at;
      this.inputs.push(input);
    } catch (err) {
      if (err instanceof InputError && !(err instanceof JournalError)) {
        throw new JournalError(this.lineNo, err.path, err.problem);
      }
      throw err;
    }
  }

  /**
   * Handles text after the last newline (a line the writer did not finish). A complete JSON
   * object cannot be a prefix of a longer one, so if it parses it is a whole line that merely
   * lacks its newline (a hand-made journal) and is checked as usual; if not, it was cut off.
   * Returns the line number if it was cut off and `allow` is set.
   */
  feedTail(tail: string, allow: boolean): number | null {
    if (tail === '') return null;
    let complete = true;
    try {
      JSON.parse(tail);
    } catch {
      complete = false;
    }
    if (complete) {
      this.feed(tail);
      return null;
    }
    this.lineNo += 1;
    if (allow) return this.lineNo;
    this.fail(
      '',
      `truncated: the last line has no newline and is not complete JSON (was the writer interrupted?): ${truncate(tail)}`,
    );
  }

  finish(truncatedLine: number | null): ParsedJournal {
    if (this.damaged !== null) throw this.damaged.error;
    if (this.header === null) {
      throw new JournalError(0, this.source, 'empty: no header line');
    }
    return { header: this.header, inputs: this.inputs, truncatedLine, gaps: this.gaps };
  }
}

function truncate(s: string, max = 80): string {
  return JSON.stringify(s.length > max ? s.slice(0, max) + '…' : s);
}

// --- reading -------------------------------------------------------------------------------

/** Parses a whole journal, checking every line; throws JournalError naming the line and field. */
export function parseJournal(text: string, opts: ParseOptions = {}): ParsedJournal {
  const checker = new JournalLineChecker(opts.source);
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) break;
    checker.feed(text.slice(start, nl));
    start = nl + 1;
  }
  const truncated = checker.feedTail(text.slice(start), opts.allowTruncatedTail ?? false);
  return checker.finish(truncated);
}

/** Read size for readJournalFile: big enough to be few syscalls, small enough to not matter. */
const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * Reads and checks a journal file. Reads in chunks rather than as one string, so a long-running
 * daemon's journal is not limited by the largest string V8 will make.
 */
export async function readJournalFile(path: string, opts: Omit<ParseOptions, 'source'> = {}): Promise<ParsedJournal> {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below).
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    // A FIFO or a device would be read forever (or block): a journal is a regular file.
    if (!(await fh.stat()).isFile()) throw new JournalError(0, path, 'not a regular file');
    const checker = new JournalLineChecker(path);
    // Lines are split on the newline byte before decoding, so invalid UTF-8 is reported on the
    // line that holds it (a chunk decoded whole put it on the first line of the chunk).
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const decodeLine = (bytes: Uint8Array): string => {
      try {
        return decoder.decode(bytes);
      } catch {
        throw new JournalError(checker.lines + 1, `${path} line ${checker.lines + 1}`, 'not valid UTF-8');
      }
    };
    const buf = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    let pending: Buffer = Buffer.alloc(0);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const data = pending.length > 0 ? Buffer.concat([pending, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
      let start = 0;
      for (;;) {
        const nl = data.indexOf(0x0a, start);
        if (nl < 0) break;
        checker.feed(decodeLine(data.subarray(start, nl)));
        start = nl + 1;
      }
      // Copied: `buf` is reused by the next read.
      pending = Buffer.from(data.subarray(start));
      if (pending.length > MAX_JOURNAL_LINE_CHARS) {
        throw new JournalError(checker.lines + 1, `${path} line ${checker.lines + 1}`, `longer than ${MAX_JOURNAL_LINE_CHARS} characters`);
      }
    }
    // A multi-byte character cut at the end of the file: the tail is truncated, and the
    // replacement character makes it unparseable, which feedTail reports as such.
    const tail = new TextDecoder('utf-8').decode(pending);
    const truncated = checker.feedTail(tail, opts.allowTruncatedTail ?? false);
    return checker.finish(truncated);
  } finally {
    await fh.close();
  }
}
