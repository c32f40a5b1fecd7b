// scripts/check-comment-paths.mjs, which `npm test` runs beside check-layers: the repository
// passes it, and a comment or doc naming a file that is not in the tree (a moved source, a design
// note only its authors have, a path out of the repository) fails it, naming file, line and path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCheck } from '../../testbed/check-script.ts';

const check = (tree: Record<string, string> | null) => runCheck('check-comment-paths.mjs', tree);

/** A small tree whose every reference is good. */
const GOOD: Record<string, string> = {
  'src/a/one.ts': [
    '// see src/b/two.ts, ../b/two.ts, docs/notes.md and notes.md; the kernel header',
    '// xen/io/xs_wire.h and /proc/meminfo are not ours; a peer: xen-selfballoon.c; dist/x.js is built',
    "const url = 'http://example.org/missing/file.ts'; // a URL in a string is no comment",
    "const s = 'src/gone/in-a-string.ts';",
    '/* block: src/b/two.ts */',
    'export const one = 1;',
  ].join('\n'),
  'src/b/two.ts': 'export const two = 2;\n',
  'docs/notes.md': 'Run `./src/a/one.ts` from the root; [two](../src/b/two.ts).\n',
  'config/x.yaml': '# beside src/a/one.ts\nkey: value # and docs/notes.md\n',
};

test('the repository names only files it has', () => {
  const r = check(null);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /file references in \d+ files, all present/);
});

test('a tree whose references all exist passes', () => {
  const r = check(GOOD);
  assert.equal(r.status, 0, r.out);
});

test('each missing or outside reference fails, named with its file and line', () => {
  const r = check({
    ...GOOD,
    'src/b/two.ts': 'export const two = 2;\n// moved: src/b/three.ts\n',
    'test/t.test.ts': '/*\n * after TESTBEDS.md and ALGORITHM.md\n */\n',
    'native/x.c': '/* the plan: ../../shared/design/plan.md */\n',
    'scripts/s.sh': '#!/bin/sh\n# built by src/gone.ts\n',
    'README.md': 'See [the design](../shared/ARCHITECTURE.md).\n',
  });
  assert.equal(r.status, 1, r.out);
  const lines = r.out.trim().split('\n').sort();
  assert.deepEqual(lines, [
    'check-comment-paths: README.md:1: ../shared/ARCHITECTURE.md: outside the repository',
    'check-comment-paths: native/x.c:1: ../../shared/design/plan.md: outside the repository',
    'check-comment-paths: scripts/s.sh:2: src/gone.ts: no such file in the repository',
    'check-comment-paths: src/b/two.ts:2: src/b/three.ts: no such file in the repository',
    'check-comment-paths: test/t.test.ts:2: ALGORITHM.md: no such file in the repository',
    'check-comment-paths: test/t.test.ts:2: TESTBEDS.md: no such file in the repository',
  ]);
});
