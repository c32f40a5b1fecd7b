#!/usr/bin/env node
// Builds the guest agent (native/agent/, npm run build:agent) with the system cc:
//   native/build/agent/memcoop-agent         dynamic, for this machine and the tests
//   native/build/agent/memcoop-agent-static  -static -Os, stripped, for small guests (busybox
//                                            initramfs, no libc of their own); with musl-gcc
//                                            when it is installed (musl-tools: 80 KB, and a
//                                            smaller RSS than glibc's 800 KB static), else cc
// Both speak XenStore through the agent's own small client (native/agent/xs_wire.c), not
// libxenstore: Debian's static libxenstore.a is built without threads, and in that mode a watch
// event arriving during a request fails the request (see xs_wire.h). So neither build needs
// libxen-dev; a guest image can be built anywhere with a C compiler and a static libc.
// Rebuilds only when a source is newer.
// Usage: node scripts/build-agent.mjs [--force] [--quiet]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'native', 'agent');
const outDir = join(root, 'native', 'build', 'agent');
const force = process.argv.includes('--force');
const quiet = process.argv.includes('--quiet');
const say = (m) => {
  if (!quiet) console.log(`build:agent: ${m}`);
};

const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
const sources = readdirSync(srcDir).filter((f) => f.endsWith('.c')).sort().map((f) => join(srcDir, f));
const inputs = readdirSync(srcDir).filter((f) => /\.[ch]$/.test(f)).map((f) => join(srcDir, f));
inputs.push(fileURLToPath(import.meta.url));
const WARN = ['-std=c11', '-D_GNU_SOURCE', '-Wall', '-Wextra', '-Werror', `-DAGENT_VERSION="${version}"`];

function stale(out) {
  if (force || !existsSync(out)) return true;
  const t = statSync(out).mtimeMs;
  return inputs.some((f) => statSync(f).mtimeMs > t);
}

function cc(out, args, compiler = 'cc') {
  if (!stale(out)) {
    say(`${out} is up to date`);
    return;
  }
  mkdirSync(outDir, { recursive: true });
  // Built under a private name, then renamed: a test running the old binary never sees half a file.
  const tmp = join(outDir, `.${process.pid}.tmp`);
  const r = spawnSync(compiler, [...args, '-o', tmp], { encoding: 'utf8', cwd: root });
  if (r.status !== 0) {
    process.stderr.write(r.stderr);
    console.error(`build:agent: cc failed for ${out}`);
    process.exit(1);
  }
  renameSync(tmp, out);
  say(`built ${out} (${compiler})`);
}

cc(join(outDir, 'memcoop-agent'), [...WARN, '-O2', '-g', ...sources]);
const musl = spawnSync('musl-gcc', ['--version']).status === 0;
if (!musl) say('musl-gcc not found (apt-get install musl-tools): the static agent is built with cc and glibc (larger)');
cc(
  join(outDir, 'memcoop-agent-static'),
  [...WARN, '-Os', '-s', '-static', '-ffunction-sections', '-fdata-sections', '-Wl,--gc-sections', ...sources],
  musl ? 'musl-gcc' : 'cc',
);
