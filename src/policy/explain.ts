// Why memcoop's policy decided what it did, as text: decide() is run once with its trace on
// (trace.ts, decide-trace.ts) and this file only renders that trace, so the explanation is
// decide's own figures and cannot drift from the policy. Each rule beyond the paper (rules.ts)
// gets its sentence exactly when it acted, naming the rule. `memcoop explain` and
// `memcoop replay --explain` print the same text.
import { decide } from './decide.ts';
import { IDLE_FREE_MARGIN_KIB, PSI_PAGING_HUNDREDTHS, SHORT_FREE_KIB, SWAPIN_PAGING_KIB, WORKING_ROOM_KIB } from './pressure.ts';
import { MIN_STEP_KIB } from './steps.ts';
import type { DecisionTrace, GoalSource, GuestTrace, Regime, RegimeTest } from './trace.ts';
import type { DecideInput, Decision, PolicyParams } from './types.ts';

export type { Regime } from './trace.ts';

export interface Explanation {
  params: PolicyParams;
  /** The decision, without its trace. */
  decision: Decision;
  /** decide's own figures for it. */
  trace: DecisionTrace;
  /** Lines the caller added per guest (the supervisor's rules around the policy: the deadband). */
  notes?: Record<string, string[]>;
}

/** decide(input) with its trace; pure. */
export function explainDecision(input: DecideInput): Explanation {
  const { trace, ...decision } = decide({ ...input, trace: true });
  return { params: input.params, decision, trace: trace! };
}

/** The explanation restricted to one guest (its decision and trace entries only). */
export function forGuest(e: Explanation, id: string): Explanation {
  const { notes: _, ...rest } = e;
  return {
    ...rest,
    decision: { ...e.decision, guests: e.decision.guests.filter((g) => g.id === id) },
    trace: { ...e.trace, guests: e.trace.guests.filter((g) => g.id === id) },
    ...(e.notes?.[id] !== undefined && { notes: { [id]: e.notes[id] } }),
  };
}

/**
 * KiB as MiB for people: one decimal, exact when whole. Never a whole-looking number that is not
 * whole: under 1 MiB it says KiB, and a value one decimal would round to a whole MiB gets three
 * (a page is 0.004 MiB), so "112.0" never stands for 111.996 beside a written 112.
 */
export function mib(kib: number): string {
  const m = kib / 1024;
  if (Number.isInteger(m)) return `${m} MiB`;
  if (Math.abs(kib) < 1024) return `${kib} KiB`;
  const one = m.toFixed(1);
  return one.endsWith('.0') ? `${m.toFixed(3)} MiB` : `${one} MiB`;
}

function regimeLine(regime: Regime, t: RegimeTest): string {
  switch (t.kind) {
    case 'free vs need': {
      const ok = t.freeAfterDom0KiB >= t.guestNeedKiB;
      return `free after Dom0 F' = ${mib(t.freeAfterDom0KiB)} ${ok ? '>=' : '<'} guests' need sum(MC_i - N_i) = ${mib(t.guestNeedKiB)}: ${regime}`;
    }
    case 'Dom0 vs free':
      return t.shortfallKiB <= t.freeableKiB
        ? `Dom0 needs ${mib(t.dom0NeedKiB)} > host free ${mib(t.usableKiB)}: reclaim ${mib(t.shortfallKiB)} <= what the guests can give back ${mib(t.freeableKiB)}`
        : `Dom0 needs ${mib(t.dom0NeedKiB)} > host free ${mib(t.usableKiB)} + what the guests can give back ${mib(t.freeableKiB)} (every guest at its minimum): overcommitted`;
    case 'minimums vs memory':
      return `guests' minimums ${mib(t.sumMinKiB)} > what they hold ${mib(t.sumCurrentKiB)} + free after Dom0 ${mib(t.freeAfterDom0KiB)}: overcommitted`;
  }
}

function goalLine(g: GuestTrace): string {
  const sources: Record<GoalSource, () => string> = {
    commit: () => 'its Committed_AS (abundant: self adjustment toward what it committed)',
    'commit at min': () => `its minimum L_i (abundant: Committed_AS ${mib(g.committedKiB)} is below it)`,
    'commit at max': () => `its maximum H_i (abundant: Committed_AS ${mib(g.committedKiB)} is above it)`,
    room: () =>
      `its commit within its bounds, MC_i ${mib(g.mcKiB)}, + ${mib(g.leftoverKiB)} of what abundance left over` +
      (g.yieldKiB > 0 ? ` + ${mib(g.yieldKiB)} that guests not paging gave (idleYield)` : ''),
    'idle yield': () =>
      `its commit MC_i ${mib(g.mcKiB)} less ${mib(-g.yieldKiB)} given to paging guests: it is not paging, and keeps what it uses (N_i less MemAvailable) + ${mib(WORKING_ROOM_KIB)} (idleYield)`,
    price: () => 'the equal-price share (inside its bounds)',
    min: () => 'its minimum L_i',
    'short hold': () => `what it has: it is short, and the scarce balance does not lower a short guest (shortHold)`,
    'commit cap': () => `its commit cap MC_i (commitCap: no guest gets more than it has committed)`,
    'room cap': () => `its working-room cap (workingRoom)`,
    max: () => 'its maximum H_i',
    overcommitted: () => 'its minimum L_i (overcommitted: every guest at its minimum)',
    held: () => 'held where it is (no agent, or a silent one: outside the balance)',
  };
  return `  goal ${mib(g.goalKiB)}: ${sources[g.goalFrom]()}`;
}

function pagingLine(g: GuestTrace): string | null {
  const p = g.paging;
  if (p === null) return null;
  const why =
    p.by === 'swap-ins'
      ? `swapped in ${mib(p.swapInsKiB!)} since its last report (>= ${mib(SWAPIN_PAGING_KIB)})`
      : `PSI memory some avg10 ${(p.psiSomeAvg10! / 100).toFixed(2)} % (>= ${PSI_PAGING_HUNDREDTHS / 100} %)`;
  const short = p.short ? `; short: MemFree ${mib(g.freeKiB)} < ${mib(SHORT_FREE_KIB)}` : '';
  return `  paging: ${why}${short}`;
}

/** The working-room sentence, only where the room moved the goal or the cap above MC_i. */
function roomLine(g: GuestTrace, inBalance: boolean): string | null {
  const uses = `what it uses ${mib(g.activeKiB)} + ${mib(WORKING_ROOM_KIB)}`;
  if (g.goalFrom === 'room') return `  working room: abundance's leftover goes to ${g.paging !== null ? 'paging guests first, then ' : ''}every guest in proportion to its goal, each up to ${uses} = ${mib(g.roomKiB)} (workingRoom)`;
  if (inBalance && g.capFrom === 'room') {
    return `  working room: paging, so its cap in the balance is ${uses} = ${mib(g.roomKiB)}, above its commit ${mib(g.mcKiB)} (workingRoom)`;
  }
  return null;
}

function priceLine(g: GuestTrace, params: PolicyParams): string | null {
  const p = g.price;
  if (p === null) return null;
  const share = p.shareKiB === null ? 'no t' : mib(p.shareKiB);
  const capName = { max: 'H_i', commit: 'MC_i', room: 'used + room' }[g.capFrom];
  const floorName = p.floorKiB > g.minKiB ? 'what it has' : 'L_i';
  return (
    `  price terms: tau*A_i = ${params.tau}*${mib(g.activeKiB)} = ${mib(p.tauActiveKiB)}; ` +
    `c_i = S_i*((1-tau)+eps*swapUsed) = ${p.shares}*(${(1 - params.tau).toFixed(2)}+${params.eps}*${p.swapUsed.toFixed(3)}) = ${p.weight.toPrecision(4)}; ` +
    `tau*A_i + c_i*t = ${share}, clamped to [${floorName} ${mib(p.floorKiB)}, ${capName} ${mib(g.capKiB)}] = ${mib(p.balancedKiB)}` +
    (p.bonusKiB >= 1 ? ` + bonus ${mib(p.bonusKiB)}` : '')
  );
}

function stepLines(g: GuestTrace): string[] {
  const s = g.step;
  const out: string[] = [];
  const gap = Math.abs(g.goalKiB - g.currentKiB);
  switch (s.limit) {
    case 'at goal':
      out.push('  step: none (at its goal)');
      break;
    case 'over max':
      out.push(`  step: above its maximum, brought down to ${mib(s.stepKiB)} at once`);
      break;
    case 'snap':
      out.push(`  step: the gap ${mib(gap)} is under a page: to the goal at once`);
      break;
    case 'reserve first':
      out.push(`  step: none: the host is below its reserve, which would swallow what this decrease frees for another guest (reserveFirst)`);
      break;
    default: {
      const dir = s.stepKiB > g.currentKiB ? 'up' : 'down';
      const by = {
        ratio: `gap/${s.ratio} (Algorithm 2)`,
        'min step': `the minimum step ${mib(MIN_STEP_KIB)} (minStep: gap/${s.ratio} is less)`,
        'whole gap': `the whole gap (minStep: under the ${mib(MIN_STEP_KIB)} minimum)`,
      }[s.limit];
      out.push(`  step: ${dir} ${mib(Math.abs(s.stepKiB - g.currentKiB))} by ${by} to ${mib(s.stepKiB)}`);
    }
  }
  if (s.idleFirstKiB !== null) {
    out.push(`  idle memory first: a guest is short, so this decrease takes its free memory beyond ${mib(IDLE_FREE_MARGIN_KIB)} (${mib(s.idleFirstKiB)}) at once, not past its goal (idleFirst)`);
  }
  if (s.pendingKiB > 0) {
    out.push(
      s.pendingKept
        ? `  in flight: an increase of ${mib(s.pendingKiB)} written earlier and not yet reached is already paid for; only the growth beyond it is asked`
        : `  in flight: an increase of ${mib(s.pendingKiB)} written earlier is replaced by this lower step; its memory is not spoken for`,
    );
  }
  if (s.heldBackKiB > 0) {
    out.push(`  two-phase: granted ${mib(s.grantedKiB)} of ${mib(s.wantedKiB)} (${mib(s.heldBackKiB)} held back until this tick's decreases have landed)`);
  }
  out.push(`  target ${mib(g.targetKiB)}`);
  return out;
}

/**
 * The explanation as text, one guest or all; each line says one reason. notes: lines the caller
 * adds to a guest's part (the supervisor's own rules around the policy, e.g. the write deadband).
 */
export function formatExplanation(e: Explanation, guest?: string, notes: Readonly<Record<string, readonly string[]>> = {}): string {
  const t = e.trace;
  const d0 = t.dom0;
  const out: string[] = [];
  out.push(`regime: ${t.regime}  (${regimeLine(t.regime, t.test)})`);
  const served = {
    free: d0.needKiB < 0 ? `; it gives back ${mib(-d0.needKiB)}` : `; served from host free`,
    reclaim: `; reclaiming ${mib(d0.reclaimKiB)} from the guests`,
    'in part': `; only ${mib(d0.goalKiB - d0.currentKiB)} of it can be served (the guests at their minimums give back ${mib(d0.reclaimKiB)})`,
  }[d0.servedBy];
  out.push(
    `host: free ${mib(t.host.freeKiB)} - reserve ${mib(t.host.reserveKiB)} = ${mib(t.host.usableKiB)} usable; ` +
      `Dom0 ${mib(d0.currentKiB)} wants clamp(Committed_AS ${mib(d0.committedKiB)}, ${mib(d0.minKiB)}, ${mib(d0.maxKiB)}) = ${mib(d0.wantKiB)}` +
      served,
  );
  out.push(
    `Dom0: goal ${mib(d0.goalKiB)}, target ${mib(d0.targetKiB)}` +
      (d0.heldBackKiB > 0 ? ` (${mib(d0.heldBackKiB)} held back: only ${mib(t.twoPhase.usableKiB - t.twoPhase.pendingPaidKiB)} free now; the guests' decreases land first)` : ''),
  );
  if (t.price !== null) {
    out.push(
      `price: 1/t = ${t.price.toPrecision(6)} (t = ${t.t!.toPrecision(6)}); tau = ${e.params.tau}, eps = ${e.params.eps}; ` +
        `balance total M = ${mib(t.balanceKiB!)}, bonus ${mib(t.bonusKiB!)} handed out under the caps`,
    );
  } else if (t.regime === 'scarce' || t.regime === 'reclaiming for Dom0') {
    out.push('price: none (no guest sits between its bounds, so no common price was needed)');
  } else if (t.leftoverKiB !== null && t.leftoverKiB > 0) {
    out.push(`leftover: ${mib(t.leftoverKiB)} free after Dom0 and every guest's commit`);
  }
  out.push(
    `two-phase: ${mib(t.twoPhase.usableKiB)} free now` +
      (t.twoPhase.pendingPaidKiB > 0 ? ` - ${mib(t.twoPhase.pendingPaidKiB)} for increases in flight` : '') +
      `; Dom0 granted ${mib(t.twoPhase.dom0GrantKiB)}, ${mib(t.twoPhase.budgetKiB)} left for the guests; ` +
      `guests asked ${mib(t.twoPhase.wantedKiB)}, granted ${mib(t.twoPhase.grantedKiB)}`,
  );
  if (t.rulesOff.length > 0) out.push(`rules off: ${t.rulesOff.join(', ')}`);
  const inBalance = t.balanceKiB !== null;
  const guests = guest === undefined ? t.guests : t.guests.filter((g) => g.id === guest);
  for (const g of guests) {
    out.push('');
    out.push(`${g.id}: allocation ${mib(g.currentKiB)}, Committed_AS ${mib(g.committedKiB)}, bounds [${mib(g.minKiB)}, ${mib(g.maxKiB)}]`);
    out.push(goalLine(g));
    if (!g.managed) continue;
    for (const line of [pagingLine(g), roomLine(g, inBalance), priceLine(g, e.params)]) if (line !== null) out.push(line);
    out.push(...stepLines(g));
    for (const n of notes[g.id] ?? []) out.push(`  ${n}`);
  }
  if (guest !== undefined && guests.length === 0) out.push('', `no guest ${guest} in this decision`);
  return out.join('\n');
}
