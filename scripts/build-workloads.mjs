#!/usr/bin/env node
// Builds the guest workloads (native/workloads/*.c) as static binaries into
// native/build/workloads/, for the testbed's initramfs. Needs gcc and libc6-dev (static libc).
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const src = join(root, 'native', 'workloads');
const out = join(root, 'native', 'build', 'workloads');
mkdirSync(out, { recursive: true });
for (const file of readdirSync(src).filter((f) => f.endsWith('.c')).sort()) {
  const name = file.slice(0, -2);
  const r = spawnSync('gcc', ['-static', '-O2', '-Wall', '-Wextra', '-o', join(out, name), join(src, file)], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.error || r.status !== 0) {
    console.error(`build:workloads: gcc failed on ${file}${r.error ? `: ${r.error.message}` : ''}`);
    process.exit(1);
  }
  console.log(`built ${join('native', 'build', 'workloads', name)}`);
}
