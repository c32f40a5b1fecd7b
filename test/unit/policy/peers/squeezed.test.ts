// squeezed peer: every balanced guest at the same fraction of [min, max], no guest data used.
// Every expected number below is worked out by hand in the comment next to it.
import { deepStrictEqual, strictEqual } from 'node:assert/strict';
import { describe, it } from 'node:test';
import { squeezed } from '../../../../src/policy/peers/squeezed.ts';
import { byId, guest, input, MiB } from './inputs.ts';

const a = guest('a', { minKiB: 256 * MiB, maxKiB: 1024 * MiB, currentKiB: 512 * MiB });
const b = guest('b', { minKiB: 512 * MiB, maxKiB: 2048 * MiB, currentKiB: 1024 * MiB });

describe('squeezed peer', () => {
  it('puts every guest at the same fraction of its range', () => {
    // Surplus = 384 MiB free after squeezed's 72 MiB host free target + (512-256) + (1024-512) = 1152 MiB over a total
    // range of 768 + 1536 = 2304 MiB: gamma = 0.5. a: 256 + 384 = 640 MiB, b: 512 + 768 = 1280.
    const d = squeezed(input((72 + 384) * MiB, [a, b]));
    strictEqual(byId(d.guests, 'a').goalKiB, 640 * MiB);
    strictEqual(byId(d.guests, 'b').goalKiB, 1280 * MiB);
    // Both rise, 128 + 256 = 384 MiB: exactly what is free, so both land this tick.
    strictEqual(byId(d.guests, 'a').targetKiB, 640 * MiB);
    strictEqual(byId(d.guests, 'b').targetKiB, 1280 * MiB);
    strictEqual(d.state, 'scarce');
    strictEqual(byId(d.guests, 'a').mode, 'global');
  });

  it('uses no guest data: Committed_AS, MemFree and swap change nothing', () => {
    const base = squeezed(input((72 + 384) * MiB, [a, b]));
    const busy = { committedKiB: 8192 * MiB, freeKiB: 0, swapTotalKiB: 1024 * MiB, swapFreeKiB: 0 };
    const idle = { committedKiB: 0, freeKiB: 900 * MiB, swapTotalKiB: 0, swapFreeKiB: 0 };
    deepStrictEqual(squeezed(input((72 + 384) * MiB, [{ ...a, ...busy }, { ...b, ...idle }])), base);
  });

  it('frees first: a rising guest waits while another still has to give memory back', () => {
    // a at 900 MiB (644 above min), b at 600 (88 above min), 100 MiB free above the 72 MiB target:
    // gamma = (100 + 732) / 2304 = 0.36111. a: 262144 + pageDown(0.36111 x 786432 = 283989.3)
    // = 546132 KiB, below its 900 MiB: it frees. b: 524288 + pageDown(567978.7) = 1092264 KiB.
    const d = squeezed(input(172 * MiB, [{ ...a, currentKiB: 900 * MiB }, { ...b, currentKiB: 600 * MiB }]));
    strictEqual(byId(d.guests, 'a').targetKiB, 546132);
    strictEqual(byId(d.guests, 'b').goalKiB, 1092264);
    // b waits at 600 MiB although 100 MiB are free.
    strictEqual(byId(d.guests, 'b').targetKiB, 600 * MiB);
  });

  it('puts everyone at max when the surplus covers every range', () => {
    const d = squeezed(input(8192 * MiB, [a, b]));
    strictEqual(d.state, 'abundant');
    strictEqual(byId(d.guests, 'a').goalKiB, 1024 * MiB);
    strictEqual(byId(d.guests, 'b').goalKiB, 2048 * MiB);
  });

  it('leaves Dom0 alone (squeezed does not manage Dom0) and holds agentless guests', () => {
    const silent = guest('s', { agent: false, currentKiB: 300 * MiB });
    const d = squeezed(input(8192 * MiB, [a, silent], { currentKiB: 1024 * MiB, committedKiB: 3000 * MiB }));
    deepStrictEqual(d.dom0, { goalKiB: 1024 * MiB, targetKiB: 1024 * MiB, reclaimKiB: 0 });
    deepStrictEqual(byId(d.guests, 's'), { id: 's', mode: 'held', goalKiB: 300 * MiB, targetKiB: 300 * MiB });
  });
});
