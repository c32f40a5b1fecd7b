// The dependency check `npm test` runs first: reads every import in src/ and bench/ (static,
// `export ... from`, and dynamic import() of a literal path) and fails, naming the path, when
//   - files import each other in a circle (type-only imports count: they couple the files too);
//   - layers do: each top folder of src/ (src/machines, src/streams; each src/hosts/<kind> apart)
//     is a node, an import from one to another an edge, so machines -> hosts -> machines fails
//     even across files;
//   - the bottom layer (src/vocabulary) imports anything of src/ but itself, src/policy and
//     src/util (the leaves below it);
//   - src/policy imports anything outside itself (the functional core);
//   - bench/ imports test/ (benchmarks stand on the product, not on test helpers).
// Usage: node scripts/check-layers.mjs [--graph] [--root DIR]  (--graph prints the layer graph;
// --root checks another tree, as its test does)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const rootArg = process.argv.indexOf('--root');
const ROOT = rootArg >= 0 ? resolve(process.argv[rootArg + 1]) : resolve(import.meta.dirname, '..');
const ROOTS = ['src', 'bench'];
const IMPORT = /(?:^|[^\w.])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function files(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (/\.(ts|mts|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const rel = (p) => relative(ROOT, p);
/**
 * The layer a file belongs to: its top folder under src/ (src/policy/peers is src/policy), each
 * host kind its own (src/hosts/xen; src/hosts itself holds what they share), or bench.
 */
function folderOf(f) {
  const parts = f.split('/');
  if (parts[0] !== 'src') return parts[0];
  if (parts[1] === 'hosts' && parts.length > 3) return parts.slice(0, 3).join('/');
  return parts.length > 2 ? parts.slice(0, 2).join('/') : 'src';
}

const edges = new Map(); // file -> Set(file)
const problems = [];
for (const root of ROOTS) {
  if (!existsSync(join(ROOT, root))) continue;
  for (const abs of files(join(ROOT, root))) {
    const f = rel(abs);
    // Comment lines out (an import in a comment is no import); a string that looks like a comment
    // opener cannot hide the code after it this way.
    const text = readFileSync(abs, 'utf8').replace(/^\s*(\/\/|\/\*|\*).*$/gm, '');
    const to = new Set();
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2];
      if (!spec.startsWith('.')) continue;
      to.add(rel(resolve(dirname(abs), spec)));
    }
    edges.set(f, to);
  }
}

for (const [f, to] of edges) {
  for (const t of to) {
    if (f.startsWith('bench/') && t.startsWith('test/')) problems.push(`${f} imports ${t}: bench must not import test helpers`);
    if (f.startsWith('src/vocabulary/') && !/^src\/(vocabulary|policy|util)\//.test(t)) {
      problems.push(`${f} imports ${t}: the vocabulary layer imports only itself, src/policy and src/util`);
    }
    if (f.startsWith('src/policy/') && !t.startsWith('src/policy/')) problems.push(`${f} imports ${t}: src/policy imports nothing outside itself`);
  }
}

/** Strongly connected components with more than one node (Tarjan), each sorted. */
function circles(graph) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const out = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return out;
}

/** One path around a component, for the message: a -> b -> ... -> a. */
function cycleIn(graph, comp) {
  const inComp = new Set(comp);
  const start = comp[0];
  const prev = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of graph.get(v) ?? []) {
      if (!inComp.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = prev.get(u)) path.splice(1, 0, u);
        return [...path, start].join(' -> ');
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return comp.join(', ');
}

for (const comp of circles(edges)) problems.push(`files import each other in a circle: ${cycleIn(edges, comp)}`);

const folders = new Map();
for (const [f, to] of edges) {
  const a = folderOf(f);
  if (!folders.has(a)) folders.set(a, new Set());
  for (const t of to) {
    const b = folderOf(t);
    if (b !== a && edges.has(t)) folders.get(a).add(b);
  }
}
for (const comp of circles(folders)) problems.push(`folders import each other in a circle: ${cycleIn(folders, comp)}`);

if (process.argv.includes('--graph')) for (const [a, to] of [...folders].sort()) console.log(`${a} -> ${[...to].sort().join(', ')}`);
if (problems.length > 0) {
  for (const p of problems) console.error(`check-layers: ${p}`);
  process.exit(1);
}
console.log(`check-layers: ${edges.size} files in ${folders.size} folders, no circles`);
