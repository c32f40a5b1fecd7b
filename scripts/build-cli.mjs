#!/usr/bin/env node
// Compiles the memcoop CLI to plain JavaScript in dist/ (npm run build; npm ci runs it through
// `prepare`, npm test before its tests), so `memcoop` starts without compiling TypeScript:
// bin/memcoop.mjs runs dist/ while it is newer than every source file, tsx otherwise.
// Code-split per subcommand (esbuild's ES module splitting), so `decide` loads the policy and
// not the simulator, XState's actors or the Xen host.
// Also the library entry (src/index.ts -> dist/index.js, `import { decide } from 'memcoop'`)
// and its declarations (dist/types/, by tsc from tsconfig.lib.json), which package.json's
// `exports` names.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist');

/**
 * Paths the sources spell relative to their own file (src/<a>/<b>/x.ts is three folders below the
 * root); every chunk in dist/ is one folder below it. Each rewrite must find its text, so a source
 * that changes the spelling fails the build instead of shipping a broken path.
 */
const REWRITES = [
  { file: /src[\\/]hosts[\\/]xen[\\/]addon\.ts$/, from: "'../../../native/build/Release/memcoop_xen.node'", to: "'../native/build/Release/memcoop_xen.node'" },
  { file: /src[\\/]sim[\\/]scenario\.ts$/, from: "join(import.meta.dirname, '..', '..', 'config', 'scenarios')", to: "join(import.meta.dirname, '..', 'config', 'scenarios')" },
  { file: /src[\\/]cli[\\/]version\.ts$/, from: "'../../package.json'", to: "'../package.json'" },
];

const rewritePaths = {
  name: 'rewrite-relative-paths',
  setup(b) {
    for (const r of REWRITES) {
      b.onLoad({ filter: r.file }, (a) => {
        const text = readFileSync(a.path, 'utf8');
        if (!text.includes(r.from)) return { errors: [{ text: `${a.path} no longer contains ${r.from}; update scripts/build-cli.mjs` }] };
        return { contents: text.replace(r.from, r.to), loader: 'ts' };
      });
    }
  },
};

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { memcoop: join(root, 'src', 'cli', 'main.ts'), index: join(root, 'src', 'index.ts') },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir,
  // Dependencies stay in node_modules: they are installed beside dist/, and bundling pino's
  // worker-thread transports would break them.
  packages: 'external',
  plugins: [rewritePaths],
  sourcemap: 'linked',
  logLevel: 'warning',
});

// Declarations: tsc writes them with the sources' own `.ts` specifiers; a consumer's TypeScript
// resolves a `.js` specifier to its `.d.ts` under every module setting, so the specifiers become `.js`.
const typesDir = join(outdir, 'types');
const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.lib.json')], { cwd: root, stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error('build: declarations (tsc -p tsconfig.lib.json) failed');
  process.exit(1);
}
const SPECIFIER = /(from\s+'|import\(')(\.{1,2}\/[^']*)\.ts(')/g;
function rewriteDeclarations(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) rewriteDeclarations(p);
    else if (name.endsWith('.d.ts')) writeFileSync(p, readFileSync(p, 'utf8').replace(SPECIFIER, '$1$2.js$3'));
  }
}
rewriteDeclarations(typesDir);
console.log('build: dist/memcoop.js, dist/index.js, dist/types/index.d.ts');
