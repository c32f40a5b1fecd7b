// Balloon lag on real guests, from two clocks of one host: the daemon's 'target written' debug
// lines (pino JSON, `time` in ms) and the BALLOON_CHANGE events QEMU sends on the bench's own
// observer QMP monitor. A write has landed when its guest's balloon stops moving: the last
// BALLOON_CHANGE after the write and before the guest's next write, with no further change for
// SETTLED_MS. A write the next one overtook while the balloon still moved is counted, not timed.

/** A balloon quiet this long after its last change has stopped (QEMU reports a moving balloon
 * several times a second; the guest driver works in 1 s rounds at most, measured here). */
export const SETTLED_MS = 1500;

export interface TargetWrite { guest: string; at: number; targetKiB: number }
export interface BalloonChange { guest: string; at: number; actualKiB: number }

export interface LagSummary {
  /** Writes whose balloon moved and settled before the next write: ms from write to last change. */
  landedMs: number[];
  /** Writes overtaken by the next write to the same guest while the balloon still moved. */
  overtaken: number;
  /** Writes after which the balloon did not move (within the deadband, or already there). */
  unmoved: number;
}

export function balloonLag(writes: TargetWrite[], changes: BalloonChange[]): LagSummary {
  const out: LagSummary = { landedMs: [], overtaken: 0, unmoved: 0 };
  const byGuest = new Map<string, TargetWrite[]>();
  for (const w of writes) byGuest.set(w.guest, [...(byGuest.get(w.guest) ?? []), w]);
  for (const [guest, ws] of byGuest) {
    ws.sort((a, b) => a.at - b.at);
    const cs = changes.filter((c) => c.guest === guest).sort((a, b) => a.at - b.at);
    ws.forEach((w, i) => {
      const next = ws[i + 1]?.at ?? Infinity;
      const within = cs.filter((c) => c.at > w.at && c.at < next);
      if (within.length === 0) { out.unmoved++; return; }
      const last = within[within.length - 1]!;
      if (next !== Infinity && next - last.at < SETTLED_MS) out.overtaken++;
      else out.landedMs.push(last.at - w.at);
    });
  }
  return out;
}

/** Reads the daemon's pino lines: target writes by guest name (domid mapped through 'guest found'). */
export function targetWritesFromLog(log: string): TargetWrite[] {
  const names = new Map<number, string>();
  const writes: TargetWrite[] = [];
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    let o: Record<string, unknown>;
    try { o = JSON.parse(line) as Record<string, unknown>; } catch { continue; }
    if (typeof o.guest === 'string' && typeof o.domid === 'number') names.set(o.domid, o.guest);
    if (o.msg === 'target written' && typeof o.domid === 'number' && typeof o.time === 'number' && typeof o.targetKiB === 'number') {
      writes.push({ guest: names.get(o.domid) ?? `domid-${o.domid}`, at: o.time, targetKiB: o.targetKiB });
    }
  }
  return writes;
}
