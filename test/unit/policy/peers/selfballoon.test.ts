// selfballoon peer: goal = Committed_AS + totalreserve; 1/8 of the gap down per step, all of it up.
// Every expected number below is worked out by hand in the comment next to it.
import { deepStrictEqual, strictEqual } from 'node:assert/strict';
import { describe, it } from 'node:test';
import { floorPages, selfballoon, totalReservePages } from '../../../../src/policy/peers/selfballoon.ts';
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

  it('gives back 1/8 of the gap to Committed_AS + reserve per step', () => {
    // 512 MiB now, 256 MiB committed: goal = 65536 + 1536 = 67072 pages = 268288 KiB.
    // Step: 524288 - (524288 - 268288) / 8 = 524288 - 32000 = 492288 KiB.
    const g = guest('g', { ...max1G, currentKiB: 512 * MiB, committedKiB: 256 * MiB });
    const d = selfballoon(input(0, [g]));
    const got = byId(d.guests, 'g');
    strictEqual(got.mode, 'self');
    strictEqual(got.goalKiB, 268288);
    strictEqual(got.targetKiB, 492288);
    // Next step from there: 492288 - (492288 - 268288) / 8 = 492288 - 28000 = 464288.
    const d2 = selfballoon(input(0, [{ ...g, currentKiB: 492288 }]));
    strictEqual(byId(d2.guests, 'g').targetKiB, 464288);
  });

  it('takes the whole gap up at once when the host has it free', () => {
    // 256 MiB now, 400 MiB committed: goal = 102400 + 1536 pages = 415744 KiB, reached in one step.
    const g = guest('g', { ...max1G, currentKiB: 256 * MiB, committedKiB: 400 * MiB });
    const d = selfballoon(input(1024 * MiB, [g]));
    strictEqual(byId(d.guests, 'g').targetKiB, 415744);
    strictEqual(d.state, 'abundant');
    // With only 100 MiB free after the 50 MiB reserve, it gets those 100 MiB.
    const tight = selfballoon(input(150 * MiB, [g]));
    strictEqual(byId(tight.guests, 'g').targetKiB, 356 * MiB);
    strictEqual(tight.state, 'scarce');
  });

  it('never goes below the driver floor', () => {
    // 140 MiB = 35840 pages, 10 MiB committed: goal 2560 + 1536 = 4096 pages; the 1/8 step
    // would go to 35840 - 3968 = 31872 pages, under the floor of 34232 pages = 136928 KiB.
    const g = guest('g', { ...max1G, currentKiB: 140 * MiB, committedKiB: 10 * MiB });
    strictEqual(byId(selfballoon(input(0, [g])).guests, 'g').targetKiB, 136928);
  });

  it('leaves Dom0 where it is (self-ballooning is disabled in Dom0) and holds agentless guests', () => {
    const g = guest('g', { ...max1G, currentKiB: 512 * MiB, committedKiB: 256 * MiB });
    const silent = guest('s', { agent: false, currentKiB: 300 * MiB });
    const d = selfballoon(input(4096 * MiB, [g, silent], { currentKiB: 1024 * MiB, committedKiB: 2048 * MiB }));
    deepStrictEqual(d.dom0, { goalKiB: 1024 * MiB, targetKiB: 1024 * MiB, reclaimKiB: 0 });
    deepStrictEqual(byId(d.guests, 's'), { id: 's', mode: 'held', goalKiB: 300 * MiB, targetKiB: 300 * MiB });
  });

  it('shares free memory in proportion to what each rising guest asked for', () => {
    // Both at 256 MiB. a's goal 415744 KiB (above), 153600 more; b's: 800 MiB committed ->
    // 204800 + 1536 pages = 825344 KiB, 563200 more. Free after the reserve: 100 MiB.
    const a = guest('a', { ...max1G, currentKiB: 256 * MiB, committedKiB: 400 * MiB });
    const b = guest('b', { ...max1G, currentKiB: 256 * MiB, committedKiB: 800 * MiB });
    const d = selfballoon(input(150 * MiB, [a, b]));
    // Asked: a 153600, b 563200 KiB; 25600 pages to share. a: 25600 x 153600 / 716800 =
    // 5485.71 -> 5485 pages, b: 20114.29 -> 20114; the odd page goes to the larger remainder (a).
    strictEqual(byId(d.guests, 'a').targetKiB, 262144 + 5486 * 4);
    strictEqual(byId(d.guests, 'b').targetKiB, 262144 + 20114 * 4);
  });
});
