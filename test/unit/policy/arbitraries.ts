// fast-check generators for policy inputs (not a test file itself). Every KiB value is a whole
// number of pages, as the hypervisors report them, so the page-exact properties can be stated
// exactly; unaligned input is covered by the hand-computed cases.
import fc from 'fast-check';
import { PAGE_KIB } from '../../../src/policy/pages.ts';
import type { DecideInput, Dom0Input, GuestInput, PolicyParams } from '../../../src/policy/types.ts';

const pages = (min: number, max: number) => fc.integer({ min, max }).map((p) => p * PAGE_KIB);

export const paramsArb: fc.Arbitrary<PolicyParams> = fc.record({
  tau: fc.double({ min: 0, max: 0.95, noNaN: true }),
  eps: fc.double({ min: 0, max: 1, noNaN: true }),
  reserveKiB: pages(0, 20_000),
  upRatio: fc.integer({ min: 1, max: 8 }),
  downRatio: fc.integer({ min: 1, max: 8 }),
});

/** A guest whose allocation lies within its bounds and whose MemFree fits in it. */
export function guestArb(id: string, agent: fc.Arbitrary<boolean> = fc.boolean()): fc.Arbitrary<GuestInput> {
  return fc
    .record({
      minP: fc.integer({ min: 0, max: 60_000 }),
      spanP: fc.integer({ min: 0, max: 200_000 }),
      curFrac: fc.double({ min: 0, max: 1, noNaN: true }),
      freeFrac: fc.double({ min: 0, max: 1, noNaN: true }),
      committedKiB: pages(0, 400_000),
      swapTotalKiB: fc.oneof(fc.constant(0), pages(1, 200_000)),
      swapFrac: fc.double({ min: 0, max: 1, noNaN: true }),
      shares: fc.integer({ min: 1, max: 4 }),
      agent,
    })
    .map((r) => {
      const curP = r.minP + Math.round(r.spanP * r.curFrac);
      return {
        id,
        minKiB: r.minP * PAGE_KIB,
        maxKiB: (r.minP + r.spanP) * PAGE_KIB,
        currentKiB: curP * PAGE_KIB,
        committedKiB: r.committedKiB,
        freeKiB: Math.round(curP * r.freeFrac) * PAGE_KIB,
        swapTotalKiB: r.swapTotalKiB,
        swapFreeKiB: Math.round((r.swapTotalKiB / PAGE_KIB) * r.swapFrac) * PAGE_KIB,
        shares: r.shares,
        agent: r.agent,
      };
    });
}

export const dom0Arb: fc.Arbitrary<Dom0Input> = fc
  .record({
    minP: fc.integer({ min: 0, max: 100_000 }),
    spanP: fc.integer({ min: 0, max: 300_000 }),
    curFrac: fc.double({ min: 0, max: 1, noNaN: true }),
    committedKiB: pages(0, 500_000),
  })
  .map((r) => ({
    minKiB: r.minP * PAGE_KIB,
    maxKiB: (r.minP + r.spanP) * PAGE_KIB,
    currentKiB: (r.minP + Math.round(r.spanP * r.curFrac)) * PAGE_KIB,
    committedKiB: r.committedKiB,
  }));

export interface InputOptions {
  maxGuests?: number;
  /** Every guest runs an agent. */
  allAgents?: boolean;
}

export function inputArb(opts: InputOptions = {}): fc.Arbitrary<DecideInput> {
  const maxGuests = opts.maxGuests ?? 8;
  // Two in three guests run an agent, unless every one must.
  const agent = opts.allAgents ? fc.constant(true) : fc.constantFrom(true, true, false);
  return fc
    .record({
      params: paramsArb,
      hostFreeKiB: pages(0, 400_000),
      dom0: dom0Arb,
      n: fc.integer({ min: 1, max: maxGuests }),
      agents: fc.array(agent, { minLength: maxGuests, maxLength: maxGuests }),
    })
    .chain((r) =>
      fc
        .tuple(...Array.from({ length: r.n }, (_, i) => guestArb(`g${i}`, fc.constant(r.agents[i]!))))
        .map((guests) => ({ params: r.params, host: { freeKiB: r.hostFreeKiB }, dom0: r.dom0, guests })),
    );
}
