// `memcoop status` as data (what the control socket answers) and as a table (what the command
// prints on a terminal). The data is built in the daemon from the supervisor's snapshot and the
// observer; the table is built in the client from that data alone.
import type { GuestStateName, UnmanagedReason } from '../machines/facts.ts';
import type { ReportExtras } from '../vocabulary/events.ts';
import type { Mode } from '../vocabulary/mode.ts';
import { mib, type Regime } from '../policy/explain.ts';
import type { Decision } from '../policy/types.ts';
import type { DaemonObserver } from './observer.ts';
import { guestStates } from './policy-input.ts';

export interface GuestStatus {
  id: string;
  domid: number;
  state: GuestStateName;
  unmanagedReason: UnmanagedReason | null;
  /** The mode last written to its agent. */
  mode: Mode | null;
  allocationKiB: number;
  /** The target last written (null: none yet, or the write failed). */
  targetKiB: number | null;
  goalKiB: number | null;
  minKiB: number;
  maxKiB: number;
  shares: number;
  committedKiB: number | null;
  freeKiB: number | null;
  /** The pressure figures the agent sent (absent: its kernel or agent does not send them). */
  pressure: ReportExtras | null;
  /** Daemon-clock ms since its last report reached the supervisor; null: none yet. */
  lastReportAgeMs: number | null;
}

export interface Status {
  pid: number;
  host: string;
  policy: string;
  /** The daemon's clock now (ms). */
  at: number;
  tickMs: number;
  ticks: number;
  /** Null before the first host sample. */
  memory: {
    /** Free + Dom0 + every guest's allocation: the memory memcoop sees (the hypervisor's own is not in it). */
    totalKiB: number;
    freeKiB: number;
    reserveKiB: number;
    regime: Regime | null;
    price: number | null;
    reclaimKiB: number;
    /** Reservations for domains about to start, together. */
    reservedKiB: number;
  } | null;
  dom0: { allocationKiB: number; committedKiB: number; minKiB: number; maxKiB: number; goalKiB: number | null; targetKiB: number | null } | null;
  guests: GuestStatus[];
  /** Daemon-clock time of the last decision. */
  lastDecisionAt: number | null;
}

export function regimeOf(d: Decision): Regime {
  return d.overcommitted ? 'overcommitted' : d.dom0.reclaimKiB > 0 ? 'reclaiming for Dom0' : d.state;
}

function extrasOf(e: ReportExtras): ReportExtras | null {
  const out: ReportExtras = {};
  let any = false;
  for (const [k, v] of Object.entries(e)) {
    if (k === 'id' || k === 'committedKiB' || k === 'freeKiB' || k === 'swapTotalKiB' || k === 'swapFreeKiB' || typeof v !== 'number') continue;
    (out as Record<string, number>)[k] = v;
    any = true;
  }
  return any ? out : null;
}

/** What the daemon knows now, as plain JSON. */
export function statusOf(obs: DaemonObserver, meta: { host: string; tickMs: number; reservedKiB?: number }): Status {
  const actor = obs.daemon.actor;
  const c = actor.getSnapshot().context;
  const now = obs.daemon.now();
  const d = obs.lastDecision?.decision ?? null;
  const guests: GuestStatus[] = guestStates(actor).map((g) => {
    const f = g.facts;
    const r = obs.reports.get(g.id);
    return {
      id: g.id,
      domid: f.domid,
      state: g.state,
      unmanagedReason: g.life.unmanagedReason,
      mode: f.writtenMode,
      allocationKiB: f.currentKiB,
      targetKiB: f.writtenTargetKiB,
      goalKiB: f.goalKiB,
      minKiB: f.minKiB,
      maxKiB: f.maxKiB,
      shares: f.shares,
      committedKiB: f.report?.committedKiB ?? null,
      freeKiB: f.report?.freeKiB ?? null,
      pressure: r === undefined ? null : extrasOf(r.entry),
      lastReportAgeMs: r === undefined ? null : Math.max(0, now - r.at),
    };
  });
  let memory: Status['memory'] = null;
  let dom0: Status['dom0'] = null;
  if (c.host !== null) {
    let total = c.host.freeKiB + c.host.dom0.currentKiB;
    for (const g of guests) total += g.allocationKiB;
    memory = {
      totalKiB: total,
      freeKiB: c.host.freeKiB,
      reserveKiB: c.config.params.reserveKiB,
      regime: d === null ? null : regimeOf(d),
      price: d?.price ?? null,
      reclaimKiB: d?.dom0.reclaimKiB ?? 0,
      reservedKiB: meta.reservedKiB ?? 0,
    };
    dom0 = {
      allocationKiB: c.host.dom0.currentKiB,
      committedKiB: c.host.dom0.committedKiB,
      minKiB: c.config.dom0.minKiB,
      maxKiB: c.config.dom0.maxKiB,
      goalKiB: d?.dom0.goalKiB ?? null,
      targetKiB: c.dom0WrittenTargetKiB,
    };
  }
  return {
    pid: process.pid,
    host: meta.host,
    policy: c.config.policy,
    at: now,
    tickMs: meta.tickMs,
    ticks: c.ticks,
    memory,
    dom0,
    guests,
    lastDecisionAt: obs.lastDecision?.at ?? null,
  };
}

const m = (kib: number | null): string => (kib === null ? '-' : mib(kib).replace(' MiB', ''));
const age = (ms: number | null): string => (ms === null ? '-' : ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`);

function pressureText(p: ReportExtras | null): string {
  if (p === null) return '-';
  const parts: string[] = [];
  if (p.psiSomeAvg10 !== undefined) parts.push(`psi ${(p.psiSomeAvg10 / 100).toFixed(2)}/${((p.psiFullAvg10 ?? 0) / 100).toFixed(2)}%`);
  if (p.availableKiB !== undefined) parts.push(`avail ${m(p.availableKiB)}`);
  if (p.pgmajfault !== undefined) parts.push(`majflt ${p.pgmajfault}`);
  return parts.length === 0 ? '-' : parts.join(' ');
}

/** Rows of text, columns padded; memory in MiB. */
export function statusTable(s: Status): string {
  const out: string[] = [];
  out.push(`memcoop pid ${s.pid} · host ${s.host} · policy ${s.policy} · tick ${s.tickMs} ms · ${s.ticks} ticks`);
  if (s.memory === null || s.dom0 === null) {
    out.push('no host sample yet');
  } else {
    const mm = s.memory;
    out.push(
      `memory: total ${mib(mm.totalKiB)}, free ${mib(mm.freeKiB)}, reserve ${mib(mm.reserveKiB)}` +
        (mm.reservedKiB > 0 ? `, reserved for new domains ${mib(mm.reservedKiB)}` : '') +
        ` · regime ${mm.regime ?? '-'}` +
        (mm.price !== null ? ` · price ${mm.price.toPrecision(4)}` : '') +
        (mm.reclaimKiB > 0 ? ` · reclaiming ${mib(mm.reclaimKiB)} for Dom0` : ''),
    );
    const d = s.dom0;
    out.push(`dom0: allocation ${mib(d.allocationKiB)}, committed ${mib(d.committedKiB)}, goal ${d.goalKiB === null ? '-' : mib(d.goalKiB)}, target ${d.targetKiB === null ? '-' : mib(d.targetKiB)}, bounds [${mib(d.minKiB)}, ${mib(d.maxKiB)}]`);
  }
  const head = ['GUEST', 'DOMID', 'STATE', 'MODE', 'ALLOC', 'TARGET', 'GOAL', 'COMMIT', 'FREE', 'MIN', 'MAX', 'REPORT', 'PRESSURE'];
  const rows = s.guests.map((g) => [
    g.id,
    String(g.domid),
    g.state + (g.unmanagedReason ? `(${g.unmanagedReason})` : ''),
    g.mode ?? '-',
    m(g.allocationKiB),
    m(g.targetKiB),
    m(g.goalKiB),
    m(g.committedKiB),
    m(g.freeKiB),
    m(g.minKiB),
    m(g.maxKiB),
    age(g.lastReportAgeMs),
    pressureText(g.pressure),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i >= 4 && i <= 10 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  out.push('', line(head), ...rows.map(line));
  if (s.guests.length === 0) out.push('(no guests)');
  out.push('', 'memory in MiB; REPORT: time since the agent last reported; PRESSURE: PSI some/full avg10, MemAvailable, major faults');
  return out.join('\n');
}
