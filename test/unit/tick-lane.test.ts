// The tick lane (src/hosts/xen/tick-lane.ts): at most `limit` tick writes in flight, the rest in
// the order they came, and a waiting one let out at once when a prompt target replaces it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TickLane, type Release } from '../../src/hosts/xen/tick-lane.ts';

/** Lets the lane's promise callbacks run. */
const settle = () => new Promise<void>((r) => setImmediate(r));

test('at most `limit` run at once; the rest start in the order they came, one per release', async () => {
  const lane = new TickLane(2);
  const started: number[] = [];
  const releases = new Map<number, Release>();
  for (let k = 0; k < 5; k++) {
    void lane.enter().turn.then((release) => {
      started.push(k);
      releases.set(k, release);
    });
  }
  await settle();
  assert.deepEqual(started, [0, 1]);
  assert.deepEqual(lane.size, { running: 2, waiting: 3 });
  releases.get(1)!();
  await settle();
  assert.deepEqual(started, [0, 1, 2], 'the turn passes to the first one waiting');
  releases.get(0)!();
  releases.get(0)!(); // a second release of the same turn gives nothing away
  await settle();
  assert.deepEqual(started, [0, 1, 2, 3]);
  assert.deepEqual(lane.size, { running: 2, waiting: 1 });
  for (const k of [2, 3]) releases.get(k)!();
  await settle();
  releases.get(4)!();
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  assert.deepEqual(lane.size, { running: 0, waiting: 0 });
});

test('hurry lets a waiting write go at once, outside the count; after its turn came it does nothing', async () => {
  const lane = new TickLane(1);
  const first = lane.enter();
  const second = lane.enter();
  const third = lane.enter();
  const order: string[] = [];
  void second.turn.then(() => order.push('second'));
  void third.turn.then(() => order.push('third'));
  first.hurry(); // already running: nothing changes
  third.hurry();
  await settle();
  assert.deepEqual(order, ['third'], 'the hurried one went ahead of the one before it');
  assert.deepEqual(lane.size, { running: 1, waiting: 1 });
  const releaseThird = await third.turn;
  releaseThird(); // a hurried write's release does not free a turn it never took
  await settle();
  assert.deepEqual(order, ['third']);
  (await first.turn)();
  await settle();
  assert.deepEqual(order, ['third', 'second']);
});

test('a limit that is not a whole number >= 1 is refused', () => {
  assert.throws(() => new TickLane(0), /limit 0/);
  assert.throws(() => new TickLane(1.5), /limit 1.5/);
});
