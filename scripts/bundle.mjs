#!/usr/bin/env node
// Bundles the memcoop CLI as one plain JavaScript file (out/bundle/memcoop.mjs) for machines
// without tsx or node_modules, e.g. the Dom0 of the nested Xen testbed (testbed/xen/). The Xen
// addon cannot be bundled: it is copied next to the bundle, and the bundle looks for it there
// (the source's path, relative to the repository's native/build, is rewritten at bundle time).
// Usage: node scripts/bundle.mjs [--outdir DIR]
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outIdx = args.indexOf('--outdir');
const outdir = outIdx >= 0 ? args[outIdx + 1] : join(root, 'out', 'bundle');
if (!outdir) {
  console.error('bundle: --outdir needs a value');
  process.exit(2);
}

/** The addon's path as src/hosts/xen/addon.ts spells it, and where the bundle finds it instead. */
const ADDON_SOURCE_PATH = "'../../../native/build/Release/memcoop_xen.node'";
const ADDON_BUNDLE_PATH = "'./memcoop_xen.node'";
const ADDON_FILE = join(root, 'native', 'build', 'Release', 'memcoop_xen.node');

const addonNextToBundle = {
  name: 'addon-next-to-bundle',
  setup(b) {
    b.onLoad({ filter: /src[\\/]hosts[\\/]xen[\\/]addon\.ts$/ }, (a) => {
      const text = readFileSync(a.path, 'utf8');
      if (!text.includes(ADDON_SOURCE_PATH)) {
        return { errors: [{ text: `addon.ts no longer names ${ADDON_SOURCE_PATH}; update scripts/bundle.mjs` }] };
      }
      return { contents: text.replace(ADDON_SOURCE_PATH, ADDON_BUNDLE_PATH), loader: 'ts' };
    });
  },
};

mkdirSync(outdir, { recursive: true });
const outfile = join(outdir, 'memcoop.mjs');
await build({
  // main.ts runs main() when it is the script node was started with, as the bundle is.
  entryPoints: [join(root, 'src', 'cli', 'main.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile,
  plugins: [addonNextToBundle],
  // An ES module bundle has no require(); some CommonJS dependencies (pino) call it.
  banner: { js: "import { createRequire as __memcoopCreateRequire } from 'node:module'; const require = __memcoopCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
if (existsSync(ADDON_FILE)) {
  copyFileSync(ADDON_FILE, join(outdir, 'memcoop_xen.node'));
  console.log(`bundle: ${outfile} and memcoop_xen.node`);
} else {
  console.log(`bundle: ${outfile} (no addon: run \`npm run build:native\` for --host xen)`);
}
