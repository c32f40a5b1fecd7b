// Hand-computed cases for decide: every expected number below is worked out in the comment
// above it from docs/algorithm.md's formulas, not taken from the code's output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, DEFAULT_PARAMS } from '../../../src/policy/decide.ts';
import { guest, input, MIB } from './fixtures.ts';

const PAPER = { tau: 0.75, eps: 0.1 };

// The two guests used by several cases (tau = 0.75, eps = 0.1):
//   a: N = 262144, F = 65536  -> A = 196608, tau*A = 147456;
//      swap 1 GiB total, 512 MiB free -> swapUsed = 0.5 -> c = (1 - 0.75) + 0.1*0.5 = 0.30
//   b: N = 262144, F = 131072 -> A = 131072, tau*A = 98304; no swap -> c = 0.25
const a = guest('a', { committedKiB: 400000, freeKiB: 65536, swapTotalKiB: 1024 * MIB, swapFreeKiB: 512 * MIB });
const b = guest('b', { committedKiB: 400000, freeKiB: 131072 });

test('two guests, scarce, tau=0.75 eps=0.1: the equal-price split, page-rounded, sum exact', () => {
  // Host free = reserve -> F = 0. Dom0 at its commit -> d = 0, F' = 0, no reclaim.
  // need = (400000 - 262144) * 2 > 0 = F' -> scarce. M = 262144 * 2 = 524288.
  // t = (M - sum tau*A) / sum c = (524288 - 245760) / 0.55 = 278528 / 0.55 = 506414.5454...
  // Nt_a = 147456 + 0.30 t = 299380.3636 -> 74845.09 pages
  // Nt_b =  98304 + 0.25 t = 224907.6364 -> 56226.91 pages
  // floors 74845 + 56226 = 131071 pages; M = 131072 pages: the odd page goes to b (.91 > .09)
  // -> a = 299380, b = 224908 (sum 524288). price = 1/t = 0.55 / 278528.
  // Steps (up 2, down 4): b down by floor_page(37236 / 4 = 9309) = 9308 -> 252836.
  // a wants up, but the memory free now (F = 0) funds no increase: a stays at 262144 this tick.
  const params = { ...PAPER, reserveKiB: 50 * MIB, upRatio: 2, downRatio: 4 };
  const dom0 = { currentKiB: 1024 * MIB, committedKiB: 1024 * MIB, minKiB: 512 * MIB, maxKiB: 2048 * MIB };
  const d = decide(input(params, 50 * MIB, dom0, [a, b]));
  assert.equal(d.state, 'scarce');
  assert.equal(d.overcommitted, false);
  assert.ok(d.price !== null && Math.abs(d.price - 0.55 / 278528) < 1e-15);
  assert.deepEqual(d.dom0, { goalKiB: 1024 * MIB, targetKiB: 1024 * MIB, reclaimKiB: 0 });
  assert.deepEqual(d.guests, [
    { id: 'a', mode: 'global', goalKiB: 299380, targetKiB: 262144 },
    { id: 'b', mode: 'global', goalKiB: 224908, targetKiB: 252836 },
  ]);
});

test('abundant: each guest follows its own commit, up in one step, down by a quarter', () => {
  // reserve 50 MiB, host free 1 GiB + 50 MiB -> F = 1048576.
  // Dom0: commit 600000 in [256 MiB, 1 GiB] -> goal 600000, d = 75712 <= F, F' = 972864.
  // g1: MC = 300000, need 37856; g2: commit 100000 < min -> MC = 131072, need -131072.
  // need = -93216 <= F' -> abundant, mode self, goals = MC.
  // Steps with the defaults (up 1, down 4): Dom0 -> 600000, g1 -> 300000 (increases
  // 75712 + 37856 well inside F); g2 down by 131072 / 4 = 32768 -> 229376.
  assert.equal(DEFAULT_PARAMS.upRatio, 1);
  assert.equal(DEFAULT_PARAMS.downRatio, 4);
  // The paper's self adjustment, with the working room (pressure.ts) switched off: with it, g2
  // would keep what it uses plus 64 MiB (262144) out of the memory abundance leaves over.
  const params = { ...DEFAULT_PARAMS, reserveKiB: 50 * MIB, rules: { workingRoom: false } };
  const dom0 = { currentKiB: 512 * MIB, committedKiB: 600000, minKiB: 256 * MIB, maxKiB: 1024 * MIB };
  const d = decide(
    input(params, 1074 * MIB, dom0, [guest('g1', { committedKiB: 300000 }), guest('g2', { committedKiB: 100000 })]),
  );
  assert.equal(d.state, 'abundant');
  assert.equal(d.price, null);
  assert.deepEqual(d.dom0, { goalKiB: 600000, targetKiB: 600000, reclaimKiB: 0 });
  assert.deepEqual(d.guests, [
    { id: 'g1', mode: 'self', goalKiB: 300000, targetKiB: 300000 },
    { id: 'g2', mode: 'self', goalKiB: 131072, targetKiB: 229376 },
  ]);
});

test('Dom0 first: its shortfall is reclaimed from the guests, who balance over what is left', () => {
  // reserve 0, host free 40960 -> F = 40960. Dom0 commit 655360 -> d = 131072 > F.
  // shortfall = 90112 <= freeable (2 * (262144 - 131072)) -> reclaim 90112, F' = 0.
  // M = 524288 - 90112 = 434176. t = (434176 - 245760) / 0.55 = 342574.5454...
  // Nt_a = 147456 + 0.30 t = 250228.3636 (62557.09 pages)
  // Nt_b =  98304 + 0.25 t = 183947.6364 (45986.91 pages)
  // floors 108543 pages, M = 108544: odd page to b -> a = 250228, b = 183948.
  // Steps (up 1, down 4): Dom0 wants +131072 but only F = 40960 is free now -> 565248.
  // a: a quarter of the 11916 gap is 2979 -> 2976 in pages, under MIN_STEP_KIB (4096), so a
  //    moves the minimum step: 262144 - 4096 = 258048.
  // b: 262144 - floor_page(78196 / 4 = 19549) = 262144 - 19548 = 242596.
  const params = { ...PAPER, reserveKiB: 0, upRatio: 1, downRatio: 4 };
  const dom0 = { currentKiB: 512 * MIB, committedKiB: 640 * MIB, minKiB: 256 * MIB, maxKiB: 1024 * MIB };
  const d = decide(input(params, 40960, dom0, [a, b]));
  assert.equal(d.state, 'scarce');
  assert.equal(d.overcommitted, false);
  assert.ok(d.price !== null && Math.abs(d.price - 0.55 / 188416) < 1e-15);
  assert.deepEqual(d.dom0, { goalKiB: 655360, targetKiB: 565248, reclaimKiB: 90112 });
  assert.deepEqual(d.guests, [
    { id: 'a', mode: 'global', goalKiB: 250228, targetKiB: 258048 },
    { id: 'b', mode: 'global', goalKiB: 183948, targetKiB: 242596 },
  ]);
});

test('overcommitted: every guest at its minimum, Dom0 gets only what that frees', () => {
  // As above but Dom0 commits 1 GiB: d = 524288, shortfall 483328 > freeable 262144.
  // Guests -> 131072 each; Dom0 goal = 524288 + F (40960) + 262144 = 827392; reclaim 262144.
  // Steps: Dom0 up limited to F -> 565248; guests down 131072 / 4 = 32768 -> 229376.
  const params = { ...PAPER, reserveKiB: 0, upRatio: 1, downRatio: 4 };
  const dom0 = { currentKiB: 512 * MIB, committedKiB: 1024 * MIB, minKiB: 256 * MIB, maxKiB: 1024 * MIB };
  const d = decide(input(params, 40960, dom0, [a, b]));
  assert.equal(d.state, 'scarce');
  assert.equal(d.overcommitted, true);
  assert.equal(d.price, null);
  assert.deepEqual(d.dom0, { goalKiB: 827392, targetKiB: 565248, reclaimKiB: 262144 });
  assert.deepEqual(d.guests, [
    { id: 'a', mode: 'global', goalKiB: 131072, targetKiB: 229376 },
    { id: 'b', mode: 'global', goalKiB: 131072, targetKiB: 229376 },
  ]);
});

test('bonus: host free handed out by Nt, a capped guest passes its share on; held guest untouched', () => {
  // reserve 0, host free 200 MiB = 204800 -> F = 204800; Dom0 at its commit: F' = 204800.
  // a capped at 300000 (max), b at 512 MiB; both commit 600000 -> MC_a = 300000, MC_b = 524288,
  // need = 37856 + 262144 = 300000 > F' -> scarce. h has no agent: held at 100000.
  // Balance over M = 524288 as in the first case: Nt_a = 299380.36, Nt_b = 224907.64.
  // Bonus factor 1 + 204800 / 524288 = 1.390625 would put a at 416325 > 300000: a = 300000,
  // and b takes the rest: 524288 + 204800 - 300000 = 429088 (< 524288).
  // Steps (up 2, down 4): a 262144 + 37856 / 2 = 281072; b 262144 + 166944 / 2 = 345616;
  // increases 18928 + 83472 = 102400 <= F.
  const params = { ...PAPER, reserveKiB: 0, upRatio: 2, downRatio: 4 };
  const dom0 = { currentKiB: 512 * MIB, committedKiB: 512 * MIB, minKiB: 256 * MIB, maxKiB: 1024 * MIB };
  const h = guest('h', { agent: false, currentKiB: 100000, committedKiB: 900000 });
  const d = decide(
    input(params, 204800, dom0, [
      { ...a, maxKiB: 300000, committedKiB: 600000 },
      h,
      { ...b, committedKiB: 600000 },
    ]),
  );
  assert.equal(d.state, 'scarce');
  assert.deepEqual(d.dom0, { goalKiB: 524288, targetKiB: 524288, reclaimKiB: 0 });
  assert.deepEqual(d.guests, [
    { id: 'a', mode: 'global', goalKiB: 300000, targetKiB: 281072 },
    { id: 'h', mode: 'held', goalKiB: 100000, targetKiB: 100000 },
    { id: 'b', mode: 'global', goalKiB: 429088, targetKiB: 345616 },
  ]);
});

test('two-phase: increases wanting more than is free now share it in proportion, whole pages', () => {
  // reserve 0, F = 102400. Dom0 shrinks 655360 -> 524288: d = -131072, F' = 233472.
  // Scarce as above; bonus: a capped at 300000, b = 524288 + 233472 - 300000 = 457760.
  // up 1: a wants +37856, b +195616, together 233472 > F = 102400 (Dom0's decrease has not
  // landed yet). In pages: 25600 to share;
  //   a: 25600 * 37856 / 233472 = 4150.877 -> 4150; b: 25600 * 195616 / 233472 = 21449.123 -> 21449
  //   one page left, to a (.877 > .123): a +4151 pages = 16604, b +85796. Sum 102400.
  // Dom0 down 131072 / 4 = 32768 -> 622592.
  const params = { ...PAPER, reserveKiB: 0, upRatio: 1, downRatio: 4 };
  const dom0 = { currentKiB: 640 * MIB, committedKiB: 512 * MIB, minKiB: 256 * MIB, maxKiB: 1024 * MIB };
  const d = decide(
    input(params, 102400, dom0, [
      { ...a, maxKiB: 300000, committedKiB: 600000 },
      { ...b, committedKiB: 600000 },
    ]),
  );
  assert.deepEqual(d.dom0, { goalKiB: 524288, targetKiB: 622592, reclaimKiB: 0 });
  assert.deepEqual(d.guests, [
    { id: 'a', mode: 'global', goalKiB: 300000, targetKiB: 262144 + 16604 },
    { id: 'b', mode: 'global', goalKiB: 457760, targetKiB: 262144 + 85796 },
  ]);
});

test('unaligned bounds are rounded inward to whole pages', () => {
  // min 131073 -> 131076, max 524287 -> 524284; commit 1 GiB -> MC = 524284 (abundant: F large).
  const params = { ...DEFAULT_PARAMS, reserveKiB: 0 };
  const dom0 = { currentKiB: 512 * MIB, committedKiB: 512 * MIB, minKiB: 256 * MIB, maxKiB: 1024 * MIB };
  const d = decide(
    input(params, 4096 * MIB, dom0, [guest('u', { minKiB: 131073, maxKiB: 524287, committedKiB: 1024 * MIB })]),
  );
  assert.equal(d.state, 'abundant');
  assert.deepEqual(d.guests[0], { id: 'u', mode: 'self', goalKiB: 524284, targetKiB: 524284 });
});

test('bonus: what a capped guest cannot take goes to the others in proportion to Nt, not evenly', () => {
  // reserve 0, F = F' = 204800 (Dom0 at its commit). a capped at 300000; b as before;
  // c like b but F = 65536 (A = 196608, tau*A = 147456, c = 0.25). All commit 600000: scarce.
  // sum tau*A = 147456 + 98304 + 147456 = 393216; sum c = 0.30 + 0.25 + 0.25 = 0.80;
  // M = 786432: t = (786432 - 393216) / 0.8 = 491520.
  // Nt_a = 147456 + 0.30 t = 294912 (< 300000), Nt_b = 98304 + 0.25 t = 221184,
  // Nt_c = 147456 + 0.25 t = 270336 (sum 786432).
  // Bonus factor 1 + 204800 / 786432 would put a at 371712: a = 300000. The rest,
  // 786432 + 204800 - 300000 = 691232, goes to b and c in proportion 221184 : 270336 = 0.45 : 0.55
  // -> b = 311054.4 (77763.6 pages), c = 380177.6 (95044.4 pages); odd page to b:
  // b = 311056, c = 380176.
  // Steps (up 2): a +37856/2 = 18928, b +48912/2 = 24456, c +118032/2 = 59016 (sum 102400 <= F).
  const params = { ...PAPER, reserveKiB: 0, upRatio: 2, downRatio: 4 };
  const dom0 = { currentKiB: 512 * MIB, committedKiB: 512 * MIB, minKiB: 256 * MIB, maxKiB: 1024 * MIB };
  const d = decide(
    input(params, 204800, dom0, [
      { ...a, maxKiB: 300000, committedKiB: 600000 },
      { ...b, committedKiB: 600000 },
      { ...b, id: 'c', freeKiB: 65536, committedKiB: 600000 },
    ]),
  );
  assert.ok(d.price !== null && Math.abs(d.price - 0.8 / 393216) < 1e-15);
  assert.deepEqual(d.guests, [
    { id: 'a', mode: 'global', goalKiB: 300000, targetKiB: 281072 },
    { id: 'b', mode: 'global', goalKiB: 311056, targetKiB: 286600 },
    { id: 'c', mode: 'global', goalKiB: 380176, targetKiB: 321160 },
  ]);
});

test('the paper price with t < 0: more swap use lowers a goal (why the swap property is narrowed)', () => {
  // Dom0 reclaims so much that M = 393216 - 195904 = 197312 is below sum tau*A = 235929.6
  // (a and b: A = 131072, tau = 0.9): t < 0, every price negative, and Nt_i = tau*A_i + c_i*t
  // falls as c_i grows. a swapping more (c_a from 0.1 to 1.1) therefore loses memory to b.
  const g = (id: string, swapFreeKiB: number) =>
    guest(id, { minKiB: 0, maxKiB: 1024 * MIB, currentKiB: 131072, committedKiB: 1024 * MIB, freeKiB: 0, swapTotalKiB: 1024, swapFreeKiB });
  const params = { tau: 0.9, eps: 1, reserveKiB: 0, upRatio: 1, downRatio: 1 };
  const dom0 = { currentKiB: 4096, committedKiB: 200000, minKiB: 0, maxKiB: 400000 };
  const c = guest('c', { minKiB: 0, maxKiB: 1024 * MIB, currentKiB: 131072, committedKiB: 1024 * MIB, freeKiB: 131072 });
  const before = decide(input(params, 0, dom0, [g('a', 1024), g('b', 1024), c]));
  const after = decide(input(params, 0, dom0, [g('a', 0), g('b', 1024), c]));
  assert.ok(before.price !== null && before.price < 0);
  assert.ok(after.guests[0]!.goalKiB < before.guests[0]!.goalKiB);
});

test('commit cap: a guest committing less than its floor gets its floor, the rest goes to the guest short of memory', () => {
  // paper-mixed in small: a compute guest (commit 100 MiB, under its 128 MiB floor) next to a
  // memory guest committing 400 MiB, both at 214 MiB = 219136; reserve 0, host free 14 MiB:
  // F = F' = 14336 (Dom0 at its commit). no swap: c = 0.25 each.
  //   c: F = 153600 -> A = 65536, tau*A = 49152; MC_c = clamp(102400, 131072, 524288) = 131072
  //   m: F = 4096 -> A = 215040, tau*A = 161280; MC_m = 409600
  // need = (131072 - 219136) + (409600 - 219136) = 102400 > F' -> scarce. M = 438272.
  // The paper's bounds [L, H] would give t = (438272 - 210432) / 0.5 = 455680, Nt_c = 163072
  // (35 MiB above c's floor, for memory c has not asked for) and Nt_m = 275200.
  // With the cap [L, MC]: c's term is pinned at 131072 (L_c = MC_c); m takes the rest,
  // Nt_m = 438272 - 131072 = 307200 = 161280 + 0.25 t -> t = 583680 (price 1/583680).
  // Bonus: c is at its cap, so all of F' goes to m: 307200 + 14336 = 321536 (<= MC_m). Sum
  // 452608 = M + F': nothing is lost to the cap.
  // Steps (up 1, down 4): c down by 88064 / 4 = 22016 -> 197120; m wants +102400, F = 14336
  // is all that is free now -> 233472.
  const params = { ...PAPER, reserveKiB: 0, upRatio: 1, downRatio: 4 };
  const dom0 = { currentKiB: 256 * MIB, committedKiB: 256 * MIB, minKiB: 256 * MIB, maxKiB: 512 * MIB };
  const c = guest('c', { currentKiB: 219136, committedKiB: 100 * MIB, freeKiB: 153600 });
  const m = guest('m', { currentKiB: 219136, committedKiB: 400 * MIB, freeKiB: 4096 });
  const d = decide(input(params, 14336, dom0, [c, m]));
  assert.equal(d.state, 'scarce');
  assert.ok(d.price !== null && Math.abs(d.price - 1 / 583680) < 1e-15);
  assert.deepEqual(d.guests, [
    { id: 'c', mode: 'global', goalKiB: 131072, targetKiB: 197120 },
    { id: 'm', mode: 'global', goalKiB: 321536, targetKiB: 233472 },
  ]);
});

test('commit cap under a Dom0 shortfall: guests go to their commits, what Dom0 does not need stays free', () => {
  // reserve 0, host free 0: F = 0. Dom0 512 -> 576 MiB: d = 65536 > F, shortfall 65536,
  // freeable = 2 * (262144 - 131072) -> reclaim 65536, scarce, F' = 0. M = 524288 - 65536 = 458752.
  // Both guests commit 100 MiB: MC = 131072 (their floor); sum MC = 262144 < M, so the caps
  // bind: both goals 131072, Dom0 gets 589824, and 458752 - 262144 = 196608 is left free
  // (self adjustment would shrink them to MC too). The price is whatever t pins both at their
  // bounds, so it is not checked. Steps (down 4): 262144 - 131072 / 4 = 229376; Dom0's increase
  // waits for memory free now (none).
  const params = { ...PAPER, reserveKiB: 0, upRatio: 1, downRatio: 4 };
  const dom0 = { currentKiB: 512 * MIB, committedKiB: 576 * MIB, minKiB: 256 * MIB, maxKiB: 1024 * MIB };
  const g = (id: string) => guest(id, { committedKiB: 100 * MIB });
  const d = decide(input(params, 0, dom0, [g('x'), g('y')]));
  assert.equal(d.state, 'scarce');
  assert.equal(d.overcommitted, false);
  assert.deepEqual(d.dom0, { goalKiB: 589824, targetKiB: 524288, reclaimKiB: 65536 });
  assert.deepEqual(d.guests, [
    { id: 'x', mode: 'global', goalKiB: 131072, targetKiB: 229376 },
    { id: 'y', mode: 'global', goalKiB: 131072, targetKiB: 229376 },
  ]);
});
