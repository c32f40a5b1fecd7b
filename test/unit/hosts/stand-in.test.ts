// The stand-in for the hypervisor (no Xen here): domain sizes are memory/target. Its store is a
// map standing in for XenStore reads (a FAKE store: the stand-in is itself a model, and what is
// tested is which reads it makes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HypervisorStandIn, STAND_IN_READS_PER_SAMPLE } from '../../../src/hosts/xen/stand-in.ts';
import { targetPath } from '../../../src/hosts/xen/layout.ts';

test('stand-in: its own writes are sizes at once; a target written by someone else is read back within a few samples; reads per sample stay bounded', async () => {
  const N = 200;
  const keys = new Map<string, string>([[targetPath(0), '524288']]);
  for (let d = 1; d <= N; d++) keys.set(targetPath(d), '262144');
  let reads = 0;
  const store = { read: async (p: string) => (reads++, keys.get(p) ?? null) };
  const s = new HypervisorStandIn({ hostTotalKiB: 1 << 30, dom0KiB: 524288, dom0CommittedKiB: 262144 });
  const domids = Array.from({ length: N }, (_, i) => i + 1);
  await s.sample(store, domids); // the first sample reads every domain
  reads = 0;
  const again = await s.sample(store, domids);
  assert.ok(reads <= STAND_IN_READS_PER_SAMPLE + 1, `${reads} reads for a sample of ${N} known domains`);
  assert.equal(again.sizes.get(7), 262144);
  s.targetWritten(7, 300000);
  assert.equal((await s.sample(store, domids)).sizes.get(7), 300000, "memcoop's own write, without a read");
  keys.set(targetPath(150), '400000'); // xl mem-set, behind memcoop's back
  let seen = false;
  for (let i = 0; i < Math.ceil(N / STAND_IN_READS_PER_SAMPLE) + 1 && !seen; i++) seen = (await s.sample(store, domids)).sizes.get(150) === 400000;
  assert.ok(seen, 'the toolstack\'s target noticed within one pass of the window');
});
