// The live per-guest table of `memcoop sim`: on a terminal it is redrawn in place (cursor up,
// clear line); elsewhere (a pipe, a log, CI) one plain line is printed every so many virtual
// seconds instead. The text is built by pure functions so tests can read it.
import type { GuestTick, TickRecord } from './runner.ts';
import { MIB } from '../vocabulary/units.ts';

/** Redraws closer together than this (wall ms) are skipped: a terminal need not repaint 30 times a second. */
export const REDRAW_MIN_MS = 100;
/** Without a terminal, a line every this many virtual seconds. */
export const PLAIN_EVERY_S = 60;

const mib = (kib: number | null): string => (kib === null ? '-' : String(Math.round(kib / MIB)));

const COLUMNS: readonly [string, number, (g: GuestTick) => string][] = [
  ['guest', 6, (g) => g.id],
  ['state', 18, (g) => g.machine ?? '-'],
  ['mode', 7, (g) => g.mode ?? '-'],
  ['alloc', 6, (g) => mib(g.actualKiB)],
  ['committed', 9, (g) => mib(g.committedKiB)],
  ['goal', 6, (g) => mib(g.goalKiB)],
  ['target', 6, (g) => mib(g.targetKiB)],
  ['work set', 8, (g) => (g.done ? '-' : mib(g.workingSetKiB))],
  ['phase', 0, (g) => (g.done ? 'done' : (g.phase ?? '-'))],
];

const cell = (s: string, w: number, i: number): string => (w === 0 ? s : i < 3 ? s.padEnd(w) : s.padStart(w));

/** The header line of the table: where the run is and what the host looks like. */
export function statusLine(scenario: string, policy: string, rec: TickRecord, note = ''): string {
  const d = rec.dom0;
  return (
    `memcoop sim ${scenario} · policy ${policy} · t=${Math.round(rec.at / 1000)} s${note} · ${rec.state ?? 'starting'}` +
    ` · host free ${mib(rec.hostFreeKiB)} MiB · Dom0 ${mib(d.actualKiB)} MiB (committed ${mib(d.committedKiB)})`
  );
}

/** The table (MiB), header first. */
export function tableLines(rec: TickRecord): string[] {
  const head = COLUMNS.map(([name, w], i) => cell(name, w, i)).join('  ');
  const rows = rec.guests.map((g) => COLUMNS.map(([, w, f], i) => cell(f(g), w, i)).join('  '));
  return [head + '   (MiB)', ...rows];
}

/** One plain line for a log: t, state, and per guest mode alloc/committed/goal. */
export function plainLine(rec: TickRecord): string {
  const gs = rec.guests.map((g) => `${g.id} ${g.done ? 'done' : (g.mode ?? '-')} ${mib(g.actualKiB)}/${mib(g.committedKiB)}/${mib(g.goalKiB)}`);
  return `t=${Math.round(rec.at / 1000)}s ${rec.state ?? 'starting'} dom0 ${mib(rec.dom0.actualKiB)}  ${gs.join('  ')}  (alloc/committed/goal MiB)`;
}

export interface LiveTableOptions {
  scenario: string;
  policy: string;
  /** Redraw in place (a terminal) or print plain periodic lines. */
  tty: boolean;
  write: (s: string) => void;
  /** Wall clock for the redraw rate (the shell's; injectable for tests). */
  nowMs?: () => number;
  /** Shown after the time, e.g. " (x30)". */
  note?: string;
}

export class LiveTable {
  private drawn = 0;
  private lastDraw = -Infinity;
  private nextPlainS = 0;
  private last: TickRecord | null = null;

  constructor(private readonly o: LiveTableOptions) {}

  update(rec: TickRecord): void {
    this.last = rec;
    if (!this.o.tty) {
      if (rec.at / 1000 >= this.nextPlainS) {
        this.o.write(plainLine(rec) + '\n');
        this.nextPlainS = Math.floor(rec.at / 1000 / PLAIN_EVERY_S) * PLAIN_EVERY_S + PLAIN_EVERY_S;
      }
      return;
    }
    const now = (this.o.nowMs ?? Date.now)();
    if (now - this.lastDraw < REDRAW_MIN_MS) return;
    this.lastDraw = now;
    this.draw(rec);
  }

  /** Draws the last state once more (so the final table is on screen), or prints the last plain line. */
  finish(): void {
    if (this.last === null) return;
    if (this.o.tty) this.draw(this.last);
    else this.o.write(plainLine(this.last) + '\n');
  }

  private draw(rec: TickRecord): void {
    const lines = [statusLine(this.o.scenario, this.o.policy, rec, this.o.note ?? ''), ...tableLines(rec)];
    // Up over what was drawn last time, then each line cleared and rewritten; lines left over
    // from a longer table (a guest left) are cleared too.
    let s = this.drawn > 0 ? `\x1b[${this.drawn}F` : '';
    for (const l of lines) s += `\x1b[2K${l}\n`;
    for (let i = lines.length; i < this.drawn; i++) s += '\x1b[2K\n';
    this.o.write(s);
    this.drawn = Math.max(lines.length, this.drawn);
  }
}
