// The simulated host's pure step: state + dtMs -> next state + what happened. Deterministic:
// the same config, the same requests and the same steps give the same states, bit for bit.
import { PROTOCOL_VERSION } from '../../vocabulary/events.ts';
import { agentReportText } from './agent.ts';
import { balloonMove, inflateMs } from './balloon.ts';
import {
  AGENT_REPORT_INTERVAL_MS,
  BALLOON_GIVE_UP_TRIES,
  BALLOON_INFLATE_CPU_SHARE,
  BALLOON_RETRY_MS,
  FAULT_CONTENTION,
  FAULT_NS,
  HOST_SAMPLE_INTERVAL_MS,
  PAGE_TOUCH_NS,
} from './constants.ts';
import { guestMemory, type GuestMemory } from './memory.ts';
import { psiAverage, psiHundredths } from './psi.ts';
import { hostFreeKiB, type BalloonState, type Dom0State, type GuestState, type SimConfig, type SimState } from './state.ts';
import { buildWorkload, type Phase } from './workload.ts';

/** What a step produced, in order; the SimHost turns these into HostEvents. */
export type SimOccurrence =
  | { type: 'appeared'; at: number; id: string }
  | { type: 'hello'; at: number; id: string; protocol: number; selfAdjust: boolean }
  | { type: 'left'; at: number; id: string }
  | { type: 'report'; at: number; id: string; text: string }
  | { type: 'sample'; at: number }
  | { type: 'finished'; at: number; id: string; runtimeMs: number }
  | { type: 'killed'; at: number; id: string };

export interface StepResult {
  state: SimState;
  occurred: SimOccurrence[];
}

function freshBalloon(actualKiB: number): BalloonState {
  return { actualKiB, targetKiB: null, blockedMs: 0, givenUp: false };
}

export function initialState(config: SimConfig): SimState {
  return {
    atMs: 0,
    hostTotalKiB: config.hostTotalKiB,
    dom0: { config: config.dom0, balloon: freshBalloon(config.dom0.initialKiB), committedKiB: dom0Committed(config.dom0, 0) },
    guests: config.guests.map((c) => ({
      config: c,
      phases: buildWorkload(c.workload).phases,
      status: 'pending',
      balloon: freshBalloon(c.initialKiB),
      mode: null,
      protocol: null,
      phaseIndex: 0,
      phaseProgress: 0,
      staleCacheKiB: 0,
      startedAtMs: null,
      finishedAtMs: null,
      killedAtMs: null,
      faults: 0,
      psiSome: 0,
      reportsSent: 0,
      nextReportMs: 0,
    })),
    nextSampleMs: 0,
  };
}

function dom0Committed(c: SimState['dom0']['config'], atMs: number): number {
  let v = c.committedKiB;
  for (const ch of c.changes) if (ch.atMs <= atMs) v = ch.committedKiB;
  return v;
}

export function currentPhase(g: GuestState): Phase | null {
  return g.finishedAtMs === null && g.killedAtMs === null ? (g.phases[g.phaseIndex] ?? null) : null;
}

export function memoryOf(g: GuestState): GuestMemory {
  return guestMemory(g.balloon.actualKiB, currentPhase(g), g.staleCacheKiB, g.config.swapKiB);
}

/** ns per page touch at a miss fraction: the fitted fault model. */
export function touchCostNs(missFraction: number): number {
  return PAGE_TOUCH_NS + missFraction * FAULT_NS * (1 + FAULT_CONTENTION * missFraction);
}

/** Base-free ms a whole phase takes at a miss fraction. */
function phaseMs(p: Phase, miss: number): number {
  return p.cpuMs + (p.touches * touchCostNs(miss)) / 1e6;
}

/** A requested target (the setTarget half): recorded; the balloon follows on later steps. */
export function requestTarget(s: SimState, id: string, targetKiB: number): SimState {
  const rewake = (b: BalloonState): BalloonState =>
    b.targetKiB === targetKiB ? b : { ...b, targetKiB, blockedMs: 0, givenUp: false };
  if (id === DOM0) return { ...s, dom0: { ...s.dom0, balloon: rewake(s.dom0.balloon) } };
  return { ...s, guests: s.guests.map((g) => (g.config.id === id ? { ...g, balloon: rewake(g.balloon) } : g)) };
}

/** The id under which Dom0's balloon is addressed (src/vocabulary/writes.ts DOM0_ID). */
export const DOM0 = 'dom0';

/** Brings in every pending guest whose start time has come, if the host has its initial memory. */
function admit(s: SimState, occurred: SimOccurrence[]): SimState {
  let free = hostFreeKiB(s);
  let changed = false;
  const guests = s.guests.map((g) => {
    if (g.status !== 'pending' || g.config.startMs > s.atMs || g.config.initialKiB > free) return g;
    free -= g.config.initialKiB;
    changed = true;
    occurred.push({ type: 'appeared', at: s.atMs, id: g.config.id });
    if (g.config.agent.kind !== 'none') {
      occurred.push({ type: 'hello', at: s.atMs, id: g.config.id, protocol: PROTOCOL_VERSION, selfAdjust: g.config.selfAdjust });
    }
    const done = g.phases.length === 0;
    return { ...g, status: 'running' as const, startedAtMs: s.atMs, finishedAtMs: done ? s.atMs : null, nextReportMs: s.atMs };
  });
  return changed ? { ...s, guests } : s;
}

/** The first events: guests present at t = 0, and the first reports and sample. */
export function startSim(s: SimState): StepResult {
  const occurred: SimOccurrence[] = [];
  const admitted = admit(s, occurred);
  return emitDue(admitted, occurred);
}

/** Runs a guest's workload for dtMs of wall time, cpuMs of which it gets. */
function runWorkload(g: GuestState, t0: number, dtMs: number, cpuMs: number, occurred: SimOccurrence[]): GuestState {
  if (g.status !== 'running' || g.finishedAtMs !== null || g.killedAtMs !== null) return g;
  let { phaseIndex, phaseProgress, staleCacheKiB, faults } = g;
  let budget = cpuMs;
  let used = 0;
  let stalledCpuMs = 0; // of `used`, the time spent in major faults
  const wallPerCpu = cpuMs > 0 ? dtMs / cpuMs : 0;
  while (budget > 0) {
    const p = g.phases[phaseIndex];
    if (p === undefined) break;
    const m = guestMemory(g.balloon.actualKiB, p, staleCacheKiB, g.config.swapKiB);
    if (m.oom) {
      occurred.push({ type: 'killed', at: t0 + used * wallPerCpu, id: g.config.id });
      return { ...g, phaseIndex, phaseProgress, staleCacheKiB, faults, killedAtMs: t0 + used * wallPerCpu };
    }
    const total = phaseMs(p, m.missFraction);
    const left = (1 - phaseProgress) * total;
    const faultsPerMs = total > 0 ? (p.touches * m.missFraction) / total : 0;
    const stallShare = total > 0 ? (p.touches * (touchCostNs(m.missFraction) - PAGE_TOUCH_NS)) / 1e6 / total : 0;
    if (left <= budget) {
      budget -= left;
      used += left;
      stalledCpuMs += stallShare * left;
      faults += faultsPerMs * left;
      staleCacheKiB = m.staleCacheKiB + m.fileResidentKiB;
      phaseIndex += 1;
      phaseProgress = 0;
    } else {
      phaseProgress += budget / total;
      stalledCpuMs += stallShare * budget;
      faults += faultsPerMs * budget;
      used += budget;
      budget = 0;
    }
  }
  const psiSome = psiAverage(g.psiSome, dtMs > 0 ? Math.min(1, (stalledCpuMs * wallPerCpu) / dtMs) : 0, dtMs);
  let finishedAtMs: number | null = null;
  if (phaseIndex >= g.phases.length) {
    finishedAtMs = t0 + used * wallPerCpu;
    occurred.push({ type: 'finished', at: finishedAtMs, id: g.config.id, runtimeMs: finishedAtMs - (g.startedAtMs ?? 0) });
  }
  return { ...g, phaseIndex, phaseProgress, staleCacheKiB, faults, psiSome, finishedAtMs };
}

function emitDue(s: SimState, occurred: SimOccurrence[]): StepResult {
  const at = s.atMs;
  const guests = s.guests.map((g) => {
    if (g.status !== 'running' || g.nextReportMs > at) return g;
    const text = agentReportText(g.config.agent, g.reportsSent, g.balloon.actualKiB, memoryOf(g), g.config.swapKiB, psiHundredths(g.psiSome));
    const next = { ...g, nextReportMs: g.nextReportMs + AGENT_REPORT_INTERVAL_MS };
    if (text === null) return next;
    occurred.push({ type: 'report', at, id: g.config.id, text });
    return { ...next, reportsSent: g.reportsSent + 1 };
  });
  let nextSampleMs = s.nextSampleMs;
  if (nextSampleMs <= at) {
    occurred.push({ type: 'sample', at });
    nextSampleMs += HOST_SAMPLE_INTERVAL_MS;
  }
  return { state: { ...s, guests, nextSampleMs }, occurred };
}

interface Mover {
  balloon: BalloonState;
  shrink: number;
  wantGrow: number;
}

/** Advances the virtual clock by dtMs (> 0). */
export function stepSim(s: SimState, dtMs: number): StepResult {
  if (!(dtMs > 0)) throw new RangeError(`dtMs must be > 0, got ${dtMs}`);
  const t0 = s.atMs;
  const t1 = t0 + dtMs;
  const occurred: SimOccurrence[] = [];

  // Balloons: every shrink first (it frees memory), then growth in order, Dom0 first, each as far
  // as the hypervisor has free pages (it refuses the rest, and the driver counts a failed try).
  const plan = (b: BalloonState, model: GuestState['config']['balloon'], maxKiB: number): Mover => {
    const target = b.targetKiB ?? b.actualKiB;
    if (b.givenUp) return { balloon: b, shrink: 0, wantGrow: 0 };
    const mv = balloonMove(model, b.actualKiB, target, maxKiB, t0, dtMs);
    return { balloon: b, shrink: mv.shrinkKiB, wantGrow: mv.wantGrowKiB };
  };
  const dom0Plan = plan(s.dom0.balloon, { kind: 'ideal' }, s.dom0.config.maxKiB);
  const guestPlans = s.guests.map((g) => (g.status === 'running' ? plan(g.balloon, g.config.balloon, g.config.maxKiB) : null));
  let free = hostFreeKiB(s) + dom0Plan.shrink;
  for (const p of guestPlans) if (p !== null) free += p.shrink;
  const grow = (p: Mover): BalloonState => {
    const got = Math.max(0, Math.min(p.wantGrow, free));
    free -= got;
    let { blockedMs, givenUp } = p.balloon;
    if (got < p.wantGrow) {
      blockedMs += dtMs;
      givenUp = blockedMs >= BALLOON_GIVE_UP_TRIES * BALLOON_RETRY_MS;
    }
    return { ...p.balloon, actualKiB: p.balloon.actualKiB - p.shrink + got, blockedMs, givenUp };
  };
  const dom0: Dom0State = { ...s.dom0, balloon: grow(dom0Plan), committedKiB: dom0Committed(s.dom0.config, t1) };

  const guests = s.guests.map((g, i) => {
    const p = guestPlans[i];
    if (p === null || p === undefined) return g;
    const moved: GuestState = { ...g, balloon: grow(p) };
    // The balloon driver takes CPU while it inflates (constants.ts BALLOON_INFLATE_CPU_SHARE).
    const busy = Math.min(dtMs, inflateMs(g.config.balloon, p.shrink));
    return runWorkload(moved, t0, dtMs, dtMs - BALLOON_INFLATE_CPU_SHARE * busy, occurred);
  });

  // Guests whose time is up leave (their memory goes back to the host); new ones arrive.
  const leaving = guests.map((g) => {
    if (g.status === 'running' && g.config.leaveMs !== null && g.config.leaveMs <= t1) {
      occurred.push({ type: 'left', at: t1, id: g.config.id });
      return { ...g, status: 'left' as const };
    }
    return g;
  });
  const next = admit({ ...s, atMs: t1, dom0, guests: leaving }, occurred);
  return emitDue(next, occurred);
}
