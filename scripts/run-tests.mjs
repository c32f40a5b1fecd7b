#!/usr/bin/env node
// Collects test files and hands them to node:test (Node 20 does not expand globs itself).
// Usage: node scripts/run-tests.mjs [--tier unit|scenarios|xen|...] [extra node --test args]
// Without --tier, every tier under test/ that is part of the default run is collected; heavier
// tiers (listed in HEAVY) run only when named.
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
// node's spec reporter for people, and our event reporter for the closing summary below.
const eventsFile = join(mkdtempSync(join(tmpdir(), 'memcoop-tests-')), 'events.jsonl');
const r = spawnSync(
  process.execPath,
  [
    '--import', 'tsx', '--test',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    `--test-reporter=${join(root, 'scripts', 'test-events-reporter.mjs')}`, `--test-reporter-destination=${eventsFile}`,
    ...args, ...files,
  ],
  { stdio: 'inherit', cwd: root },
);
summarize(eventsFile);
process.exit(r.status ?? 1);

/**
 * Tests inside a skipped suite: node never runs a skipped suite's function, so it cannot count
 * them (a skipped tier showed as "skipped 1"). Counted from the source instead: the test( and
 * it( calls between the describe( line and its closing line at the same indentation.
 */
function testsInSuite(file, line) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const start = line - 1;
  const indent = /^\s*/.exec(lines[start])[0];
  let n = 0;
  for (let i = start + 1; i < lines.length; i++) {
    if (lines[i].startsWith(`${indent}});`) || lines[i].startsWith(`${indent}})`)) break;
    if (/\b(test|it)\(/.test(lines[i])) n++;
  }
  return Math.max(n, 1);
}

/** One closing line: what ran, and what every skip removed, with its reason. */
function summarize(file) {
  let events;
  try {
    events = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return; // the runner died before reporting; its own output says why
  }
  let passed = 0;
  let failed = 0;
  const todo = []; // tests marked todo: run and reported, never counted as failures
  const skipped = new Map(); // reason -> tests
  for (const e of events) {
    if (e.todo && !e.suite) {
      todo.push(`${e.ok ? 'passes' : 'fails'}: ${e.name}`);
      continue;
    }
    if (e.skip !== null) {
      const n = e.suite && e.file && e.line ? testsInSuite(e.file, e.line) : e.suite ? 0 : 1;
      if (n > 0) skipped.set(e.skip, (skipped.get(e.skip) ?? 0) + n);
      continue;
    }
    if (e.suite) {
      if (!e.ok) failed++; // a suite's own hook failed
      continue;
    }
    if (e.ok) passed++;
    else failed++;
  }
  const skippedTotal = [...skipped.values()].reduce((a, b) => a + b, 0);
  console.log('');
  for (const [reason, n] of skipped) console.log(`skipped ${n} test(s): ${reason}`);
  for (const t of todo) console.log(`todo (not counted) ${t}`);
  console.log(`${passed} passed, ${failed} failed, ${skippedTotal} skipped`);
}
