// TEST HARNESS, not the product runner: drives a SimHost with a Policy called directly once per
// virtual tick (no supervisor, no streams, no smoothing), applies its targets, and checks the
// invariants after every tick. The real runner (`memcoop sim`) puts the supervisor in this loop.
import { DEFAULT_PARAMS } from '../../src/policy/defaults.ts';
import type { DecideInput, GuestInput, Policy } from '../../src/policy/types.ts';
import type { AgentReport, HostSample } from '../../src/machines/events.ts';
import { SimHost, type GuestOutcome } from '../../src/hosts/sim/sim-host.ts';
import { checkInvariants, snapshotOf, type Snapshot, type Violation } from '../../src/hosts/sim/invariants.ts';
import { unsafePolicy } from '../../src/hosts/sim/unsafe.ts';
import type { Scenario } from '../../src/hosts/sim/scenario.ts';
import { DOM0 } from '../../src/hosts/sim/step.ts';

export interface HarnessResult {
  violations: Violation[];
  outcomes: GuestOutcome[];
  ticks: number;
  endMs: number;
  rejectedReports: Map<string, number>;
  /** Allocation of each guest at each tick (for shape assertions). */
  trace: { at: number; alloc: Record<string, number> }[];
}

export async function runWithPolicy(scenario: Scenario, policy: Policy): Promise<HarnessResult> {
  const host = new SimHost(scenario.sim);
  const params = { ...DEFAULT_PARAMS, ...scenario.params };
  const run = unsafePolicy(policy, scenario.unsafe);
  const reports = new Map<string, AgentReport>();
  const present = new Map<string, { minKiB: number; maxKiB: number; shares: number }>();
  let sample: HostSample | null = null;
  host.events$.subscribe((e) => {
    if (e.type === 'agent.report') reports.set(e.id, e);
    else if (e.type === 'host.sample') sample = e;
    else if (e.type === 'guest.appeared') present.set(e.id, { minKiB: e.minKiB, maxKiB: e.maxKiB, shares: e.shares });
    else if (e.type === 'guest.left') {
      present.delete(e.id);
      reports.delete(e.id);
    }
  });
  await host.start();
  const violations: Violation[] = [];
  const trace: HarnessResult['trace'] = [];
  let prev: Snapshot | null = snapshotOf(host.state);
  let ticks = 0;
  while (host.now < scenario.durationMs && !host.allDone()) {
    for (let t = 0; t < scenario.tickMs; t += scenario.stepMs) host.step(scenario.stepMs);
    const s = sample as HostSample | null;
    if (s === null) continue;
    const guests: GuestInput[] = [];
    for (const [id, g] of present) {
      const r = reports.get(id);
      const currentKiB = s.allocations[id];
      if (currentKiB === undefined) continue;
      guests.push({
        id,
        minKiB: g.minKiB,
        maxKiB: g.maxKiB,
        currentKiB,
        committedKiB: r?.committedKiB ?? currentKiB,
        freeKiB: r?.freeKiB ?? 0,
        swapTotalKiB: r?.swapTotalKiB ?? 0,
        swapFreeKiB: r?.swapFreeKiB ?? 0,
        shares: g.shares,
        agent: r !== undefined,
      });
    }
    const d0 = scenario.sim.dom0;
    const input: DecideInput = {
      params,
      host: { freeKiB: s.freeKiB },
      dom0: { currentKiB: s.dom0.currentKiB, committedKiB: s.dom0.committedKiB, minKiB: d0.minKiB, maxKiB: d0.maxKiB },
      guests,
    };
    const decision = run(input);
    // Decreases first, then increases (the order a supervisor issues them in).
    const writes = [
      { id: DOM0, from: s.dom0.currentKiB, to: decision.dom0.targetKiB },
      ...decision.guests.filter((g) => g.mode !== 'held').map((g) => ({ id: g.id, from: s.allocations[g.id] ?? 0, to: g.targetKiB })),
    ].sort((a, b) => Math.sign(a.to - a.from) - Math.sign(b.to - b.from));
    for (const w of writes) {
      const current = w.id === DOM0 ? host.state.dom0.balloon.targetKiB : host.state.guests.find((g) => g.config.id === w.id)?.balloon.targetKiB;
      if (current !== w.to) await host.setTarget(w.id, w.to);
    }
    const cur = snapshotOf(host.state);
    violations.push(...checkInvariants(prev, cur, { reserveKiB: params.reserveKiB }));
    prev = cur;
    ticks += 1;
    trace.push({ at: host.now, alloc: Object.fromEntries(cur.guests.map((g) => [g.id, g.actualKiB])) });
  }
  await host.close();
  return { violations, outcomes: host.outcomes(), ticks, endMs: host.now, rejectedReports: host.rejectedReports, trace };
}
