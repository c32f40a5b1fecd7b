// Properties every peer must have: bounds held, never more handed out in one decision than is
// free after the peer's OWN reserve (qmemman keeps 0.9 x 50 MiB while raising, squeezed 72 MiB;
// selfballoon's drivers and MOM keep none: the hypervisor grants them what it has, first come
// first served, and the simulator's invariant checker reports any breach of the host's reserve),
// every target a step from current toward the goal, and the same input always gives the same
// decision (and is left untouched).
import { deepStrictEqual, ok, strictEqual } from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PEER_POLICIES } from '../../../../src/policy/peers/index.ts';
import { ACCEPTOR_MARGIN, XEN_FREE_MEM_LEFT_KIB } from '../../../../src/policy/peers/qmemman.ts';
import { TARGET_HOST_FREE_KIB } from '../../../../src/policy/peers/squeezed.ts';
import type { DecideInput, Decision } from '../../../../src/policy/types.ts';
import { inputArb } from '../arbitraries.ts';

const RUNS = 300;

/** Page-aligned inputs (as hypervisors report them), and the same with bounds and free off-page. */
const aligned = inputArb({ maxGuests: 8 });
const unaligned: fc.Arbitrary<DecideInput> = fc
  .tuple(aligned, fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })), { minLength: 9, maxLength: 9 }), fc.integer({ min: 0, max: 3 }))
  .map(([x, offs, f]) => {
    const off = (i: number): [number, number] => offs[i] ?? [0, 0];
    const [a0, b0] = off(0);
    return {
      ...x,
      host: { freeKiB: x.host.freeKiB + f },
      dom0: { ...x.dom0, minKiB: Math.max(0, x.dom0.minKiB - a0), maxKiB: x.dom0.maxKiB + b0 },
      guests: x.guests.map((g, i) => {
        const [a, b] = off(i + 1);
        return { ...g, minKiB: Math.max(0, g.minKiB - a), maxKiB: g.maxKiB + b };
      }),
    };
  });
const inputs = fc.oneof(aligned, unaligned);

const between = (x: number, a: number, b: number): boolean => Math.min(a, b) <= x && x <= Math.max(a, b);

/** The reserve each peer keeps when it raises a domain; null: none, it takes what the hypervisor grants. */
const OWN_RESERVE_KIB: Record<string, number | null> = {
  static: 0,
  qmemman: ACCEPTOR_MARGIN * XEN_FREE_MEM_LEFT_KIB,
  squeezed: TARGET_HOST_FREE_KIB,
  selfballoon: null,
  mom: null,
};

function checkSafety(name: string, x: DecideInput, d: Decision): void {
  const reserve = OWN_RESERVE_KIB[name];
  const spare = reserve === null || reserve === undefined ? Infinity : Math.max(0, x.host.freeKiB - reserve);
  const { dom0 } = x;
  ok(between(d.dom0.targetKiB, dom0.minKiB, dom0.maxKiB), `${name}: Dom0 target ${d.dom0.targetKiB} out of bounds`);
  ok(between(d.dom0.goalKiB, dom0.minKiB, dom0.maxKiB), `${name}: Dom0 goal out of bounds`);
  ok(between(d.dom0.targetKiB, dom0.currentKiB, d.dom0.goalKiB), `${name}: Dom0 target not toward its goal`);
  let handedOut = Math.max(0, d.dom0.targetKiB - dom0.currentKiB);
  strictEqual(d.guests.length, x.guests.length);
  x.guests.forEach((g, i) => {
    const out = d.guests[i];
    if (out === undefined) throw new Error('missing guest');
    strictEqual(out.id, g.id);
    ok(Number.isInteger(out.goalKiB) && Number.isInteger(out.targetKiB), `${name}: non-integer KiB`);
    ok(between(out.targetKiB, g.minKiB, g.maxKiB), `${name}: ${g.id} target ${out.targetKiB} outside [${g.minKiB}, ${g.maxKiB}]`);
    ok(between(out.goalKiB, g.minKiB, g.maxKiB), `${name}: ${g.id} goal ${out.goalKiB} out of bounds`);
    ok(between(out.targetKiB, g.currentKiB, out.goalKiB), `${name}: ${g.id} target past its goal`);
    if (!g.agent) deepStrictEqual(out, { id: g.id, mode: 'held', goalKiB: g.currentKiB, targetKiB: g.currentKiB });
    handedOut += Math.max(0, out.targetKiB - g.currentKiB);
  });
  ok(handedOut <= spare, `${name}: handed out ${handedOut} KiB with ${spare} KiB free after the reserve`);
}

describe('every peer policy', () => {
  it('is registered under the five names the simulator compares', () => {
    deepStrictEqual(Object.keys(PEER_POLICIES).sort(), ['mom', 'qmemman', 'selfballoon', 'squeezed', 'static']);
  });

  for (const [name, policy] of Object.entries(PEER_POLICIES)) {
    it(`${name}: holds bounds, hands out no more than is free, steps toward its goals`, () => {
      fc.assert(
        fc.property(inputs, (x) => checkSafety(name, x, policy(x))),
        { numRuns: RUNS },
      );
    });

    it(`${name}: is deterministic and leaves its input untouched`, () => {
      fc.assert(
        fc.property(inputs, (raw) => {
          // Plain objects (fast-check's records have a null prototype, which deepStrictEqual sees).
          const x = JSON.parse(JSON.stringify(raw)) as DecideInput;
          const copy = structuredClone(x);
          const first = policy(x);
          deepStrictEqual(x, copy);
          deepStrictEqual(policy(copy), first);
        }),
        { numRuns: RUNS },
      );
    });
  }

  it('labels modes as the comparison expects: self for selfballoon, held for static, global else', () => {
    const expected: Record<string, string> = { static: 'held', selfballoon: 'self', qmemman: 'global', squeezed: 'global', mom: 'global' };
    fc.assert(
      fc.property(inputArb({ maxGuests: 4, allAgents: true }), (x) => {
        for (const [name, policy] of Object.entries(PEER_POLICIES)) {
          for (const g of policy(x).guests) strictEqual(g.mode, expected[name], name);
        }
      }),
      { numRuns: 50 },
    );
  });
});
