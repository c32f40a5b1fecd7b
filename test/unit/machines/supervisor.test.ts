// The supervisor on a SimulatedClock, with the paper's policy unless a test says otherwise, and
// effects recorded instead of written.
import { MIN_TARGET_CHANGE_KIB } from '../../../src/machines/plan.ts';
import { DEFAULT_PARAMS } from '../../../src/policy/defaults.ts';
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decide } from '../../../src/policy/decide.ts';
import type { DecideInput, Decision, Policy } from '../../../src/policy/types.ts';
import { createActor, type Snapshot } from 'xstate';
import { guestStateName, type GuestSnapshot } from '../../../src/machines/guest.ts';
import { createSupervisorMachine, guestSystemId } from '../../../src/machines/supervisor.ts';
import { DOM0_ID, type Write } from '../../../src/vocabulary/writes.ts';
import { MIB, Run, assertPlainJson, capturingLogger, type Effect } from './harness.ts';

// The protocol tests run the shipped policy and hold balloons still (samples report the same
// sizes). While memory is abundant the working room (src/policy/pressure.ts) gives a guest up to
// what it uses plus 64 MiB, so a guest meant to sit still reports ROOMY free memory: its room is
// then exactly its commit, and nothing moves.
const CONFIG = {
  silenceTicks: 3,
  stuckTicks: 3,
  stuckRetryTicks: 5,
  dom0: { minKiB: 256 * MIB, maxKiB: 2048 * MIB },
  params: { ...DEFAULT_PARAMS },
};
/** MemFree at which a guest's working room (used + 64 MiB, pressure.ts WORKING_ROOM_KIB) equals its allocation. */
const ROOMY = 64 * MIB;
const DOM0 = { currentKiB: 512 * MIB, committedKiB: 512 * MIB };

/** Two registered, reporting guests a (domid 1) and b (domid 2) at 512 MiB each. */
function twoGuests(run: Run, prefs: [boolean, boolean] = [true, true]): void {
  run.appear('a', 1);
  run.appear('b', 2);
  run.hello('a', prefs[0]);
  run.hello('b', prefs[1]);
}

const modes = (effects: Effect[]) => effects.filter((e) => e.kind === 'mode').map((e) => e.kind === 'mode' && `${e.id}=${e.mode}`);

describe('supervisor: the handshake', () => {
  test("answers with the agent's preference and moves the guest there", () => {
    const run = new Run({ config: CONFIG });
    twoGuests(run, [true, false]);
    assert.deepEqual(run.effects, [
      { kind: 'mode', id: 'a', mode: 'self', protocol: 1 },
      { kind: 'mode', id: 'b', mode: 'global', protocol: 1 },
    ]);
    assert.equal(run.state('a'), 'selfAdjusting');
    assert.equal(run.state('b'), 'globallyControlled');
    assert.deepEqual(run.handshakes.map((h) => [h.id, h.accepted, h.mode]), [['a', true, 'self'], ['b', true, 'global']]);
  });

  test('an unsupported protocol version leaves the guest unmanaged, told so, and logged', () => {
    const cap = capturingLogger();
    const run = new Run({ config: CONFIG, logger: cap.logger });
    run.appear('a', 4);
    run.hello('a', true, 2);
    assert.equal(run.state('a'), 'unmanaged');
    assert.deepEqual(run.effects, [{ kind: 'mode', id: 'a', mode: 'held', protocol: 1 }]);
    const line = cap.lines.find((l) => String(l.msg).includes('unsupported protocol'));
    assert.ok(line, 'a log line says why');
    assert.equal(line.domid, 4);
    assert.equal(line.protocol, 2);
  });

  test('from then on only the supervisor changes the mode', () => {
    const run = new Run({ config: CONFIG });
    twoGuests(run, [true, true]);
    // Scarce: both want more than the host has free.
    run.report('a', 900 * MIB);
    run.report('b', 800 * MIB);
    run.sample(0, DOM0, { a: 512 * MIB, b: 512 * MIB });
    const before = run.effects.length;
    run.tick();
    assert.equal(run.decisions.at(-1)?.decision.state, 'scarce');
    assert.deepEqual(modes(run.since(before)), ['a=global', 'b=global']);
    assert.equal(run.state('a'), 'globallyControlled');
    // The agent restarts and prefers self adjustment again: it is told the mode it has.
    const hello = run.effects.length;
    run.hello('a', true);
    assert.deepEqual(run.since(hello), [{ kind: 'mode', id: 'a', mode: 'global', protocol: 1 }]);
    assert.equal(run.state('a'), 'globallyControlled');
    // Reports do not move it either; the next scarce tick leaves it where it is, with no mode write.
    run.report('a', 100 * MIB);
    assert.equal(run.state('a'), 'globallyControlled');
    run.report('a', 900 * MIB);
    run.report('b', 800 * MIB);
    const quiet = run.effects.length;
    run.sample(0, DOM0, { a: 512 * MIB, b: 512 * MIB });
    run.tick();
    assert.deepEqual(modes(run.since(quiet)), []);
  });
});

describe('supervisor: each tick', () => {
  test('a silent agent makes its guest unmanaged after silenceTicks; it is then held and told so', () => {
    const seen: DecideInput[] = [];
    const spy: Policy = (input) => (seen.push(input), decide(input));
    const run = new Run({ config: CONFIG, policy: spy });
    twoGuests(run);
    for (let t = 0; t < CONFIG.silenceTicks; t++) {
      run.report('a', 512 * MIB, ROOMY); // only a's agent reports (and a sits at its commit: no balloon moves)
      run.sample(4096 * MIB, DOM0, { a: 512 * MIB, b: 512 * MIB });
      run.tick();
    }
    assert.equal(run.state('a'), 'selfAdjusting');
    assert.equal(run.state('b'), 'unmanaged');
    const before = run.effects.length;
    run.report('a', 512 * MIB, ROOMY);
    run.tick();
    assert.deepEqual(seen.at(-1)!.guests.map((g) => [g.id, g.agent]), [['a', true], ['b', false]]);
    assert.equal(run.decisions.at(-1)!.decision.guests.find((g) => g.id === 'b')!.mode, 'held');
    assert.deepEqual(modes(run.since(before)), ['b=held']);
    assert.ok(!run.since(before).some((e) => e.kind === 'target' && e.id === 'b'), 'b was never managed: its target is left alone');
    // Its agent comes back: managed again, in the mode it had, and told so on the next tick.
    run.report('b', 512 * MIB, ROOMY);
    assert.equal(run.state('b'), 'selfAdjusting');
    const back = run.effects.length;
    run.report('a', 512 * MIB, ROOMY);
    run.tick();
    assert.deepEqual(modes(run.since(back)), ['b=self']);
  });

  test('Dom0 first: when host free cannot cover Dom0, guests reclaim for it, shrinking', () => {
    const cap = capturingLogger();
    const run = new Run({ config: CONFIG, logger: cap.logger });
    twoGuests(run, [true, false]);
    run.report('a', 400 * MIB);
    run.report('b', 400 * MIB);
    run.sample(60 * MIB, { currentKiB: 512 * MIB, committedKiB: 900 * MIB }, { a: 512 * MIB, b: 512 * MIB });
    const before = run.effects.length;
    run.tick();
    const d = run.decisions.at(-1)!.decision;
    assert.ok(d.dom0.reclaimKiB > 0, 'the decision reclaims for Dom0');
    assert.equal(run.state('a'), 'reclaimingForDom0');
    assert.equal(run.state('b'), 'reclaimingForDom0');
    const issued = run.since(before);
    assert.deepEqual(modes(issued), ['a=reclaim', 'b=reclaim']);
    for (const e of issued) if (e.kind === 'target' && e.id !== DOM0_ID) assert.ok(e.targetKiB < 512 * MIB, `${e.id} shrinks`);
    assert.ok(cap.lines.some((l) => String(l.msg).startsWith('reclaiming memory from the guests for Dom0') && l.reclaimKiB === d.dom0.reclaimKiB));
    // Dom0 got its memory (its commit is covered): the guests leave reclaim, by the supervisor's word.
    run.report('a', 400 * MIB);
    run.report('b', 400 * MIB);
    run.sample(2048 * MIB, { currentKiB: 900 * MIB, committedKiB: 900 * MIB }, { a: 450 * MIB, b: 450 * MIB });
    const after = run.effects.length;
    run.tick();
    assert.equal(run.decisions.at(-1)!.decision.dom0.reclaimKiB, 0);
    assert.equal(run.state('a'), 'selfAdjusting');
    assert.deepEqual(modes(run.since(after)), ['a=self', 'b=self']);
  });

  test('every tick and every prompt self step issues decreases before increases (checked over a closed loop)', () => {
    const run = new Run({ config: CONFIG });
    const ids = ['a', 'b', 'c', 'd'];
    ids.forEach((id, i) => run.appear(id, i + 1, { currentKiB: 400 * MIB }));
    ids.forEach((id) => run.hello(id, true));
    // The test plays the host: each written target lands by the next sample (an ideal balloon).
    const alloc: Record<string, number> = Object.fromEntries(ids.map((id) => [id, 400 * MIB]));
    let dom0 = 512 * MIB;
    const total = 4096 * MIB;
    const wants = (t: number): Record<string, number> => ({
      a: (t % 6 < 3 ? 900 : 200) * MIB, // working sets that swap places every three ticks
      b: (t % 6 < 3 ? 200 : 900) * MIB,
      c: 600 * MIB,
      d: (300 + 50 * t) * MIB,
    });
    let mixed = 0;
    let promptRounds = 0;
    /** Effects issued are the writes the event says, decreases first; they land; the host is never over-allocated. */
    const check = (issued: Effect[], writes: Write[], where: string) => {
      const targets = issued.filter((e) => e.kind === 'target');
      const written = writes.filter((e) => e.kind === 'target');
      assert.deepEqual(targets.map((e) => [e.id, e.targetKiB]), written.map((e) => [e.id, e.targetKiB]), `${where}: effects issued as the event says`);
      const dirs = written.map((e) => Math.sign(e.targetKiB - e.fromKiB));
      const firstUp = dirs.indexOf(1);
      const lastDown = dirs.lastIndexOf(-1);
      if (firstUp >= 0 && lastDown >= 0) {
        mixed++;
        assert.ok(lastDown < firstUp, `${where}: decreases first, got ${JSON.stringify(written)}`);
      }
      for (const e of written) if (e.kind === 'target') e.id === DOM0_ID ? (dom0 = e.targetKiB) : (alloc[e.id] = e.targetKiB);
      assert.ok(dom0 + ids.reduce((s, id) => s + alloc[id]!, 0) <= total, `${where}: never more handed out than the host has`);
    };
    for (let t = 0; t < 24; t++) {
      const w = wants(t);
      const beforeReports = run.effects.length;
      const stepsBefore = run.selfSteps.length;
      // Each guest uses what it wants (its commit) and reports the rest of its allocation free, as
      // a real guest would: with a fixed MemFree its working room (used + 64 MiB) grew with every
      // step it was given, and allocations drifted far above the commits.
      run.reports(ids.map((id) => ({ id, committedKiB: w[id]!, freeKiB: Math.max(16 * MIB, alloc[id]! - w[id]!), swapTotalKiB: 0, swapFreeKiB: 0 })));
      const steps = run.selfSteps.slice(stepsBefore);
      if (steps.length > 0) promptRounds++;
      check(run.since(beforeReports), steps.flatMap((e) => e.writes), `tick ${t}, self step`);
      const used = dom0 + ids.reduce((s, id) => s + alloc[id]!, 0);
      run.sample(total - used, { currentKiB: dom0, committedKiB: 600 * MIB }, { ...alloc });
      const before = run.effects.length;
      run.tick();
      check(run.since(before), run.decisions.at(-1)!.writes, `tick ${t}`);
    }
    assert.ok(mixed >= 3, `the loop must exercise rounds with both directions (got ${mixed})`);
    assert.ok(promptRounds >= 3, `the loop must exercise prompt self steps (got ${promptRounds})`);
  });

  test('the order holds whatever order the policy lists guests in', () => {
    // A stand-in policy that lists the increase first: the supervisor, not the policy, orders writes.
    const scripted: Policy = (input): Decision => ({
      state: 'scarce',
      overcommitted: false,
      price: 1,
      dom0: { goalKiB: input.dom0.currentKiB, targetKiB: input.dom0.currentKiB, reclaimKiB: 0 },
      guests: [
        { id: 'a', mode: 'global', goalKiB: 600 * MIB, targetKiB: 600 * MIB },
        { id: 'b', mode: 'global', goalKiB: 400 * MIB, targetKiB: 400 * MIB },
      ],
    });
    const run = new Run({ config: CONFIG, policy: scripted });
    twoGuests(run);
    run.report('a', 600 * MIB);
    run.report('b', 400 * MIB);
    run.sample(0, DOM0, { a: 512 * MIB, b: 512 * MIB });
    const before = run.effects.length;
    run.tick();
    assert.deepEqual(
      run.since(before).filter((e) => e.kind === 'target').map((e) => e.kind === 'target' && `${e.id}=${e.targetKiB / MIB}`),
      ['b=400', 'dom0=512', 'a=600'],
    );
  });

  test('a balloon that will not move is stuck: left out of the balance and held where it is', () => {
    const seen: DecideInput[] = [];
    const spy: Policy = (input) => (seen.push(input), decide(input));
    const run = new Run({ config: CONFIG, policy: spy });
    twoGuests(run);
    // a wants to grow; the host has room; its balloon never moves (the sample keeps saying 512).
    for (let t = 0; t < CONFIG.stuckTicks + 1; t++) {
      run.report('a', 900 * MIB);
      run.report('b', 512 * MIB, ROOMY);
      run.sample(2048 * MIB, DOM0, { a: 512 * MIB, b: 512 * MIB });
      run.tick();
    }
    assert.equal(run.state('a'), 'stuck');
    assert.equal(run.state('b'), 'selfAdjusting');
    const before = run.effects.length;
    run.report('a', 900 * MIB);
    run.report('b', 512 * MIB, ROOMY);
    run.tick();
    assert.deepEqual(seen.at(-1)!.guests.map((g) => [g.id, g.agent]), [['a', false], ['b', true]]);
    assert.deepEqual(
      run.since(before).filter((e) => e.id === 'a'),
      [
        { kind: 'mode', id: 'a', mode: 'held', protocol: 1 },
        { kind: 'target', id: 'a', targetKiB: 512 * MIB }, // stop asking for what does not come
      ],
    );
  });

  test('a target write that keeps failing makes the guest stuck, instead of a re-issue and a warning every tick', () => {
    const run = new Run({ config: CONFIG });
    twoGuests(run);
    const ticks = 30;
    let writesToA = 0;
    for (let t = 0; t < ticks; t++) {
      const before = run.effects.length;
      run.report('a', 700 * MIB);
      run.report('b', 300 * MIB);
      run.sample(2048 * MIB, DOM0, { a: 512 * MIB, b: 512 * MIB });
      run.tick();
      // Every target write to a fails, prompt or tick (think: a guest without a balloon driver).
      for (const e of run.since(before)) {
        if (e.kind === 'target' && e.id === 'a') {
          writesToA++;
          run.send({ type: 'effect.failed', at: run.now + 1, id: 'a', effect: 'setTarget', error: 'ENOENT' });
        }
      }
      if (t === CONFIG.stuckTicks + 1) assert.equal(run.state('a'), 'stuck', `stuck by tick ${t}`);
    }
    // Retried once per stuckRetryTicks, not every tick.
    assert.ok(writesToA <= CONFIG.stuckTicks + 2 + Math.ceil(ticks / CONFIG.stuckRetryTicks) * (CONFIG.stuckTicks + 2), `a's target written ${writesToA} times in ${ticks} ticks`);
    assert.ok(writesToA < ticks / 2, `a's target written ${writesToA} times in ${ticks} ticks`);
  });

  test('a failed target write is re-issued on the next tick', () => {
    const run = new Run({ config: CONFIG });
    twoGuests(run);
    run.report('a', 700 * MIB);
    run.report('b', 300 * MIB);
    run.sample(2048 * MIB, DOM0, { a: 512 * MIB, b: 512 * MIB });
    run.tick();
    const aTarget = run.decisions.at(-1)!.decision.guests.find((g) => g.id === 'a')!.targetKiB;
    run.send({ type: 'effect.failed', at: run.now + 1, id: 'a', effect: 'setTarget', error: 'EAGAIN' });
    run.send({ type: 'effect.failed', at: run.now + 1, id: DOM0_ID, effect: 'setTarget', error: 'EAGAIN' });
    const before = run.effects.length;
    run.tick(); // nothing has moved: same decision, but a's and Dom0's targets go out again
    const again = run.since(before).filter((e) => e.kind === 'target');
    assert.ok(again.some((e) => e.id === 'a' && e.targetKiB === aTarget), 'a re-issued');
    assert.ok(again.some((e) => e.id === DOM0_ID), 'Dom0 re-issued');
    assert.ok(!again.some((e) => e.id === 'b'), 'b unchanged: not re-issued');
  });

  test("while abundant, a self-adjusting guest's failed target goes out again with its next report", () => {
    const run = new Run({ config: CONFIG });
    twoGuests(run);
    run.report('a', 700 * MIB);
    run.report('b', 300 * MIB);
    run.sample(2048 * MIB, DOM0, { a: 512 * MIB, b: 512 * MIB });
    run.tick();
    assert.equal(run.decisions.at(-1)!.decision.state, 'abundant');
    const aTarget = run.decisions.at(-1)!.decision.guests.find((g) => g.id === 'a')!.targetKiB;
    run.send({ type: 'effect.failed', at: run.now + 1, id: 'a', effect: 'setTarget', error: 'EAGAIN' });
    run.send({ type: 'effect.failed', at: run.now + 1, id: DOM0_ID, effect: 'setTarget', error: 'EAGAIN' });
    const before = run.effects.length;
    run.reports([
      { id: 'a', committedKiB: 700 * MIB, freeKiB: 32 * MIB, swapTotalKiB: 0, swapFreeKiB: 0 },
      { id: 'b', committedKiB: 300 * MIB, freeKiB: 32 * MIB, swapTotalKiB: 0, swapFreeKiB: 0 },
    ]);
    assert.deepEqual(run.since(before), [{ kind: 'target', id: 'a', targetKiB: aTarget, prompt: true }], 'a re-issued at once (marked prompt, for the host); b unchanged');
    assert.deepEqual(run.selfSteps.at(-1)!.writes, [{ kind: 'target', id: 'a', targetKiB: aTarget, fromKiB: 512 * MIB, prompt: true }]);
    const tick = run.effects.length;
    run.tick(); // Dom0's target is the tick's to re-issue; a's is out already
    const again = run.since(tick).filter((e) => e.kind === 'target');
    assert.deepEqual(again.map((e) => e.id), [DOM0_ID]);
  });
});

describe('supervisor: prompt self steps and the write deadband', () => {
  test('a report whose commit moves by less than the deadband writes nothing; a larger move is written at once', () => {
    const run = new Run({ config: CONFIG });
    twoGuests(run);
    run.report('a', 700 * MIB);
    run.report('b', 300 * MIB);
    run.sample(2048 * MIB, DOM0, { a: 512 * MIB, b: 512 * MIB });
    run.tick();
    assert.equal(run.decisions.at(-1)!.decision.state, 'abundant');
    const aTarget = run.decisions.at(-1)!.decision.guests.find((g) => g.id === 'a')!.targetKiB;
    assert.equal(aTarget, 700 * MIB);
    // a's balloon lands; b is still shrinking toward its commit.
    run.sample(2048 * MIB - 188 * MIB, DOM0, { a: 700 * MIB, b: 512 * MIB });
    const jitter = 700 * MIB + 3 * 4; // three pages more committed: below MIN_TARGET_CHANGE_KIB
    assert.ok(jitter - 700 * MIB < MIN_TARGET_CHANGE_KIB);
    let before = run.effects.length;
    run.reports([{ id: 'a', committedKiB: jitter, freeKiB: 32 * MIB, swapTotalKiB: 0, swapFreeKiB: 0 }]);
    assert.deepEqual(run.since(before), [], 'jitter is not written');
    const grown = 700 * MIB + 2 * MIB;
    before = run.effects.length;
    run.reports([{ id: 'a', committedKiB: grown, freeKiB: 32 * MIB, swapTotalKiB: 0, swapFreeKiB: 0 }]);
    assert.deepEqual(run.since(before), [{ kind: 'target', id: 'a', targetKiB: grown, prompt: true }], 'a real rise goes out at once');
  });
});

describe('supervisor: guests coming and going, and bad input', () => {
  test('a guest leaving stops its machine and frees its child', () => {
    const run = new Run({ config: CONFIG });
    twoGuests(run);
    assert.ok(run.actor.system.get(guestSystemId('a')));
    const b = run.actor.system.get(guestSystemId('b'));
    assert.ok(b);
    run.left('a');
    assert.equal(run.actor.system.get(guestSystemId('a')), undefined);
    // Children are keyed by spawn number (supervisor.ts, guestActorId): b's machine is the only one left.
    assert.deepEqual(Object.values(run.actor.getSnapshot().children), [b]);
    assert.deepEqual(run.actor.getSnapshot().context.guestIds, ['b']);
    // Late inputs for it are ignored; the same id may come back as a new guest.
    const before = run.effects.length;
    run.report('a', 100 * MIB);
    run.hello('a', true);
    run.send({ type: 'effect.failed', at: run.now + 1, id: 'a', effect: 'setMode', error: 'ENOENT' });
    run.left('a');
    assert.deepEqual(run.since(before), []);
    run.appear('a', 9);
    assert.equal(run.state('a'), 'registering');
    assert.equal(run.guest('a')!.context.domid, 9);
  });

  test('a duplicate guest.appeared, unknown ids, and Dom0 id do not disturb anything', () => {
    const cap = capturingLogger();
    const run = new Run({ config: CONFIG, logger: cap.logger });
    run.appear('a', 1);
    run.appear('a', 5, { minKiB: 1 * MIB });
    assert.equal(run.guest('a')!.context.domid, 1);
    assert.equal(run.facts('a')!.minKiB, 128 * MIB);
    run.appear(DOM0_ID, 0);
    assert.equal(run.guest(DOM0_ID), undefined);
    run.report('nobody', 1);
    run.hello('nobody', true);
    run.sample(1024 * MIB, DOM0, { a: 512 * MIB, nobody: 1 });
    run.tick();
    assert.equal(run.actor.getSnapshot().status, 'active');
    assert.equal(run.decisions.length, 1);
    assert.ok(cap.lines.some((l) => l.level === 40 && String(l.msg).includes('already known')));
  });

  test('no sample yet: no decision; a policy that throws costs one tick, not the daemon', () => {
    let fail = true;
    const flaky: Policy = (input) => {
      if (fail) throw new Error('policy bug');
      return decide(input);
    };
    const cap = capturingLogger();
    const run = new Run({ config: CONFIG, policy: flaky, logger: cap.logger });
    twoGuests(run);
    run.tick();
    assert.equal(run.decisions.length, 0);
    run.sample(1024 * MIB, DOM0, { a: 512 * MIB, b: 512 * MIB });
    run.tick();
    assert.equal(run.decisions.length, 0);
    assert.ok(cap.lines.some((l) => l.level === 50 && l.error === 'policy bug'));
    fail = false;
    run.tick();
    assert.equal(run.decisions.length, 1);
    assert.equal(run.actor.getSnapshot().status, 'active');
  });

  test('the persisted snapshot is plain JSON, children included', () => {
    const run = new Run({ config: CONFIG });
    twoGuests(run);
    run.report('a', 700 * MIB);
    run.sample(1024 * MIB, DOM0, { a: 512 * MIB, b: 512 * MIB });
    run.tick();
    const p = run.actor.getPersistedSnapshot() as unknown as { children: Record<string, { systemId?: unknown }> };
    assertPlainJson(p);
    assert.deepEqual(Object.values(p.children).map((c) => c.systemId).sort(), [guestSystemId('a'), guestSystemId('b')]);
  });

  test('a supervisor restored from its persisted snapshot finds its guests and spawns new ones beside them', () => {
    const run = new Run({ config: CONFIG });
    twoGuests(run);
    run.left('a'); // spawn numbers are not reused: a's slot stays free
    run.appear('c', 3);
    const persisted = JSON.parse(JSON.stringify(run.actor.getPersistedSnapshot())) as Snapshot<unknown>;
    run.actor.stop();
    const restored = createActor(createSupervisorMachine(), { input: run.config, snapshot: persisted });
    restored.start();
    const stateOf = (id: string) => {
      const ref = restored.system.get(guestSystemId(id)) as { getSnapshot(): GuestSnapshot } | undefined;
      return ref === undefined ? 'none' : guestStateName(ref.getSnapshot());
    };
    assert.deepEqual([stateOf('b'), stateOf('c')], ['selfAdjusting', 'registering']);
    restored.send({ type: 'guest.appeared', at: run.now + 1, id: 'd', domid: 4, minKiB: 128 * MIB, maxKiB: 1024 * MIB, currentKiB: 512 * MIB, shares: 1 });
    restored.send({ type: 'agent.hello', at: run.now + 2, id: 'c', protocol: 1, selfAdjust: false });
    assert.deepEqual([stateOf('b'), stateOf('c'), stateOf('d')], ['selfAdjusting', 'globallyControlled', 'registering']);
    assert.equal(Object.keys(restored.getSnapshot().children).length, 3, 'no child replaced another');
    restored.send({ type: 'guest.left', at: run.now + 3, id: 'b' });
    assert.deepEqual([stateOf('b'), stateOf('c'), stateOf('d')], ['none', 'globallyControlled', 'registering']);
    assert.deepEqual(restored.getSnapshot().context.guestIds, ['c', 'd']);
    restored.stop();
  });

  test('nothing in the machines or the replay reads the wall clock', () => {
    const root = join(import.meta.dirname, '../../../src');
    const files = [
      ...readdirSync(join(root, 'machines')).map((f) => join(root, 'machines', f)),
      join(root, 'journal', 'replay.ts'),
      join(root, 'journal', 'recorder.ts'),
    ];
    for (const f of files) {
      const code = readFileSync(f, 'utf8').replace(/\/\/.*$/gm, '');
      assert.doesNotMatch(code, /Date\.now|performance\.now|new Date\(|hrtime/, f);
    }
  });
});
