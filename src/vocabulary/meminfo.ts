// A strict /proc/meminfo parser. What an agent sends is the guest's text and so untrusted: the
// size is bounded, every line must have the kernel's shape, a key may appear once, and an error
// names the line (number and a truncated copy) so an operator can see what the guest sent.
// Keys this program does not use are parsed (their lines must still be well formed) and ignored.
import { InputError } from '../util/validate.ts';
import { REPORT_EXTRA_FIELDS, type AgentReport, type ReportExtras } from './events.ts';

/**
 * Largest meminfo text accepted. A real one is ~1.5 KB (54 lines on Linux 6.x here, the longest
 * ~35 characters); 8 KiB leaves room for new kernel fields and rejects a flood.
 */
export const MAX_MEMINFO_CHARS = 8 * 1024;
/** Longest key: the kernel's are at most ~16 characters ("HugePages_Total", "FilePmdMapped"). */
export const MAX_MEMINFO_KEY_CHARS = 64;
/** How much of a bad line an error quotes. */
const QUOTE_CHARS = 60;

/** `Key:   <int> kB` or `Key:   <int>` (counts such as HugePages_Total). Keys as the kernel spells
 *  them: letters, digits, underscores and parentheses ("Active(anon)"). */
const LINE = /^([A-Za-z0-9_()]+):[ \t]+([0-9]+)( kB)?$/;

export interface Meminfo {
  /** Fields given in kB (the kernel's kB is KiB). */
  readonly kib: ReadonlyMap<string, number>;
  /** Unit-less fields (page counts such as HugePages_Total). */
  readonly counts: ReadonlyMap<string, number>;
}

/** The fields a report needs, in KiB, and the optional ones it carried (ReportExtras). */
export interface MeminfoReport extends ReportExtras {
  memTotalKiB: number;
  memFreeKiB: number;
  committedKiB: number;
  swapTotalKiB: number;
  swapFreeKiB: number;
}

/** The fields every report must have. */
export type RequiredReportField = Exclude<keyof MeminfoReport, keyof ReportExtras>;

/** The meminfo key behind each required report field. */
export const REPORT_KEYS: Readonly<Record<RequiredReportField, string>> = {
  memTotalKiB: 'MemTotal',
  memFreeKiB: 'MemFree',
  committedKiB: 'Committed_AS',
  swapTotalKiB: 'SwapTotal',
  swapFreeKiB: 'SwapFree',
};

/**
 * The report line behind each optional field (docs/agent-protocol.md) and its unit: 'kB' lines
 * carry KiB, 'count' lines a bare integer. A line with the wrong unit is refused, like a required
 * field's.
 */
export const EXTRA_KEYS: Readonly<Record<keyof ReportExtras, { key: string; unit: 'kB' | 'count' }>> = {
  availableKiB: { key: 'MemAvailable', unit: 'kB' },
  pswpin: { key: 'pswpin', unit: 'count' },
  pswpout: { key: 'pswpout', unit: 'count' },
  pgmajfault: { key: 'pgmajfault', unit: 'count' },
  refaultAnon: { key: 'workingset_refault_anon', unit: 'count' },
  refaultFile: { key: 'workingset_refault_file', unit: 'count' },
  psiSomeAvg10: { key: 'psi_some_avg10', unit: 'count' },
  psiFullAvg10: { key: 'psi_full_avg10', unit: 'count' },
  psiSomeTotalUs: { key: 'psi_some_total', unit: 'count' },
  psiFullTotalUs: { key: 'psi_full_total', unit: 'count' },
};

/** PSI's avg10 is a share of time: at most 100 %, 10000 in hundredths. */
export const MAX_PSI_AVG10 = 100 * 100;

/** The optional fields present in r, in REPORT_EXTRA_FIELDS order (absent ones left out). */
export function pickExtras(r: ReportExtras): ReportExtras {
  const out: ReportExtras = {};
  for (const f of REPORT_EXTRA_FIELDS) {
    const v = r[f];
    if (v !== undefined) out[f] = v;
  }
  return out;
}

/** A bad meminfo: `line` is 1-based (0 when the text as a whole is wrong). */
export class MeminfoError extends InputError {
  constructor(
    readonly line: number,
    problem: string,
  ) {
    super(line > 0 ? `meminfo line ${line}` : 'meminfo', problem);
    this.name = 'MeminfoError';
  }
}

function quote(s: string): string {
  return JSON.stringify(s.length > QUOTE_CHARS ? s.slice(0, QUOTE_CHARS) + '…' : s);
}

export function parseMeminfo(text: string): Meminfo {
  if (text.length > MAX_MEMINFO_CHARS) {
    throw new MeminfoError(0, `larger than ${MAX_MEMINFO_CHARS} characters (${text.length})`);
  }
  const lines = text.split('\n');
  // The file ends with a newline; that leaves one empty string, which is not a line.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw new MeminfoError(0, 'empty');
  const kib = new Map<string, number>();
  const counts = new Map<string, number>();
  lines.forEach((line, i) => {
    const n = i + 1;
    const m = LINE.exec(line);
    if (m === null) throw new MeminfoError(n, `expected "Key: <number> kB" or "Key: <number>", got ${quote(line)}`);
    const [, key = '', digits = '', unit] = m;
    if (key.length > MAX_MEMINFO_KEY_CHARS) throw new MeminfoError(n, `key longer than ${MAX_MEMINFO_KEY_CHARS} characters: ${quote(line)}`);
    if (kib.has(key) || counts.has(key)) throw new MeminfoError(n, `${key} appears twice: ${quote(line)}`);
    const value = Number(digits);
    if (!Number.isSafeInteger(value)) throw new MeminfoError(n, `${key} is too large: ${quote(line)}`);
    (unit === undefined ? counts : kib).set(key, value);
  });
  return { kib, counts };
}

/** The report fields; throws naming a missing field, one without its kB unit, or one that cannot be. */
export function meminfoReport(m: Meminfo): MeminfoReport {
  const get = (field: RequiredReportField): number => {
    const key = REPORT_KEYS[field];
    const v = m.kib.get(key);
    if (v !== undefined) return v;
    if (m.counts.has(key)) throw new MeminfoError(0, `${key} has no kB unit`);
    throw new MeminfoError(0, `${key} is missing`);
  };
  const r: MeminfoReport = {
    memTotalKiB: get('memTotalKiB'),
    memFreeKiB: get('memFreeKiB'),
    committedKiB: get('committedKiB'),
    swapTotalKiB: get('swapTotalKiB'),
    swapFreeKiB: get('swapFreeKiB'),
  };
  for (const f of REPORT_EXTRA_FIELDS) {
    const { key, unit } = EXTRA_KEYS[f];
    const [right, wrong] = unit === 'kB' ? [m.kib, m.counts] : [m.counts, m.kib];
    if (wrong.has(key)) throw new MeminfoError(0, unit === 'kB' ? `${key} has no kB unit` : `${key} is a count, not kB`);
    const v = right.get(key);
    if (v !== undefined) r[f] = v;
  }
  if ((r.psiSomeAvg10 ?? 0) > MAX_PSI_AVG10 || (r.psiFullAvg10 ?? 0) > MAX_PSI_AVG10) {
    throw new MeminfoError(0, `a PSI avg10 above 100 % (${MAX_PSI_AVG10})`);
  }
  // The kernel never reports these; a guest whose text says so is lying or broken.
  if (r.memFreeKiB > r.memTotalKiB) throw new MeminfoError(0, `MemFree ${r.memFreeKiB} kB exceeds MemTotal ${r.memTotalKiB} kB`);
  if (r.swapFreeKiB > r.swapTotalKiB) throw new MeminfoError(0, `SwapFree ${r.swapFreeKiB} kB exceeds SwapTotal ${r.swapTotalKiB} kB`);
  return r;
}

/** parseMeminfo then meminfoReport: meminfo text to the report fields. */
export function reportFromMeminfo(text: string): MeminfoReport {
  return meminfoReport(parseMeminfo(text));
}

/** A host's raw (unsmoothed) agent report from a guest's meminfo text; throws MeminfoError. */
export function agentReportFromMeminfo(id: string, at: number, text: string): AgentReport {
  const r = reportFromMeminfo(text);
  return {
    type: 'agent.report',
    at,
    id,
    committedKiB: r.committedKiB,
    freeKiB: r.memFreeKiB,
    swapTotalKiB: r.swapTotalKiB,
    swapFreeKiB: r.swapFreeKiB,
    ...pickExtras(r),
  };
}
