// The KVM host's arithmetic: the pool as host free memory with the host's own need as Dom0
// (pool.ts), and the per-guest overhead between balloon size and usable memory (overhead.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { memAvailableKiB, poolSample } from '../../../../src/hosts/kvm/pool.ts';
import { OVERHEAD_SAMPLES, OverheadEstimate, balloonOf, usableOf } from '../../../../src/hosts/kvm/overhead.ts';

const MIB = 1024;

describe('pool', () => {
  test('free is the pool less the balloons and Dom0\'s grant', () => {
    const p = poolSample({ poolKiB: 1024 * MIB, actualsKiB: [512 * MIB, 256 * MIB], dom0GrantKiB: 0, hostAvailableKiB: 8192 * MIB, hostMinAvailableKiB: 256 * MIB });
    assert.equal(p.freeKiB, 256 * MIB);
    assert.equal(p.overKiB, 0);
    assert.deepEqual(p.dom0, { currentKiB: 0, committedKiB: 0 });
  });

  test('guests above the pool: free 0 and the excess named', () => {
    const p = poolSample({ poolKiB: 700 * MIB, actualsKiB: [512 * MIB, 512 * MIB], dom0GrantKiB: 0, hostAvailableKiB: null, hostMinAvailableKiB: 256 * MIB });
    assert.equal(p.freeKiB, 0);
    assert.equal(p.overKiB, 324 * MIB);
  });

  test('a host short of MemAvailable commits its shortfall as Dom0; a recovered one lets the grant go', () => {
    const short = poolSample({ poolKiB: 1024 * MIB, actualsKiB: [512 * MIB], dom0GrantKiB: 0, hostAvailableKiB: 200 * MIB, hostMinAvailableKiB: 256 * MIB });
    assert.deepEqual(short.dom0, { currentKiB: 0, committedKiB: 56 * MIB });
    const granted = poolSample({ poolKiB: 1024 * MIB, actualsKiB: [512 * MIB], dom0GrantKiB: 56 * MIB, hostAvailableKiB: 300 * MIB, hostMinAvailableKiB: 256 * MIB });
    assert.equal(granted.freeKiB, (1024 - 512 - 56) * MIB);
    assert.deepEqual(granted.dom0, { currentKiB: 56 * MIB, committedKiB: 12 * MIB });
  });

  test('MemAvailable from the host\'s meminfo', () => {
    assert.equal(memAvailableKiB('MemTotal:       24576000 kB\nMemFree:  100 kB\nMemAvailable:   20000000 kB\n'), 20000000);
    assert.equal(memAvailableKiB('MemTotal: 1 kB\n'), null);
  });
});

describe('overhead', () => {
  test('the default until a settled sample, then the median of the kept ones', () => {
    const o = new OverheadEstimate(55 * MIB, 128 * MIB);
    assert.equal(o.kib, 55 * MIB);
    assert.ok(!o.measured);
    assert.ok(o.add(512 * MIB, 457 * MIB));
    assert.equal(o.kib, 55 * MIB);
    o.add(512 * MIB, 450 * MIB); // 62 MiB outlier
    o.add(512 * MIB, 457 * MIB);
    assert.equal(o.kib, 55 * MIB);
    for (let i = 0; i < OVERHEAD_SAMPLES; i++) o.add(128 * MIB, 70 * MIB);
    assert.equal(o.kib, 58 * MIB); // old samples aged out
  });

  test('out-of-bounds samples are refused (a guest cannot buy balloon by lying about MemTotal)', () => {
    const o = new OverheadEstimate(55 * MIB, 128 * MIB);
    assert.equal(o.add(512 * MIB, 100 * MIB), false);
    assert.equal(o.add(512 * MIB, 600 * MIB), false);
    assert.equal(o.kib, 55 * MIB);
  });

  test('usable and balloon: a 128 MiB balloon is a 73 MiB guest; targets capped at boot size', () => {
    assert.equal(usableOf(128 * MIB, 55 * MIB), 73 * MIB);
    assert.equal(balloonOf(73 * MIB, 55 * MIB, 512 * MIB), 128 * MIB);
    assert.equal(balloonOf(500 * MIB, 55 * MIB, 512 * MIB), 512 * MIB);
    assert.equal(usableOf(10 * MIB, 55 * MIB), 0);
  });
});

describe('kernel share', () => {
  test('the largest recent lower bound MemTotal - MemAvailable - Committed_AS, within its maximum', async () => {
    const { KernelShare, KERNEL_SHARE_SAMPLES } = await import('../../../../src/hosts/kvm/overhead.ts');
    const k = new KernelShare(64 * MIB);
    assert.equal(k.kib, 0);
    k.add(64 * MIB, 30 * MIB, 6 * MIB); // the idle testbed guest: 28 MiB
    assert.equal(k.kib, 28 * MIB);
    k.add(263 * MIB, 5 * MIB, 263 * MIB); // under load the bound says little: the idle one stands
    assert.equal(k.kib, 28 * MIB);
    k.add(512 * MIB, 0, 0); // a lie is capped
    assert.equal(k.kib, 64 * MIB);
    for (let i = 0; i < KERNEL_SHARE_SAMPLES; i++) k.add(100 * MIB, 80 * MIB, 10 * MIB);
    assert.equal(k.kib, 10 * MIB); // old samples aged out
  });
});
