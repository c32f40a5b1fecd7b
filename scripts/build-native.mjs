#!/usr/bin/env node
// Builds the Xen addon in native/ (npm run build:native). npm 11 does not run dependencies'
// install scripts, so this is an explicit step. Where libxenstore's headers are missing it says
// so in one sentence and exits 0: memcoop runs without the addon, only the Xen host needs it.
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');

function pkgConfigHas(name) {
  const r = spawnSync('pkg-config', ['--exists', name]);
  return r.status === 0;
}

if (!pkgConfigHas('xenstore')) {
  console.log(
    'build:native: skipped, pkg-config finds no libxenstore (install libxen-dev and pkg-config: ' +
      'apt-get install --no-install-recommends libxen-dev pkg-config g++ make).',
  );
  process.exit(0);
}
const withXenctrl = pkgConfigHas('xencontrol');
if (!withXenctrl) console.log('build:native: libxenctrl not found; building XenStore support only.');

// npm's own node-gyp: npm sets npm_execpath when it runs this script; otherwise find npm on PATH.
function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_execpath) {
    candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  const which = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) {
    const npmBin = realpathSync(which.stdout.trim()); // .../lib/node_modules/npm/bin/npm-cli.js
    candidates.push(join(dirname(npmBin), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  candidates.push(join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((c) => existsSync(c));
}

const nodeGyp = findNodeGyp();
if (!nodeGyp) {
  console.error('build:native: cannot find node-gyp (it ships with npm); is npm installed?');
  process.exit(1);
}

// Node's own headers (Debian: /usr/include/node) let node-gyp build offline.
const prefix = dirname(dirname(process.execPath));
const args = [nodeGyp, 'rebuild', '--loglevel=warn'];
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);

console.log(`build:native: building native/ with ${withXenctrl ? 'libxenstore and libxenctrl' : 'libxenstore'}`);
const r = spawnSync(process.execPath, args, { cwd: nativeDir, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('build:native: node-gyp failed (see above)');
  process.exit(r.status ?? 1);
}
console.log('build:native: built native/build/Release/memcoop_xen.node');
