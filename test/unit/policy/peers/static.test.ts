// static peer: nothing moves, whatever the guests or the host need.
import { deepStrictEqual, strictEqual } from 'node:assert/strict';
import { describe, it } from 'node:test';
import { staticPolicy } from '../../../../src/policy/peers/static.ts';
import { guest, input, MiB } from './inputs.ts';

describe('static peer', () => {
  it('holds every guest and Dom0 where they are', () => {
    const starving = guest('a', { currentKiB: 256 * MiB, committedKiB: 2048 * MiB, freeKiB: 0 });
    const idle = guest('b', { currentKiB: 2048 * MiB, committedKiB: 64 * MiB, freeKiB: 1900 * MiB });
    const d = staticPolicy(input(8192 * MiB, [starving, idle], { currentKiB: 1024 * MiB, committedKiB: 3000 * MiB }));
    deepStrictEqual(d.dom0, { goalKiB: 1024 * MiB, targetKiB: 1024 * MiB, reclaimKiB: 0 });
    deepStrictEqual(d.guests, [
      { id: 'a', mode: 'held', goalKiB: 256 * MiB, targetKiB: 256 * MiB },
      { id: 'b', mode: 'held', goalKiB: 2048 * MiB, targetKiB: 2048 * MiB },
    ]);
    // Reported, not acted on: a's 1792 MiB need is covered by 8142 MiB free.
    strictEqual(d.state, 'abundant');
    strictEqual(staticPolicy(input(100 * MiB, [starving, idle])).state, 'scarce');
  });
});
