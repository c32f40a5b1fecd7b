#!/usr/bin/env node
// The memcoop command. Runs the compiled CLI in dist/ (npm run build; npm ci builds it) when it is
// newer than every file under src/, so a command starts without compiling TypeScript; otherwise
// (a source edited since the build, or no build) it registers tsx and runs the sources as they are.
// MEMCOOP_FROM_SOURCE=1 forces the sources.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = join(root, 'dist', 'memcoop.js');

/** The newest mtime under dir (ms); a walk of ~150 files costs about a millisecond. */
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function builtIsCurrent() {
  if (process.env.MEMCOOP_FROM_SOURCE === '1') return false;
  try {
    return statSync(built).mtimeMs >= newest(join(root, 'src'));
  } catch {
    return false;
  }
}

let main;
if (builtIsCurrent()) {
  ({ main } = await import(built));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
