// qmemman peer: pref = used x 1.3 (+350 MiB for Dom0), then pref-proportional shares of the rest.
// Every expected number below is worked out by hand in the comment next to it.
import { deepStrictEqual, ok, strictEqual } from 'node:assert/strict';
import { describe, it } from 'node:test';
import { guestUsedKiB, qmemman } from '../../../../src/policy/peers/qmemman.ts';
import { byId, guest, input, MiB } from './inputs.ts';

// Dom0: committed 400 MiB -> pref 400 x 1.3 + 350 = 870 MiB. A: used min(500, 1024-100) = 500 ->
// pref 650 MiB. B: used min(300, 512-20) = 300 -> pref 390 MiB. Sum of prefs 1910 MiB.
const d0 = { currentKiB: 1024 * MiB, committedKiB: 400 * MiB };
const a = guest('a', { currentKiB: 1024 * MiB, committedKiB: 500 * MiB, freeKiB: 100 * MiB });
const b = guest('b', { currentKiB: 512 * MiB, committedKiB: 300 * MiB, freeKiB: 20 * MiB });

describe('qmemman peer', () => {
  it('gives every domain pref = used x 1.3, plus a share of the rest in proportion to pref', () => {
    // Free after the 50 MiB reserve: 1024 MiB. Needs: -154, -374, -122 -> 1024 + 650 = 1674 MiB
    // to share. Dom0: 870 + 870/1910 x 1674 = 1632.50 MiB = 1671682.7 KiB, x 0.999 (upstream's
    // "prevent rounding errors") = 1670011.0 -> 1670008 (page). A: 1248958.3 x 0.999 -> 1247708.
    // B: 749375.0 x 0.999 -> 748624.
    const d = qmemman(input(1074 * MiB, [a, b], d0));
    strictEqual(d.state, 'abundant');
    strictEqual(d.dom0.goalKiB, 1670008);
    strictEqual(byId(d.guests, 'a').goalKiB, 1247708);
    strictEqual(byId(d.guests, 'b').goalKiB, 748624);
    // Increases, in order: Dom0 +621432 KiB (1074 MiB free -> 478344 left, >= 0.9 x 50 MiB),
    // A +199132 (279212 left), B +224336 (54876 left, still >= 46080): all set this balance.
    strictEqual(d.dom0.targetKiB, 1670008);
    strictEqual(byId(d.guests, 'a').targetKiB, 1247708);
    strictEqual(byId(d.guests, 'b').targetKiB, 748624);
    // The share over pref is the same fraction (1674/1910) for every domain, to a page.
    const over = [
      (d.dom0.goalKiB - 870 * MiB) / (870 * MiB),
      (byId(d.guests, 'a').goalKiB - 650 * MiB) / (650 * MiB),
      (byId(d.guests, 'b').goalKiB - 390 * MiB) / (390 * MiB),
    ];
    for (const f of over) ok(Math.abs(f - (0.999 * 3584) / 1910 + 1) < 8 / (390 * MiB), `fraction ${f}`);
    deepStrictEqual(
      d.guests.map((g) => g.mode),
      ['global', 'global'],
    );
  });

  it('caps at max and splits the overflow equally among those still below their max', () => {
    // B max 600 MiB: its 748624 is cut to 614400, leaving 134224 KiB; split over Dom0 and A:
    // pageDown(0.999 x 134224 / 2) = 67044 each -> Dom0 1737052, A 1314752.
    const capped = { ...b, maxKiB: 600 * MiB };
    const d = qmemman(input(1074 * MiB, [a, capped], d0));
    strictEqual(byId(d.guests, 'b').goalKiB, 614400);
    strictEqual(d.dom0.goalKiB, 1737052);
    strictEqual(byId(d.guests, 'a').goalKiB, 1314752);
  });

  it('when memory is short, sets donors to pref and, as upstream, takes their surplus off what acceptors share', () => {
    // A: 300 MiB, committed 600, free 10, swap used 324 -> used min(600, 290 + 324) = 600 ->
    // pref 780 MiB, needs 480. Dom0 (870 pref, 1024 now) and B (390, 512) are donors, 154 and
    // 122 MiB over. Needs sum to 204 MiB > 0 free after the reserve: low on memory.
    const short = guest('a', {
      currentKiB: 300 * MiB,
      committedKiB: 600 * MiB,
      freeKiB: 10 * MiB,
      swapTotalKiB: 1024 * MiB,
      swapFreeKiB: 700 * MiB,
    });
    const d = qmemman(input(50 * MiB, [short, b], d0));
    strictEqual(d.state, 'scarce');
    strictEqual(d.dom0.goalKiB, 870 * MiB);
    strictEqual(d.dom0.targetKiB, 870 * MiB);
    strictEqual(byId(d.guests, 'b').targetKiB, 390 * MiB);
    // Upstream: squeezed_mem = (50 - 50) - 154 - 122 < 0, so the acceptors get nothing: A stays.
    strictEqual(byId(d.guests, 'a').goalKiB, 300 * MiB);
    strictEqual(byId(d.guests, 'a').targetKiB, 300 * MiB);
  });

  it('leaves a donor within 10 MiB of its pref alone', () => {
    const short = guest('a', {
      currentKiB: 300 * MiB,
      committedKiB: 600 * MiB,
      freeKiB: 10 * MiB,
      swapTotalKiB: 1024 * MiB,
      swapFreeKiB: 700 * MiB,
    });
    const near = { ...b, currentKiB: 395 * MiB }; // 5 MiB over its 390 MiB pref
    const d = qmemman(input(50 * MiB, [short, near], d0));
    strictEqual(byId(d.guests, 'b').targetKiB, 395 * MiB);
    // Only Dom0 donates, and its 154 MiB is taken off the 0 MiB to share: A stays at 300 MiB.
    strictEqual(byId(d.guests, 'a').goalKiB, 300 * MiB);
  });

  it('writes nothing when the rebalance is below its significance threshold', () => {
    // Dom0 at its 870 MiB pref, A 40 MiB over its 650, B 5 MiB under its 390; nothing free after
    // the reserve. Shares of 35 MiB: Dom0 +15.9, A -28.1, B +12.2 MiB: 56 MiB moved in all
    // (< 150), and B, under its pref, would gain less than 15 MiB: not significant.
    const dom0AtPref = { currentKiB: 870 * MiB, committedKiB: 400 * MiB };
    const aOver = { ...a, currentKiB: 690 * MiB };
    const bUnder = { ...b, currentKiB: 385 * MiB };
    const d = qmemman(input(50 * MiB, [aOver, bUnder], dom0AtPref));
    ok(byId(d.guests, 'b').goalKiB > 385 * MiB, 'the balance itself would move B');
    strictEqual(d.dom0.targetKiB, 870 * MiB);
    strictEqual(byId(d.guests, 'a').targetKiB, 690 * MiB);
    strictEqual(byId(d.guests, 'b').targetKiB, 385 * MiB);
    // A 200 MiB over its pref makes the same rebalance significant: A is written down.
    const d2 = qmemman(input(50 * MiB, [{ ...a, currentKiB: 850 * MiB }, bUnder], dom0AtPref));
    ok(byId(d2.guests, 'a').targetKiB < 850 * MiB);
  });

  it('holds a guest without an agent and leaves it out of the balance', () => {
    const silent = guest('s', { agent: false, currentKiB: 700 * MiB });
    const d = qmemman(input(1074 * MiB, [a, silent, b], d0));
    deepStrictEqual(byId(d.guests, 's'), { id: 's', mode: 'held', goalKiB: 700 * MiB, targetKiB: 700 * MiB });
    // The others get exactly what they get without it.
    const without = qmemman(input(1074 * MiB, [a, b], d0));
    deepStrictEqual(byId(d.guests, 'a'), byId(without.guests, 'a'));
  });

  it('takes used as the smaller of N - MemFree + swap used and Committed_AS', () => {
    // Page cache fills free memory: N - MemFree = 1000 MiB, but only 300 MiB committed.
    strictEqual(guestUsedKiB(guest('c', { currentKiB: 1024 * MiB, freeKiB: 24 * MiB, committedKiB: 300 * MiB })), 300 * MiB);
    // Committed_AS far above what is resident or swapped: 400 + 100 MiB.
    const g = guest('d', { currentKiB: 512 * MiB, freeKiB: 112 * MiB, committedKiB: 4096 * MiB, swapTotalKiB: 200 * MiB, swapFreeKiB: 100 * MiB });
    strictEqual(guestUsedKiB(g), 500 * MiB);
  });
});
