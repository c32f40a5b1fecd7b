// The paper's policy as written (src/policy/paper.ts), on cases worked out by hand from the
// paper's formulas (docs/algorithm.md): Algorithm 3's equal price, the bonus in proportion to
// Nt_i, Algorithm 2's ratio steps with no minimum step, and no commit cap. And memcoop's rules
// switched off one by one (params.rules) against the same cases.
import { strictEqual, deepStrictEqual } from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide } from '../../../src/policy/decide.ts';
import { paper } from '../../../src/policy/paper.ts';
import { NO_RULES } from '../../../src/policy/rules.ts';
import { byId, guest, input, MiB } from './peers/inputs.ts';

// a: 400 MiB, 300 free -> A = 100 MiB; b: 400 MiB, 100 free -> A = 300 MiB. No swap: c = 0.25.
// Dom0 at its need (1024 committed, 1024 now). Host free 110 MiB: F = 110 - 50 = 60 MiB.
// b commits 450 MiB: need = (600 - 400) + (450 - 400) = 250 MiB > 60: scarce.
const a = guest('a', { currentKiB: 400 * MiB, freeKiB: 300 * MiB, committedKiB: 600 * MiB, minKiB: 128 * MiB, maxKiB: 1024 * MiB });
const b = guest('b', { currentKiB: 400 * MiB, freeKiB: 100 * MiB, committedKiB: 450 * MiB, minKiB: 128 * MiB, maxKiB: 1024 * MiB });
const scarce = input(110 * MiB, [a, b], { currentKiB: 1024 * MiB, committedKiB: 1024 * MiB });

describe('the paper policy', () => {
  it('balances at one price and hands out the bonus in proportion, with no commit cap', () => {
    // M = 800 MiB. t = (M - tau sum A) / sum c = (800 - 0.75 x 400) / 0.5 = 1000 MiB.
    // Nt_a = 0.75 x 100 + 0.25 x 1000 = 325 MiB, Nt_b = 225 + 250 = 475 MiB (above b's 450 MiB
    // commit: the paper does not cap). Bonus 60 MiB in proportion to Nt: x (1 + 60/800):
    // T_a = 349.375 MiB = 357760 KiB, T_b = 510.625 MiB = 522880 KiB.
    const d = paper(scarce);
    strictEqual(d.state, 'scarce');
    strictEqual(byId(d.guests, 'a').goalKiB, 357760);
    strictEqual(byId(d.guests, 'b').goalKiB, 522880);
    strictEqual(d.price, 1 / (1000 * MiB));
    // Steps: a down by (409600 - 357760) / 4 = 12960 KiB -> 396640; b up by the whole gap
    // (up ratio 1), 113280 KiB, but only F = 61440 KiB is free now -> 471040.
    strictEqual(byId(d.guests, 'a').targetKiB, 396640);
    strictEqual(byId(d.guests, 'b').targetKiB, 471040);
    strictEqual(d.dom0.targetKiB, 1024 * MiB);
  });

  it('differs from memcoop exactly by the commit cap here', () => {
    // memcoop bounds b by its 450 MiB commit: b's goal is 450 MiB and a takes the rest.
    const m = decide(scarce);
    strictEqual(byId(m.guests, 'b').goalKiB, 450 * MiB);
    // With the commit cap off, memcoop's decision is the paper's on this input.
    deepStrictEqual(decide({ ...scarce, params: { ...scarce.params, rules: { commitCap: false } } }), paper(scarce));
  });

  it('steps by the ratio with no minimum step: a quarter of a 1 MiB gap is 256 KiB', () => {
    // Abundant (plenty free): the goal is MC = 399 MiB, 1 MiB below the 400 MiB allocation.
    const g = guest('g', { currentKiB: 400 * MiB, committedKiB: 399 * MiB, minKiB: 128 * MiB, maxKiB: 1024 * MiB });
    const x = input(4096 * MiB, [g], { currentKiB: 1024 * MiB, committedKiB: 1024 * MiB });
    strictEqual(paper(x).state, 'abundant');
    strictEqual(byId(paper(x).guests, 'g').targetKiB, 400 * MiB - 256);
    // memcoop's minimum step (4 MiB, or the whole gap if less) closes it at once ...
    strictEqual(byId(decide(x).guests, 'g').targetKiB, 399 * MiB);
    // ... and without it, memcoop steps as the paper does.
    strictEqual(byId(decide({ ...x, params: { ...x.params, rules: { minStep: false } } }).guests, 'g').targetKiB, 400 * MiB - 256);
    // A gap of a page or less is closed whole (a balloon moves in pages).
    const near = guest('g', { currentKiB: 400 * MiB, committedKiB: 400 * MiB - 4, minKiB: 128 * MiB, maxKiB: 1024 * MiB });
    strictEqual(byId(paper(input(4096 * MiB, [near])).guests, 'g').targetKiB, 400 * MiB - 4);
  });

  it('serves Dom0 first and reclaims its shortfall from the guests', () => {
    // Dom0 needs 1124 MiB (100 more); F = 60 MiB: shortfall 40 MiB comes out of M = 800 - 40.
    // t = (760 - 300) / 0.5 = 920 MiB: Nt_a = 75 + 230 = 305 MiB, Nt_b = 225 + 230 = 455 MiB.
    const d = paper({ ...scarce, dom0: { ...scarce.dom0, committedKiB: 1124 * MiB } });
    strictEqual(d.dom0.reclaimKiB, 40 * MiB);
    strictEqual(d.dom0.goalKiB, 1124 * MiB);
    strictEqual(d.dom0.targetKiB, 1084 * MiB); // +60 MiB: all that is free now
    strictEqual(byId(d.guests, 'a').goalKiB, 305 * MiB);
    strictEqual(byId(d.guests, 'b').goalKiB, 455 * MiB);
  });

  it('is memcoop with every rule off (the rules decide() applies)', () => {
    const off = { ...scarce, params: { ...scarce.params, rules: { ...NO_RULES } } };
    deepStrictEqual(decide(off), paper(scarce));
  });
});
