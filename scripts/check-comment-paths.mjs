// The file-reference check `npm test` runs beside check-layers: every file a comment names must
// be in the repository, so a reader can open it. It reads the comments of src/, test/, testbed/,
// bench/, scripts/, native/ and config/ (// and /* */ in code, # in shell, YAML and build files)
// and the whole text of docs/ and README.md, and fails, naming file and line, when
//   - a path with a folder (src/policy/pressure.ts, docs/algorithm.md, or one starting with ./
//     or ../) does not exist: from the repository's root when its first folder is one of the
//     root's, else from the commenting file's folder (a doc's ./ paths may also start at the root);
//   - a bare name of the project's kinds (.ts, .mjs, .md, .yaml) is no file's name in the tree;
//   - a path leads outside the repository: a user of the project has only the repository.
// A path whose first folder is neither the root's nor the file's own (xen/io/xs_wire.h, a system
// header) names something outside the project and is passed over, as are absolute paths
// (/proc/meminfo), URLs and bare names of other kinds (a peer's xen-selfballoon.c). Generated
// folders (dist/, out/, native/build/) are not required to exist.
// Usage: node scripts/check-comment-paths.mjs [--root DIR]  (--root checks another tree, as its test does)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';

const rootArg = process.argv.indexOf('--root');
const ROOT = rootArg >= 0 ? resolve(process.argv[rootArg + 1]) : resolve(import.meta.dirname, '..');
const SCANNED = ['src', 'test', 'testbed', 'bench', 'scripts', 'native', 'config', 'docs', 'README.md'];
/** Never walked: dependencies, build output, caches. */
const SKIPPED_DIRS = new Set(['node_modules', '.git', 'dist', 'out', 'build']);
/** Made by a build or a run, not kept in the repository: a reference to them need not exist yet. */
const GENERATED = /^(dist|out|native\/build|node_modules)(\/|$)/;

const CODE = /\.(ts|mts|cts|mjs|cjs|js|c|cc|h|hpp)$/;
const HASH = /(\.(sh|ya?ml|conf|service|gyp|gypi)|^Makefile)$/;
/** A file name's endings that make a word a file reference. */
const EXT = 'ts|mts|mjs|cjs|js|c|cc|h|md|ya?ml|json|jsonl|sh|svg|gyp|service|conf';
/** Bare names with these endings are the project's own (a bare C file or config is often a peer's: xen-selfballoon.c). */
const OWN_EXT = /\.(ts|mts|mjs|md|ya?ml)$/;
const PATH = new RegExp(`(?<![\\w./:@-])((?:\\.{1,2}/)*\\w[\\w.-]*(?:/[\\w.-]+)*\\.(?:${EXT})|\\.\\./[\\w.-]+(?:/[\\w.-]+)*)(?![\\w/-])`, 'g');

function walk(abs) {
  if (!existsSync(abs)) return [];
  if (!statSync(abs).isDirectory()) return [abs];
  const out = [];
  for (const name of readdirSync(abs).sort()) if (!SKIPPED_DIRS.has(name)) out.push(...walk(join(abs, name)));
  return out;
}

/**
 * The comments of C-like source as [line, text] pieces. A small scanner, so that `//` inside a
 * string ('http://...') is not a comment; a template literal's ${...} is read as string.
 */
function cComments(text) {
  const out = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === '\n') {
      line++;
      i++;
    } else if (c === '/' && text[i + 1] === '/') {
      const end = text.indexOf('\n', i);
      const e = end < 0 ? n : end;
      out.push([line, text.slice(i + 2, e)]);
      i = e;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const e = end < 0 ? n : end;
      for (const [k, l] of text.slice(i + 2, e).split('\n').entries()) out.push([line + k, l]);
      line += text.slice(i, e).split('\n').length - 1;
      i = e + 2;
    } else if (c === '"' || c === "'" || c === '`') {
      i++;
      while (i < n && text[i] !== c) {
        if (text[i] === '\\') i++;
        else if (text[i] === '\n') {
          line++;
          if (c !== '`') break; // an unclosed quote ends with its line
        }
        i++;
      }
      i++;
    } else i++;
  }
  return out;
}

/** `#` comments of shell, YAML and build files (a # at a line's start or after white space). */
function hashComments(text) {
  const out = [];
  for (const [k, l] of text.split('\n').entries()) {
    const m = /(?:^|\s)#(.*)$/.exec(l);
    if (m) out.push([k + 1, m[1]]);
  }
  return out;
}

function piecesOf(rel, text) {
  if (rel.endsWith('.md')) return text.split('\n').map((l, k) => [k + 1, l]);
  if (CODE.test(rel)) return cComments(text);
  if (HASH.test(basename(rel))) return hashComments(text);
  return [];
}

const topNames = new Set(readdirSync(ROOT));
const allFiles = walk(ROOT).map((f) => relative(ROOT, f));
const names = new Set(allFiles.map((f) => basename(f)));

/** Why `ref`, named in file `rel`, is not there; null when it is (or names something outside the project). */
function problemOf(rel, ref) {
  const here = dirname(join(ROOT, rel));
  const first = ref.split('/')[0];
  let abs;
  if (ref.startsWith('./') && rel.endsWith('.md') && existsSync(resolve(ROOT, ref))) return null; // a doc's commands run from the root
  if (ref.startsWith('./') || ref.startsWith('../')) abs = resolve(here, ref);
  else if (!ref.includes('/')) {
    if (!OWN_EXT.test(ref)) return null;
    return existsSync(join(here, ref)) || names.has(ref) ? null : 'no such file in the repository';
  } else if (topNames.has(first)) abs = resolve(ROOT, ref);
  else if (existsSync(join(here, first))) abs = resolve(here, ref);
  else return null;
  const inRepo = relative(ROOT, abs);
  if (inRepo === '..' || inRepo.startsWith(`..${sep}`)) return 'outside the repository';
  if (GENERATED.test(inRepo.split(sep).join('/'))) return null;
  return existsSync(abs) ? null : 'no such file in the repository';
}

const problems = [];
let refs = 0;
const scanned = SCANNED.flatMap((s) => walk(join(ROOT, s))).map((f) => relative(ROOT, f));
for (const rel of scanned) {
  const text = readFileSync(join(ROOT, rel), 'utf8');
  for (const [line, piece] of piecesOf(rel, text)) {
    for (const m of piece.replace(/[a-z][a-z+.-]*:\/\/\S+/gi, ' ').matchAll(PATH)) {
      const ref = m[1].replace(/\.$/, '');
      refs++;
      const why = problemOf(rel, ref);
      if (why !== null) problems.push(`${rel}:${line}: ${ref}: ${why}`);
    }
  }
}

if (problems.length > 0) {
  for (const p of problems) console.error(`check-comment-paths: ${p}`);
  process.exit(1);
}
console.log(`check-comment-paths: ${refs} file references in ${scanned.length} files, all present`);
