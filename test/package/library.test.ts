// memcoop as a library, as another project gets it: the package packed (`npm pack`, which runs
// the prepare build), its tarball installed into a fresh project, `decide` imported from plain
// Node ESM and type-checked against the shipped declarations. The answer must be the policy's
// own (src/policy/decide.ts) for the same input.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULT_PARAMS, decide } from '../../src/policy/decide.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const MIB = 1024;
/** npm on PATH beside this node (npm 11 here). */
const NPM = 'npm';

/** A snapshot with one guest short of its commit and one with room to spare. */
const INPUT = {
  params: DEFAULT_PARAMS,
  host: { freeKiB: 256 * MIB },
  dom0: { currentKiB: 512 * MIB, committedKiB: 300 * MIB, minKiB: 256 * MIB, maxKiB: 1024 * MIB },
  guests: [
    { id: 'a', minKiB: 128 * MIB, maxKiB: 1024 * MIB, currentKiB: 300 * MIB, committedKiB: 420 * MIB, freeKiB: 20 * MIB, swapTotalKiB: 0, swapFreeKiB: 0, shares: 1, agent: true },
    { id: 'b', minKiB: 128 * MIB, maxKiB: 1024 * MIB, currentKiB: 500 * MIB, committedKiB: 200 * MIB, freeKiB: 250 * MIB, swapTotalKiB: 0, swapFreeKiB: 0, shares: 1, agent: true },
  ],
};

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} in ${cwd} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

let dir = '';
let project = '';

/**
 * A copy of what the package is made of (package.json's `files`, but not a dist/ already built
 * here), beside this checkout's node_modules: packing it runs the prepare build in the copy, so
 * tests running meanwhile never see this checkout's dist/ rebuilt under them.
 */
function copyOfPackage(to: string): string {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { files: string[] };
  mkdirSync(to);
  for (const f of ['package.json', 'README.md', 'LICENSE', ...pkg.files.filter((f) => !f.startsWith('dist'))]) {
    if (existsSync(join(root, f))) cpSync(join(root, f), join(to, f), { recursive: true });
  }
  rmSync(join(to, 'native', 'build'), { recursive: true, force: true });
  symlinkSync(join(root, 'node_modules'), join(to, 'node_modules'));
  return to;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'memcoop-package-'));
  run(NPM, ['pack', '--pack-destination', dir], copyOfPackage(join(dir, 'source')));
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, 'npm pack wrote a tarball');
  project = join(dir, 'consumer');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // Dependencies from npm's cache when it has them (npm ci filled it); the registry otherwise.
  run(NPM, ['install', '--prefer-offline', '--no-package-lock', '--ignore-scripts', join(dir, tarball)], project);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("plain Node ESM: import { decide } from 'memcoop' answers as the policy does", () => {
  writeFileSync(join(project, 'input.json'), JSON.stringify(INPUT));
  writeFileSync(
    join(project, 'main.mjs'),
    "import { readFileSync } from 'node:fs';\nimport { decide } from 'memcoop';\nconsole.log(JSON.stringify(decide(JSON.parse(readFileSync('input.json', 'utf8')))));\n",
  );
  const out = run(process.execPath, ['main.mjs'], project);
  assert.deepEqual(JSON.parse(out), JSON.parse(JSON.stringify(decide(INPUT))));
  // With trace: true the same decision carries decide's own figures.
  writeFileSync(join(project, 'input.json'), JSON.stringify({ ...INPUT, trace: true }));
  const traced = JSON.parse(run(process.execPath, ['main.mjs'], project)) as ReturnType<typeof decide>;
  assert.deepEqual(traced, JSON.parse(JSON.stringify(decide({ ...INPUT, trace: true }))));
  assert.ok(traced.trace !== undefined && traced.trace.guests.length === INPUT.guests.length);
  // Without Dom0 (a KVM host has none): the guests are decided as with a Dom0 that needs nothing.
  const { dom0: _dom0, ...noDom0 } = INPUT;
  writeFileSync(join(project, 'input.json'), JSON.stringify(noDom0));
  const bare = JSON.parse(run(process.execPath, ['main.mjs'], project)) as ReturnType<typeof decide>;
  assert.deepEqual(bare.dom0, { goalKiB: 0, targetKiB: 0, reclaimKiB: 0 });
  assert.deepEqual(bare, JSON.parse(JSON.stringify(decide({ ...noDom0, dom0: { currentKiB: 0, committedKiB: 0, minKiB: 0, maxKiB: 0 } }))));
});

test('the package resolves to compiled JavaScript, not TypeScript sources', () => {
  const out = run(process.execPath, ['--input-type=module', '-e', "console.log(import.meta.resolve('memcoop'))"], project);
  assert.match(out.trim(), /\/node_modules\/memcoop\/dist\/index\.js$/);
});

test('TypeScript in the consumer finds the types: a right call passes, a wrong one is an error', () => {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, types: [] }, files: ['ok.ts'] }));
  writeFileSync(
    join(project, 'ok.ts'),
    "import { decide, DEFAULT_PARAMS, type DecideInput, type Decision } from 'memcoop';\n" +
      "declare const input: Omit<DecideInput, 'params'>;\n" +
      'const d: Decision = decide({ ...input, params: DEFAULT_PARAMS });\n' +
      'export const state: string = d.state;\n' +
      "import type { DecisionTrace } from 'memcoop';\n" +
      'const t: DecisionTrace | undefined = decide({ ...input, params: DEFAULT_PARAMS, trace: true }).trace;\n' +
      'export const regime: string | undefined = t?.regime;\n' +
      "const { dom0: _d, ...kvm } = input;\n" +
      'export const noDom0: Decision = decide({ ...kvm, params: DEFAULT_PARAMS });\n',
  );
  run(process.execPath, [tsc, '-p', 'tsconfig.json'], project);
  writeFileSync(join(project, 'tsconfig.bad.json'), JSON.stringify({ extends: './tsconfig.json', files: ['bad.ts'] }));
  writeFileSync(join(project, 'bad.ts'), "import { decide } from 'memcoop';\nexport const d = decide({ guests: 'none' });\n");
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.bad.json'], { cwd: project, encoding: 'utf8' });
  assert.notEqual(r.status, 0, 'a call that does not match DecideInput is a type error');
  assert.match(r.stdout + r.stderr, /bad\.ts/);
});
