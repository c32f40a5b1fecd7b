#!/usr/bin/env node
// Collects test files and hands them to node:test (Node 20 does not expand globs itself).
// Usage: node scripts/run-tests.mjs [--tier unit|scenarios|xen|...] [extra node --test args]
// Without --tier, every tier under test/ that is part of the default run is collected; heavier
// tiers (listed in HEAVY) run only when named.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const HEAVY = new Set(['kvm', 'nested', 'reliability']);

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...collect(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const tierIdx = args.indexOf('--tier');
let tiers;
if (tierIdx >= 0) {
  tiers = [args[tierIdx + 1]];
  args.splice(tierIdx, 2);
} else {
  tiers = readdirSync(join(root, 'test')).filter(
    (t) => !HEAVY.has(t) && statSync(join(root, 'test', t)).isDirectory(),
  );
}
const files = tiers.flatMap((t) => collect(join(root, 'test', t))).map((f) => relative(root, f));
if (files.length === 0) {
  console.error(`no test files found for tier(s): ${tiers.join(', ')}`);
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', ...args, ...files],
  { stdio: 'inherit', cwd: root },
);
process.exit(r.status ?? 1);
