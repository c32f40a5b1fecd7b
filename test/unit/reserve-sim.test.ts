// memcoop reserve as a process against run --host sim: a full host (test/fixtures/reserve-new-guest.yaml)
// where a 128 MiB guest waits to start; the reservation makes room for it without any guest going
// below its minimum, and is released when the guest appears. And the refusals.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Status } from '../../src/control/status.ts';
import { readJournalFile } from '../../src/journal/format.ts';
import { BIN, ROOT, memcoop, startSimDaemon, type DaemonChild, type SimDaemon } from '../../testbed/daemon-child.ts';

const SCENARIO = join(ROOT, 'test/fixtures/reserve-new-guest.yaml');
const MIB = 1024;

describe('memcoop reserve against run --host sim on a full host', () => {
  let sim: SimDaemon;
  let d: DaemonChild;
  let sock: string;
  const status = (): Status => sim.status();

  before(async () => {
    sim = await startSimDaemon(['--scenario', SCENARIO, '--speed', '5']);
    ({ d, sock } = sim);
  });
  after(async () => {
    await sim?.stop();
  });

  test('the waiting guest has not started: the host is full', () => {
    const s = status();
    assert.deepEqual(s.guests.map((g) => g.id), ['vm1', 'vm2']);
    assert.ok(s.memory!.freeKiB - s.memory!.reserveKiB < 128 * MIB, JSON.stringify(s.memory));
  });

  test('reserve 128M: room is made, the guest starts, the reservation goes with it; no guest below its minimum', async () => {
    const c = spawn(process.execPath, [BIN, 'reserve', '128M', '--timeout', '60', '--control', sock], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    c.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((r) => c.on('exit', (code) => r(code)));
    let done = false;
    void exited.then(() => (done = true));
    let sawReserved = false;
    while (!done) {
      const s = status();
      for (const g of s.guests) assert.ok(g.allocationKiB >= g.minKiB, `${g.id} at ${g.allocationKiB} KiB, below its minimum ${g.minKiB}`);
      if (s.memory!.reservedKiB === 128 * MIB) sawReserved = true;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(await exited, 0, err);
    assert.match(out, /^reserved r-[0-9a-f]{8}: 128 MiB (was made free and domain 3 of that size has started in it; released|free \(host free)/);
    const s = status();
    assert.deepEqual(s.guests.map((g) => g.id), ['vm1', 'vm2', 'vm3']);
    for (const g of s.guests) assert.ok(g.allocationKiB >= g.minKiB);
    assert.ok(sawReserved || /started/.test(out), 'status showed the reservation while it was held');
  });

  test('the reservation was released when the guest appeared (or is still held until then)', async () => {
    const end = Date.now() + 30_000;
    while (status().memory!.reservedKiB !== 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
    assert.equal(status().memory!.reservedKiB, 0);
    assert.ok(d.lines.some((l) => l.msg === 'reservation released: domain 3 of 128 MiB appeared'));
  });

  test('more than the guests can give: how much could be freed and why not, released (exit 1)', () => {
    const r = memcoop(['reserve', '2G', '--timeout', '3', '--control', sock]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^memcoop reserve: could free \d+(\.\d)? MiB of 2048 MiB \(.+\); the reservation is released\n$/);
    assert.equal(status().memory!.reservedKiB, 0);
  });

  test('refusals: an unknown reservation, a bad size', () => {
    const r = memcoop(['reserve', '--release', 'r-nope', '--control', sock]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^memcoop reserve: no reservation r-nope \(held: none\)\n$/);
    const b = memcoop(['reserve', 'lots', '--control', sock]);
    assert.equal(b.status, 2);
    assert.match(b.stderr, /SIZE must be a number with K, M or G, got "lots"/);
  });

  test('the journal holds the reservations as inputs, and replays', async () => {
    assert.equal(await d.stop(), 0, d.stderr());
    const j = await readJournalFile(sim.journal);
    const sets = j.inputs.filter((i) => i.type === 'reserve.set').map((i) => (i as { reservedKiB: number }).reservedKiB);
    assert.ok(sets.includes(128 * MIB) && sets.includes(0), sets.join(','));
    const r = memcoop(['replay', sim.journal]);
    assert.equal(r.status, 0, r.stderr);
  });
});
