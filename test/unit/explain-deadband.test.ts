// explain names the supervisor's write deadband (src/machines/plan.ts) exactly for the guests whose
// new target the tick's plan left unwritten because it was within the deadband of the target
// already written: the real policy and the real planTick decide, explainTick only reads them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainTick } from '../../src/control/explain-text.ts';
import { newFacts, withFacts, type GuestReport } from '../../src/machines/facts.ts';
import { deadbandOf } from '../../src/machines/handlers.ts';
import { buildDecideInput, planTick, type GuestView, type HostFacts } from '../../src/machines/plan.ts';
import { decide } from '../../src/policy/decide.ts';
import { DEFAULT_SUPERVISOR_CONFIG } from '../../src/vocabulary/config.ts';

const MIB = 1024;
const HOST: HostFacts = { at: 1000, freeKiB: 1024 * MIB, dom0: { currentKiB: 512 * MIB, committedKiB: 512 * MIB } };

/** A participating guest at 256 MiB committing 250 MiB (its step: down to 252 MiB), with a target written earlier. */
function view(id: string, writtenTargetKiB: number): GuestView {
  const base = newFacts({ id, domid: 1, minKiB: 128 * MIB, maxKiB: 512 * MIB, shares: 1, currentKiB: 256 * MIB }, 0);
  const report: GuestReport = { committedKiB: 250 * MIB, freeKiB: 200 * MIB, swapTotalKiB: 0, swapFreeKiB: 0 };
  return { id, state: 'selfAdjusting', participates: true, agentProtocol: 1, facts: withFacts(base, { writtenMode: 'self', touched: true, writtenTargetKiB, report }) };
}

test('a target within the deadband of the written one, left unwritten, is said to be; a written one is not', () => {
  const config = DEFAULT_SUPERVISOR_CONFIG;
  // near: written 252.5 MiB, the new target 252 MiB (0.5 MiB away); far: written 260 MiB.
  const views = [view('near', 252 * MIB + 512), view('far', 260 * MIB)];
  const input = buildDecideInput(config, HOST, views);
  const decision = decide(input);
  assert.deepEqual(decision.guests.map((g) => g.targetKiB), [252 * MIB, 252 * MIB]);
  const plan = planTick(decision, views, HOST, null, deadbandOf(config));
  const writtenIds = plan.writes.flatMap((w) => (w.kind === 'target' ? [w.id] : []));
  assert.ok(!writtenIds.includes('near') && writtenIds.includes('far'), JSON.stringify(plan.writes));
  const r = explainTick(config, { input, reservedKiB: 0, writtenKiB: { near: 252 * MIB + 512, far: 260 * MIB } }, HOST.at, null, plan.writes);
  assert.ok(typeof r !== 'string', String(r));
  const near = r.text.split('\n\n').find((b) => b.startsWith('near: '))!;
  const far = r.text.split('\n\n').find((b) => b.startsWith('far: '))!;
  assert.match(near, /not written: target 252 MiB is within 1 MiB of the target already written, 252\.5 MiB \(deadband\)/);
  assert.doesNotMatch(far, /deadband/);
  // With the deadband switched off nothing says deadband.
  const off = { ...config, params: { ...config.params, rules: { deadband: false } } };
  const r2 = explainTick(off, { input, reservedKiB: 0, writtenKiB: { near: 252 * MIB + 512, far: 260 * MIB } }, HOST.at, null, planTick(decision, views, HOST, null, deadbandOf(off)).writes);
  assert.ok(typeof r2 !== 'string');
  assert.doesNotMatch(r2.text, /deadband\)/);
});
