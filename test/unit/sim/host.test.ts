// SimHost and the pure step: virtual time only, the Host events with their `at`, host free as
// total - Dom0 - what balloons reached, balloon models, lying agents through the real parser,
// and the memory model's Committed_AS and swap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HostEvent } from '../../../src/hosts/host.ts';
import { SimHost } from '../../../src/hosts/sim/sim-host.ts';
import { balloonMove, movingMs } from '../../../src/hosts/sim/balloon.ts';
import { guestMemory } from '../../../src/hosts/sim/memory.ts';
import { GUEST_OVERHEAD_KIB, COMMIT_BASELINE_KIB } from '../../../src/hosts/sim/constants.ts';
import type { GuestConfig, SimConfig } from '../../../src/hosts/sim/state.ts';
import { GARBAGE_TEXTS } from '../../../src/hosts/sim/agent.ts';
import { reportFromMeminfo } from '../../../src/vocabulary/meminfo.ts';

const M = 1024;
function guest(id: string, over: Partial<GuestConfig> = {}): GuestConfig {
  return {
    id, domid: 1, minKiB: 128 * M, maxKiB: 512 * M, initialKiB: 256 * M, swapKiB: 512 * M, shares: 1, selfAdjust: true,
    agent: { kind: 'honest' }, balloon: { kind: 'ideal' },
    workload: { kind: 'mono', lowMiB: 32, highMiB: 128, stepMiB: 32, passes: 2 }, startMs: 0, leaveMs: null, ...over,
  };
}
function config(guests: GuestConfig[]): SimConfig {
  return { hostTotalKiB: 1024 * M, dom0: { initialKiB: 256 * M, minKiB: 256 * M, maxKiB: 512 * M, committedKiB: 200 * M, changes: [{ atMs: 3000, committedKiB: 300 * M }] }, guests };
}

test('events carry the virtual clock; time moves only by step()', async () => {
  const h = new SimHost(config([guest('a'), guest('b', { domid: 2, agent: { kind: 'none' } })]));
  const seen: HostEvent[] = [];
  h.events$.subscribe((e) => seen.push(e));
  await h.start();
  assert.deepEqual(seen.map((e) => `${e.type}@${e.at}`), ['guest.appeared@0', 'agent.hello@0', 'guest.appeared@0', 'agent.report@0', 'host.sample@0']);
  seen.splice(0);
  h.step(500);
  assert.equal(h.now, 500);
  assert.equal(seen.length, 0);
  h.step(500);
  assert.deepEqual(seen.map((e) => `${e.type}@${e.at}`), ['agent.report@1000', 'host.sample@1000']);
  const sample = seen.find((e) => e.type === 'host.sample');
  assert.ok(sample?.type === 'host.sample');
  assert.equal(sample.freeKiB, 1024 * M - 256 * M - 2 * 256 * M);
  await h.close();
});

test('host free follows what the balloons reached, not the targets; Dom0 committed rises on schedule', async () => {
  const h = new SimHost(config([guest('a'), guest('b', { domid: 2, balloon: { kind: 'stuck' } })]));
  await h.start();
  await h.setTarget('a', 192 * M);
  await h.setTarget('b', 192 * M);
  let sample: HostEvent | undefined;
  h.events$.subscribe((e) => { if (e.type === 'host.sample') sample = e; });
  for (let i = 0; i < 30; i++) h.step(100);
  assert.ok(sample?.type === 'host.sample');
  assert.equal(sample.allocations.a, 192 * M);
  assert.equal(sample.allocations.b, 256 * M, 'a stuck balloon does not move');
  assert.equal(sample.freeKiB, 1024 * M - 256 * M - 192 * M - 256 * M);
  assert.equal(sample.dom0.committedKiB, 300 * M);
  await assert.rejects(h.setTarget('nope', 1), /no such guest/);
});

test('growth is limited by host free memory; the balloon gives up after five failed seconds', async () => {
  const h = new SimHost({ ...config([guest('a'), guest('b', { domid: 2 })]), hostTotalKiB: 800 * M });
  await h.start();
  await h.setTarget('a', 512 * M); // only 32 MiB free
  for (let i = 0; i < 80; i++) h.step(100);
  const a = h.state.guests[0]!.balloon;
  assert.equal(a.actualKiB, 288 * M);
  assert.equal(a.givenUp, true);
  await h.setTarget('b', 128 * M); // frees 128 MiB, but a has given up
  for (let i = 0; i < 30; i++) h.step(100);
  assert.equal(h.state.guests[0]!.balloon.actualKiB, 288 * M);
  await h.setTarget('a', 500 * M); // a new target wakes it
  for (let i = 0; i < 30; i++) h.step(100);
  assert.equal(h.state.guests[0]!.balloon.actualKiB, 416 * M);
});

test('balloon models: hidden floor and ceiling, stuck, intermittent windows deterministic by seed', () => {
  assert.equal(balloonMove({ kind: 'floor', floorKiB: 300 * M }, 320 * M, 128 * M, 512 * M, 0, 10_000).shrinkKiB, 20 * M);
  assert.equal(balloonMove({ kind: 'ceiling', ceilingKiB: 300 * M }, 256 * M, 512 * M, 512 * M, 0, 10_000).wantGrowKiB, 44 * M);
  assert.deepEqual(balloonMove({ kind: 'stuck' }, 256 * M, 128 * M, 512 * M, 0, 10_000), { shrinkKiB: 0, wantGrowKiB: 0 });
  const model = { kind: 'intermittent' as const, windowMs: 1000, movingShare: 0.3, seed: 3 };
  const windows = Array.from({ length: 100 }, (_, i) => movingMs(model, i * 1000, 1000));
  assert.deepEqual(windows, Array.from({ length: 100 }, (_, i) => movingMs(model, i * 1000, 1000)));
  const moving = windows.filter((w) => w === 1000).length;
  assert.ok(moving > 15 && moving < 45, `${moving} of 100 windows moving at share 0.3`);
  assert.ok(windows.every((w) => w === 0 || w === 1000));
});

test('lying agents: inflated reports parse and overstate; garbage is rejected by the real parser', async () => {
  for (const t of GARBAGE_TEXTS) assert.throws(() => reportFromMeminfo(t));
  const guests = [guest('a'), guest('b', { domid: 2, agent: { kind: 'inflated', factor: 3 } }), guest('c', { domid: 3, agent: { kind: 'garbage', every: 1 } })];
  const h = new SimHost({ ...config(guests), hostTotalKiB: 2048 * M });
  const reports = new Map<string, number>();
  h.events$.subscribe((e) => { if (e.type === 'agent.report') reports.set(e.id, e.committedKiB); });
  await h.start();
  for (let i = 0; i < 5; i++) h.step(1000);
  assert.equal(reports.get('b'), 3 * (reports.get('a') ?? 0));
  assert.equal(reports.has('c'), false);
  assert.equal(h.rejectedReports.get('c'), 6);
});

test('memory model: Committed_AS overstates the working set; overflow goes to swap and slows touches', () => {
  const phase = { label: 'p', anonKiB: 200 * M, fileKiB: 0, reservedKiB: 0, touches: 1, cpuMs: 0 };
  const roomy = guestMemory(512 * M, phase, 0, 512 * M);
  assert.equal(roomy.swapUsedKiB, 0);
  assert.equal(roomy.missFraction, 0);
  assert.ok(roomy.committedKiB > 200 * M + COMMIT_BASELINE_KIB - 1);
  const tight = guestMemory(256 * M, phase, 0, 512 * M);
  assert.equal(tight.anonResidentKiB, 256 * M - GUEST_OVERHEAD_KIB);
  assert.equal(tight.swapUsedKiB, 200 * M - (256 * M - GUEST_OVERHEAD_KIB));
  assert.equal(tight.committedKiB, roomy.committedKiB, 'committed does not depend on the allocation');
  assert.ok(tight.missFraction > 0.15);
  assert.equal(guestMemory(128 * M, { ...phase, anonKiB: 700 * M }, 0, 512 * M).oom, true);
});
