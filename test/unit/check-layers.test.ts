// scripts/check-layers.mjs, which `npm test` runs first: the repository passes it, and a new
// circle (between files or between layers), a vocabulary file importing a layer above it, or a
// benchmark importing test helpers each fail it, naming the path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCheck } from '../../testbed/check-script.ts';

const check = (tree: Record<string, string> | null) => runCheck('check-layers.mjs', tree);

test('the repository has no circles', () => {
  const r = check(null);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /no circles/);
});

test('a circle between layers fails, with its path', () => {
  const r = check({
    'src/machines/a.ts': "import { b } from '../hosts/b.ts';\nexport const a = 1;\n",
    'src/hosts/b.ts': "import type { c } from '../machines/c.ts';\nexport const b = 2;\n",
    'src/machines/c.ts': 'export type c = 3;\n',
  });
  assert.equal(r.status, 1);
  assert.match(r.out, /folders import each other in a circle: src\/hosts -> src\/machines -> src\/hosts/);
});

test('a circle between files fails; so do vocabulary importing upward and bench importing test/', () => {
  const r = check({
    'src/machines/a.ts': "export { b } from './b.ts';\n",
    'src/machines/b.ts': "import('./a.ts');\nexport const b = 1;\n",
    'src/vocabulary/v.ts': "import { a } from '../machines/a.ts';\n",
    'bench/x.ts': "import { f } from '../test/support/f.ts';\n",
  });
  assert.equal(r.status, 1);
  assert.match(r.out, /files import each other in a circle: src\/machines\/a\.ts -> src\/machines\/b\.ts -> src\/machines\/a\.ts/);
  assert.match(r.out, /src\/vocabulary\/v\.ts imports src\/machines\/a\.ts/);
  assert.match(r.out, /bench\/x\.ts imports test\/support\/f\.ts/);
});
