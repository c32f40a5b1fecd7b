#!/usr/bin/env node
// Builds the guest agent (native/agent/, npm run build:agent) with the system cc:
//   native/build/agent/memcoop-agent         dynamic, for this machine and the tests
//   native/build/agent/memcoop-agent-static  -static -Os, stripped, for small guests (busybox
//                                            initramfs, no libc of their own)
// XenStore support links libxenstore when pkg-config finds `xenstore` (the static build takes its
// .a files, libxenstore.a and libxentoolcore.a); without it the agent is built with the
// virtio-serial transport only, and this script says so. Rebuilds only when a source is newer.
// Usage: node scripts/build-agent.mjs [--force] [--quiet]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
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

const version = JSON.parse((await import('node:fs')).readFileSync(join(root, 'package.json'), 'utf8')).version;
const sources = readdirSync(srcDir).filter((f) => f.endsWith('.c')).sort().map((f) => join(srcDir, f));
const inputs = readdirSync(srcDir).filter((f) => /\.[ch]$/.test(f)).map((f) => join(srcDir, f));
inputs.push(fileURLToPath(import.meta.url));
const WARN = ['-std=c11', '-D_GNU_SOURCE', '-Wall', '-Wextra', '-Werror', `-DAGENT_VERSION="${version}"`];

function pkgConfig(args) {
  const r = spawnSync('pkg-config', args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

const xsCflags = pkgConfig(['--cflags', 'xenstore']);
const xsLibs = pkgConfig(['--libs', 'xenstore']);
const xsLibdir = pkgConfig(['--variable=libdir', 'xenstore']);
const withXs = xsCflags !== null && xsLibs !== null;
const split = (s) => (s ? s.split(/\s+/).filter(Boolean) : []);
if (!withXs) {
  say('pkg-config finds no xenstore: building WITHOUT the XenStore transport (virtio-serial only); install libxen-dev and pkg-config for it');
}
const staticXs = withXs && xsLibdir !== null
  ? ['libxenstore.a', 'libxentoolcore.a'].map((a) => join(xsLibdir, a))
  : [];
const staticWithXs = staticXs.length > 0 && staticXs.every((a) => existsSync(a));
if (withXs && !staticWithXs) say('libxenstore.a or libxentoolcore.a missing: the static agent is built WITHOUT XenStore');

function stale(out) {
  if (force || !existsSync(out)) return true;
  const t = statSync(out).mtimeMs;
  return inputs.some((f) => statSync(f).mtimeMs > t);
}

function cc(out, args) {
  if (!stale(out)) {
    say(`${out} is up to date`);
    return;
  }
  mkdirSync(outDir, { recursive: true });
  // Built under a private name, then renamed: a test running the old binary never sees half a file.
  const tmp = join(outDir, `.${process.pid}.tmp`);
  const r = spawnSync('cc', [...args, '-o', tmp], { encoding: 'utf8', cwd: root });
  if (r.status !== 0) {
    process.stderr.write(r.stderr);
    console.error(`build:agent: cc failed for ${out}`);
    process.exit(1);
  }
  renameSync(tmp, out);
  say(`built ${out}`);
}

cc(join(outDir, 'memcoop-agent'), [
  ...WARN, '-O2', '-g',
  ...(withXs ? ['-DHAVE_XENSTORE', ...split(xsCflags)] : []),
  ...sources,
  ...(withXs ? split(xsLibs) : []),
]);
cc(join(outDir, 'memcoop-agent-static'), [
  ...WARN, '-Os', '-s', '-static', '-ffunction-sections', '-fdata-sections', '-Wl,--gc-sections',
  ...(staticWithXs ? ['-DHAVE_XENSTORE', ...split(xsCflags)] : []),
  ...sources,
  ...(staticWithXs ? [...staticXs, '-lpthread'] : []),
]);
