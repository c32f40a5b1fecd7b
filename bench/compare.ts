// npm run bench:compare -- [--base REV] [--after REV] [--rounds N] [--json] [--only supervisor|sim]
// Per-tick cost before and after a change, in one run: the base REV (default HEAD~1; usually the
// branch point) is exported into out/bench-base/<rev> (git archive, sharing this tree's
// node_modules), and so is --after REV if given (default: this working tree); bench:supervisor
// and bench:sim are run alternately in both, N rounds each, so both see the same machine load. Prints each row's median over the
// rounds, before and after, and the ratio (after / before: 1.10 is 10 % slower).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { quantile } from './stats.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : (process.argv[i + 1] ?? dflt);
}

const here = resolve(import.meta.dirname, '..');
const rev = execFileSync('git', ['rev-parse', '--short', arg('--base', 'HEAD~1')], { cwd: here, encoding: 'utf8' }).trim();
const rounds = Number(arg('--rounds', '3'));
const only = arg('--only', '');
const json = process.argv.includes('--json');
/** A commit's tree under out/bench-base, exported once. */
function exported(r: string): string {
  const dir = join(here, 'out', 'bench-base', r);
  if (!existsSync(join(dir, 'package.json'))) {
    mkdirSync(dir, { recursive: true });
    execFileSync('sh', ['-c', `git archive ${r} | tar -x -C ${JSON.stringify(dir)}`], { cwd: here });
    symlinkSync(join(here, 'node_modules'), join(dir, 'node_modules'));
  }
  return dir;
}
const base = exported(rev);
const afterArg = arg('--after', '');
const afterRev = afterArg === '' ? null : execFileSync('git', ['rev-parse', '--short', afterArg], { cwd: here, encoding: 'utf8' }).trim();
const after = afterRev === null ? here : exported(afterRev);

/** One bench run in `tree`: its --json line. */
function runBench(tree: string, name: string, extra: string[]): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join('bench', `${name}.ts`), '--json', ...extra], { cwd: tree, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${name} in ${tree} failed: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}

/** Rows of one result: name -> median ms. */
function rowsOf(name: string, out: Record<string, unknown>): Map<string, number> {
  const m = new Map<string, number>();
  if (name === 'supervisor') {
    for (const r of out.rows as { guests: number; regime: string; medianMs: number }[]) m.set(`supervisor ${r.guests} ${r.regime}`, r.medianMs);
  } else {
    m.set('sim supervisor ms/tick', (out.supervisorMsPerTick as { median: number }).median);
    m.set('sim events ms/tick', (out.eventsMsPerTick as { median: number }).median);
    m.set('sim tick ms/tick', (out.tickMsPerTick as { median: number }).median);
  }
  return m;
}

const benches: [string, string[]][] = [
  ['supervisor', []],
  ['sim', []],
];
const samples = new Map<string, { before: number[]; after: number[] }>();
for (let k = 0; k < rounds; k++) {
  for (const [name, extra] of benches) {
    if (only !== '' && only !== name) continue;
    // Alternate which goes first, so a drift in load falls on both alike.
    const order = k % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
    for (const which of order) {
      const out = runBench(which === 'before' ? base : after, name, extra);
      for (const [row, ms] of rowsOf(name, out)) {
        const s = samples.get(row) ?? { before: [], after: [] };
        s[which].push(ms);
        samples.set(row, s);
      }
    }
    process.stderr.write(`round ${k + 1}/${rounds}: ${name} done\n`);
  }
}

const rows = [...samples].map(([row, s]) => {
  const before = quantile(s.before, 0.5);
  const after = quantile(s.after, 0.5);
  return { row, beforeMs: before, afterMs: after, ratio: Math.round((after / before) * 1000) / 1000 };
});
console.log(`per-tick cost, median of ${rounds} round(s): before = ${rev}, after = ${afterRev ?? 'this tree'}`);
console.log(`${'row'.padEnd(28)} ${'before ms'.padStart(10)} ${'after ms'.padStart(10)} ${'ratio'.padStart(7)}`);
for (const r of rows) console.log(`${r.row.padEnd(28)} ${r.beforeMs.toFixed(3).padStart(10)} ${r.afterMs.toFixed(3).padStart(10)} ${r.ratio.toFixed(3).padStart(7)}`);
if (json) console.log(JSON.stringify({ base: rev, after: afterRev, rounds, rows }));
