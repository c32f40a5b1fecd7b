// Runs one of the repository checks (scripts/check-*.mjs) as `npm test` does: on this repository,
// or with --root on a small tree of files written to a fresh temporary folder, removed afterwards.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** `name` is the script's file under scripts/; `tree` maps a path in the tree to its text (null: this repository). */
export function runCheck(name: string, tree: Record<string, string> | null): { status: number | null; out: string } {
  const script = join(import.meta.dirname, '..', 'scripts', name);
  if (tree === null) {
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8' });
    return { status: r.status, out: r.stdout + r.stderr };
  }
  const dir = mkdtempSync(join(tmpdir(), 'memcoop-check-'));
  try {
    for (const [path, text] of Object.entries(tree)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    const r = spawnSync(process.execPath, [script, '--root', dir], { encoding: 'utf8' });
    return { status: r.status, out: r.stdout + r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
