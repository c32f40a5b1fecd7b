// selfballoon peer: goal = Committed_AS + totalreserve + a tenth of boot RAM, in the pages the
// kernel manages; 1/8 of the gap down per step, all of it up.
// Every expected number below is worked out by hand in the comment next to it.
import { deepStrictEqual, ok, strictEqual } from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pacedPolicy } from '../../../../src/policy/peers/paced.ts';
import { floorPages, selfballoon, selfballoonMachine, selfballoonStep, totalReservePages } from '../../../../src/policy/peers/selfballoon.ts';
import { byId, guest, input, MiB } from './inputs.ts';

// A 1 GiB-max guest: min_free_kbytes = sqrt(16 x 1048576) = 4096 KiB, totalreserve = 1.5 x that
// = 6144 KiB = 1536 pages. Floor: useful = 262144 - 1536 = 260608 pages (>= 512 MiB), so
// 1536 + 99 MiB (25344 pages) + (260608 - 25344) / 32 = 1536 + 25344 + 7352 = 34232 pages.
const max1G = { minKiB: 64 * MiB, maxKiB: 1024 * MiB };

describe('selfballoon peer', () => {
  it('estimates totalreserve and the driver floor as the kernel does', () => {
    strictEqual(totalReservePages(guest('g', max1G)), 1536);
    strictEqual(floorPages(262144, 1536), 34232);
    // Under 16 MiB useful: not worth ballooning, the floor is all of it.
    strictEqual(floorPages(4096, 512), 4096);
  });

  it('gives back 1/8 of the gap to Committed_AS + reserve + a tenth of boot RAM per step', () => {
    // In pages the kernel manages: overhead 55884 KiB = 13971 pages; 512 MiB now: totalram =
    // 131072 - 13971 = 117101. Reserved: 117101 / 10 = 11710 pages -> 45 MiB = 11520 pages.
    // 256 MiB committed: goal = 65536 + 1536 + 11520 = 78592 pages, balloon (78592 + 13971) x 4
    // = 370252 KiB. Step: 117101 - floor(38509 / 8) = 112288 pages -> (112288 + 13971) x 4 =
    // 505036 KiB.
    const g = guest('g', { ...max1G, currentKiB: 512 * MiB, committedKiB: 256 * MiB });
    const d = selfballoon(input(0, [g]));
    const got = byId(d.guests, 'g');
    strictEqual(got.mode, 'self');
    strictEqual(got.goalKiB, 370252);
    strictEqual(got.targetKiB, 505036);
    // The same driver (booted at 512 MiB) one step on: totalram 112288, the gap 33696 pages:
    // 112288 - 4212 = 108076 pages -> 488188 KiB.
    strictEqual(selfballoonStep({ ...g, currentKiB: 505036 }, 512 * MiB).stepKiB, 488188);
  });

  it('asks for the whole gap up at once, whatever the host has free', () => {
    // 256 MiB now: totalram 65536 - 13971 = 51565, reserved 5156 -> 20 MiB = 5120 pages.
    // 400 MiB committed: goal 102400 + 1536 + 5120 = 109056 pages -> (109056 + 13971) x 4 =
    // 492108 KiB, asked in one step.
    const g = guest('g', { ...max1G, currentKiB: 256 * MiB, committedKiB: 400 * MiB });
    const d = selfballoon(input(1024 * MiB, [g]));
    strictEqual(byId(d.guests, 'g').targetKiB, 492108);
    strictEqual(d.state, 'abundant');
    // With only 100 MiB free the driver still sets its whole goal: no arbiter funds it, the
    // hypervisor grants what it has (the simulator: first come first served).
    const tight = selfballoon(input(100 * MiB, [g]));
    strictEqual(byId(tight.guests, 'g').targetKiB, 492108);
    strictEqual(tight.state, 'scarce');
  });

  it('never goes below the driver floor (in the pages the kernel manages)', () => {
    // 140 MiB: totalram 35840 - 13971 = 21869; the step would go to 19904 pages, under the
    // floor of 34232 pages: the target is (34232 + 13971) x 4 = 192812 KiB.
    const g = guest('g', { ...max1G, currentKiB: 140 * MiB, committedKiB: 10 * MiB });
    strictEqual(byId(selfballoon(input(0, [g])).guests, 'g').targetKiB, 192812);
  });

  it('leaves Dom0 where it is (self-ballooning is disabled in Dom0) and holds agentless guests', () => {
    const g = guest('g', { ...max1G, currentKiB: 512 * MiB, committedKiB: 256 * MiB });
    const silent = guest('s', { agent: false, currentKiB: 300 * MiB });
    const d = selfballoon(input(4096 * MiB, [g, silent], { currentKiB: 1024 * MiB, committedKiB: 2048 * MiB }));
    deepStrictEqual(d.dom0, { goalKiB: 1024 * MiB, targetKiB: 1024 * MiB, reclaimKiB: 0 });
    deepStrictEqual(byId(d.guests, 's'), { id: 's', mode: 'held', goalKiB: 300 * MiB, targetKiB: 300 * MiB });
  });

  it('runs each guest driver every 5 s, staggered, and holds its target in between', () => {
    const a = guest('a', { ...max1G, currentKiB: 256 * MiB, committedKiB: 400 * MiB });
    const b = guest('b', { ...max1G, currentKiB: 256 * MiB, committedKiB: 800 * MiB });
    const p = pacedPolicy(selfballoonMachine);
    const acted: Record<string, number[]> = { a: [], b: [] };
    for (let t = 0; t <= 20_000; t += 1000) {
      const d = p({ ...input(150 * MiB, [a, b]), atMs: t });
      for (const id of ['a', 'b']) if (byId(d.guests, id).targetKiB !== 256 * MiB) acted[id]!.push(t);
    }
    // Each driver's first run is 1-5 s after it is first seen; from then on its target stays set.
    for (const id of ['a', 'b']) {
      const first = acted[id]![0]!;
      ok(first >= 1000 && first <= 5000, `${id} first ran at ${first}`);
      strictEqual(acted[id]!.length, (20_000 - first) / 1000 + 1);
    }
  });
});
