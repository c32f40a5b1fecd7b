// The sweep (`memcoop sim --sweep`): its JSON line's shape as a real process prints it, the same
// answer in one process or split over two, and a peer that breaks an invariant has the breach
// reported against it (not funded into safety by memcoop's arbiter).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadScenario } from '../../../src/sim/scenario.ts';
import { aggregate, atFreeLevel, runJob, SWEEP_POLICIES, type JobResult } from '../../../src/sim/sweep.ts';

const ROOT = join(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'bin/memcoop.mjs');
const out = mkdtempSync(join(tmpdir(), 'memcoop-sweep-'));
after(() => rmSync(out, { recursive: true, force: true }));

function sweep(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'sim', '--sweep', '--quick', '--json', '--out', out, ...args], { encoding: 'utf8', cwd: ROOT });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('memcoop sim --sweep', () => {
  let oneProcess: { rows: { scenario: string; freeKiB: number; policy: string; score: number }[] };

  it('ends with {"rows": [...]}: one row per scenario, level and policy, each with exactly scenario, freeKiB, policy, score', () => {
    const r = sweep(['--jobs', '1']);
    assert.equal(r.code, 0, r.stderr);
    const last = r.stdout.trim().split('\n').pop()!;
    oneProcess = JSON.parse(last);
    assert.deepEqual(Object.keys(oneProcess), ['rows']);
    const policies = ['static', ...SWEEP_POLICIES];
    // --quick: paper-memory-memory at 0 and 256 MiB.
    assert.equal(oneProcess.rows.length, 2 * policies.length);
    for (const row of oneProcess.rows) {
      assert.deepEqual(Object.keys(row), ['scenario', 'freeKiB', 'policy', 'score']);
      assert.equal(row.scenario, 'paper-memory-memory');
      assert.ok([0, 256 * 1024].includes(row.freeKiB));
      assert.ok(policies.includes(row.policy));
      assert.ok(Number.isFinite(row.score) && row.score > 0);
      if (row.policy === 'static') assert.equal(row.score, 1);
    }
    for (const f of [0, 256 * 1024]) for (const p of policies) assert.equal(oneProcess.rows.filter((x) => x.freeKiB === f && x.policy === p).length, 1);
    // With 256 MiB free memcoop beats static; the table and the plot were written.
    assert.ok(oneProcess.rows.find((x) => x.freeKiB > 0 && x.policy === 'memcoop')!.score < 1);
    assert.match(r.stdout, /paper-memory-memory\s+256/);
    assert.match(readFileSync(join(out, 'sweep.svg'), 'utf8'), /^<svg/);
  });

  it('gives the same rows split over two processes', () => {
    const r = sweep(['--jobs', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), oneProcess);
  });

  it('refuses a bad option with one line and exit 2', () => {
    const r = spawnSync(process.execPath, [BIN, 'sim', '--sweep', '--levels', 'lots'], { encoding: 'utf8', cwd: ROOT });
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /--levels/);
  });
});

describe('a peer that breaks an invariant', () => {
  it('has the breach reported against it: selfballoon drivers take the host reserve, memcoop keeps it', async () => {
    const s = loadScenario('paper-memory-memory');
    const job = (policy: string) => ({ scenario: s.name, freeKiB: 0, seed: 1, variant: { label: policy, policy } });
    const self = await runJob(s, job('selfballoon'));
    const ours = await runJob(s, job('memcoop'));
    // With no free memory, the drivers raise their targets anyway: the hypervisor has nothing
    // above the 50 MiB reserve, so every such raise breaks the two-phase rule.
    assert.ok((self.violations['two-phase'] ?? 0) > 0, JSON.stringify(self.violations));
    assert.deepEqual(ours.violations, {});
    const rows = aggregate([{ ...self, label: 'static', violations: {} } as JobResult, self, ours]);
    assert.ok(Object.keys(rows.find((r) => r.policy === 'selfballoon')!.violations).includes('two-phase'));
  });

  it('sizes the host so that exactly the level is free at start', () => {
    const s = loadScenario('paper-4vm');
    const at = atFreeLevel(s, 64 * 1024);
    assert.equal(at.sim.hostTotalKiB - at.sim.dom0.initialKiB - at.sim.guests.reduce((a, g) => a + g.initialKiB, 0), 64 * 1024);
  });
});
