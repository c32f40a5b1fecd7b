// npm run bench:cli [-- --runs N] [--json]
// How long `memcoop decide` takes to start, run the README's example and exit, beside a bare
// `node -e 0` and beside the same command from the TypeScript sources (tsx), measured
// interleaved in one run (node, compiled, sources, node, ...) so machine load falls on all
// alike. Goal (issue: a CLI that starts at once): compiled within 2.5x of bare node.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, quantile } from './stats.ts';

/** Runs per command: enough for a stable median on a loaded 2-core machine, quick enough to run often. */
const DEFAULT_RUNS = 15;
/** The goal, compiled decide over bare node. */
const GOAL_RATIO = 2.5;

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const json = args.includes('--json');
const r = args.indexOf('--runs');
const runs = r >= 0 ? Number(args[r + 1]) : DEFAULT_RUNS;
if (!Number.isInteger(runs) || runs < 1) {
  console.error('bench:cli: --runs needs a whole number >= 1');
  process.exit(2);
}
if (!existsSync(join(root, 'dist', 'memcoop.js'))) {
  console.error('bench:cli: dist/ is not built; run `npm run build` first');
  process.exit(2);
}

// The README's decide example.
const EXAMPLE = {
  params: { tau: 0.75, eps: 0.1, reserveKiB: 51200, upRatio: 2, downRatio: 4 },
  host: { freeKiB: 51200 },
  dom0: { currentKiB: 1048576, committedKiB: 1048576, minKiB: 524288, maxKiB: 2097152 },
  guests: [
    { id: 'a', minKiB: 131072, maxKiB: 524288, currentKiB: 262144, committedKiB: 400000, freeKiB: 65536, swapTotalKiB: 1048576, swapFreeKiB: 524288 },
    { id: 'b', minKiB: 131072, maxKiB: 524288, currentKiB: 262144, committedKiB: 400000, freeKiB: 131072, swapTotalKiB: 0, swapFreeKiB: 0 },
    { id: 'c', minKiB: 131072, maxKiB: 524288, currentKiB: 200000, committedKiB: 300000, freeKiB: 50000, swapTotalKiB: 0, swapFreeKiB: 0, agent: false },
  ],
};
const dir = mkdtempSync(join(tmpdir(), 'memcoop-bench-cli-'));
const input = join(dir, 'example.json');
writeFileSync(input, JSON.stringify(EXAMPLE));

const BIN = join(root, 'bin', 'memcoop.mjs');
const commands: { name: string; argv: string[]; env?: NodeJS.ProcessEnv }[] = [
  { name: 'node -e 0', argv: ['-e', '0'] },
  { name: 'memcoop decide (compiled)', argv: [BIN, 'decide', input] },
  { name: 'memcoop decide (sources, tsx)', argv: [BIN, 'decide', input], env: { ...process.env, MEMCOOP_FROM_SOURCE: '1' } },
];
const samples = commands.map(() => [] as number[]);
for (let i = 0; i < runs; i++) {
  commands.forEach((c, k) => {
    const t0 = process.hrtime.bigint();
    const res = spawnSync(process.execPath, c.argv, { cwd: root, env: c.env ?? process.env, encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (res.status !== 0) {
      console.error(`bench:cli: ${c.name} exited ${res.status}: ${res.stderr}`);
      process.exit(1);
    }
    samples[k]!.push(ms);
  });
}
rmSync(dir, { recursive: true, force: true });

const base = median(samples[0]!);
const rows = commands.map((c, k) => ({ command: c.name, medianMs: median(samples[k]!), p90Ms: quantile(samples[k]!, 0.9), ratioToNode: median(samples[k]!) / base }));
console.log(`CLI start-up, ${runs} interleaved runs each (wall ms)`);
console.log(`${'command'.padEnd(32)}${'median'.padStart(10)}${'p90'.padStart(10)}${'x node'.padStart(10)}`);
for (const row of rows) {
  console.log(`${row.command.padEnd(32)}${row.medianMs.toFixed(1).padStart(10)}${row.p90Ms.toFixed(1).padStart(10)}${row.ratioToNode.toFixed(2).padStart(10)}`);
}
const compiled = rows[1]!.ratioToNode;
console.log(`goal: compiled decide within ${GOAL_RATIO}x of bare node: ${compiled <= GOAL_RATIO ? 'met' : 'NOT met'} (${compiled.toFixed(2)}x)`);
if (json) console.log(JSON.stringify({ runs, goalRatio: GOAL_RATIO, met: compiled <= GOAL_RATIO, rows }));
