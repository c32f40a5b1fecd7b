// The realistic guests (issue 11 part 2): their Committed_AS and working set differ as real
// ones do. A JVM with -Xms = -Xmx commits its whole heap and touches far less, then grows into
// it; a kernel build's page cache is not in Committed_AS; an idle server commits 4x what it uses.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BALLOON_MEMTOTAL_GAP_KIB, MIB } from '../../../src/hosts/sim/constants.ts';
import { committedFor, guestMemory, meminfoText } from '../../../src/hosts/sim/memory.ts';
import { loadScenario } from '../../../src/sim/scenario.ts';
import { buildWorkload, idleCommit, jvm, kernelBuild } from '../../../src/hosts/sim/workload.ts';

const ws = (p: { anonKiB: number; fileKiB: number }): number => p.anonKiB + p.fileKiB;

describe('realistic workloads', () => {
  it('a JVM commits its whole -Xmx heap from the start and touches far less, growing into it', () => {
    const w = jvm({ kind: 'jvm', xmxMiB: 448, startMiB: 64, peakMiB: 288, phases: 24, phaseS: 15, memShare: 0.08, seed: 1 });
    const first = w.phases[0]!;
    const last = w.phases.at(-1)!;
    // Committed_AS covers the heap at once: >= 448 MiB in every phase.
    for (const p of w.phases) assert.ok(committedFor(p) >= 448 * MIB, `${p.label}: ${committedFor(p)}`);
    // At first it commits more than 4x what it touches; at its peak still more than 1.5x.
    assert.ok(committedFor(first) > 4 * ws(first), `${committedFor(first)} vs ${ws(first)}`);
    assert.ok(committedFor(last) > 1.5 * ws(last));
    // It grows: the live heap at the end is several times the start.
    assert.ok(last.anonKiB > 3 * first.anonKiB);
    // and Committed_AS barely moves while it does (within 10 %: the heap was committed up front).
    assert.ok(Math.abs(committedFor(last) - committedFor(first)) < 0.1 * committedFor(first));
  });

  it("a kernel build's page cache is not in Committed_AS: it commits less than it touches", () => {
    const w = kernelBuild({ kind: 'kernel-build', seed: 4, jobs: 2, memShare: 0.15 });
    const compiles = w.phases.filter((p) => p.label.startsWith('compile'));
    for (const p of compiles) {
      assert.ok(p.fileKiB >= 160 * MIB);
      assert.ok(committedFor(p) < ws(p), `${p.label}: committed ${committedFor(p)} < touched ${ws(p)}`);
    }
    // make -j2 runs two compilers at once: more anonymous memory than -j1.
    const one = kernelBuild({ kind: 'kernel-build', seed: 4 });
    assert.ok(compiles[0]!.anonKiB > one.phases[1]!.anonKiB);
  });

  it('an idle server commits 4x what it touches for as long as it runs', () => {
    const w = idleCommit({ kind: 'idle-commit', commitMiB: 480, touchMiB: 120, seconds: 600 });
    assert.equal(w.phases.length, 60);
    for (const p of w.phases) {
      assert.equal(committedFor(p) - 64 * MIB - Math.floor(p.anonKiB * 0.1), 480 * MIB); // baseline + overstatement aside
      assert.equal(ws(p), 120 * MIB);
    }
  });

  it('reports MemTotal 55,884 KiB under the allocation, as measured on real guests', () => {
    const alloc = 512 * MIB;
    const m = guestMemory(alloc, null, 0, 512 * MIB);
    const text = meminfoText(alloc, m, 512 * MIB);
    const memTotal = Number(/MemTotal:\s+(\d+)/.exec(text)![1]);
    assert.equal(alloc - memTotal, BALLOON_MEMTOTAL_GAP_KIB);
  });

  it('ships three realistic scenarios that use them, with the balloon speeds measured on KVM', () => {
    for (const name of ['realistic-jvm-kbuild', 'realistic-idle-jvm', 'realistic-mixed']) {
      const s = loadScenario(name);
      for (const g of s.sim.guests) {
        assert.equal(g.balloon.kind, 'ideal');
        if (g.balloon.kind === 'ideal') assert.deepEqual([g.balloon.inflateKiBps, g.balloon.deflateKiBps], [37 * MIB, 110 * MIB]);
        assert.ok(buildWorkload(g.workload).phases.length > 0);
      }
    }
  });
});
