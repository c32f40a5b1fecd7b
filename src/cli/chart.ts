// memcoop chart [--out DIR]: each machine's statechart (the supervisor's regimes and handshake,
// a guest's lifecycle) as Mermaid and as SVG, read from the machines' own definitions.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chartOf } from '../inspect/chart.ts';
import { createGuestMachine } from '../machines/guest.ts';
import { createSupervisorMachine } from '../machines/supervisor.ts';
import { commandArgs } from './command-args.ts';

export const DEFAULT_CHART_DIR = join('out', 'chart');

const USAGE = `usage: memcoop chart [--out DIR]

Writes each machine's statechart, read from its definition, to DIR (default ${DEFAULT_CHART_DIR}):
  supervisor.mmd, supervisor.svg   the regimes (starting, abundant, scarce, reclaimingForDom0,
                                   overcommitted), the decided transitions between them, and the
                                   transitions every state takes (the handshake, reports, ticks)
  guest.mmd, guest.svg             one guest's lifecycle (registering, managed modes, stuck,
                                   unmanaged, gone)
.mmd files are Mermaid (stateDiagram-v2; GitHub renders them in Markdown); .svg files stand alone.`;

export async function run(argv: string[]): Promise<number> {
  const v = commandArgs('chart', USAGE, argv, { out: { type: 'string' } });
  if (typeof v === 'number') return v;
  const out = v.values.out ?? DEFAULT_CHART_DIR;
  try {
    mkdirSync(out, { recursive: true });
    for (const [name, machine] of [['supervisor', createSupervisorMachine()], ['guest', createGuestMachine()]] as const) {
      const c = chartOf(machine);
      writeFileSync(join(out, `${name}.mmd`), c.mermaid);
      writeFileSync(join(out, `${name}.svg`), c.svg);
      console.log(`${join(out, `${name}.svg`)}, ${join(out, `${name}.mmd`)}: ${c.states.length} states, ${c.edges.length} transitions between them`);
    }
  } catch (err) {
    console.error(`memcoop chart: cannot write to ${out}: ${(err as Error).message}`);
    return 2;
  }
  return 0;
}
