// `memcoop chart`: each machine's statechart, read from its definition, names every state in its
// SVG and its Mermaid; the supervisor's shows the regimes, the decided transitions between them
// and the handshake.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chartOf } from '../../../src/inspect/chart.ts';
import { run as chartCommand } from '../../../src/cli/chart.ts';
import { createGuestMachine } from '../../../src/machines/guest.ts';
import { createSupervisorMachine, REGIMES } from '../../../src/machines/supervisor.ts';

test('the supervisor chart: its regimes, the transitions between them, the handshake', () => {
  const c = chartOf(createSupervisorMachine());
  assert.deepEqual(c.states, ['supervisor', 'supervisor.starting', ...['abundant', 'scarce', 'reclaimingForDom0', 'overcommitted'].map((s) => `supervisor.${s}`)]);
  for (const r of REGIMES) {
    assert.ok(c.edges.some((e) => e.from === 'supervisor.starting' && e.to === `supervisor.${r}`), `starting -> ${r}`);
    assert.ok(c.svg.includes(`>${r}<`), `the SVG names ${r}`);
    assert.ok(c.mermaid.includes(`: ${r}`), `the Mermaid names ${r}`);
  }
  assert.ok(c.stays.some((s) => s.label === 'agent.hello [speaksOurProtocol] / acceptAgent'));
  assert.ok(c.stays.some((s) => s.label === 'agent.hello / refuseAgent'));
  assert.ok(c.stays.some((s) => s.state === 'supervisor.abundant' && s.label.startsWith('agent.reports [promptSelfSteps]')));
  assert.ok(c.svg.includes('agent.hello [speaksOurProtocol] / acceptAgent'));
});

test('memcoop chart writes both machines, every state named in the SVG', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'memcoop-chart-'));
  try {
    const log = console.log;
    console.log = () => {};
    try {
      assert.equal(await chartCommand(['--out', dir]), 0);
    } finally {
      console.log = log;
    }
    for (const [name, machine] of [['supervisor', createSupervisorMachine()], ['guest', createGuestMachine()]] as const) {
      const svg = readFileSync(join(dir, `${name}.svg`), 'utf8');
      assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      const c = chartOf(machine);
      for (const id of c.states) {
        const key = id.split('.').pop()!;
        assert.ok(svg.includes(`>${key}<`) || svg.includes(`>H (${key})<`), `${name}.svg names ${key}`);
      }
      assert.match(readFileSync(join(dir, `${name}.mmd`), 'utf8'), /^stateDiagram-v2\n/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
