// The journal writer as an operator meets it: restarts, links at its path, and a full disk (a
// real tmpfs of a few KiB, mounted for the test where this process may mount; skipped with the
// reason elsewhere).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJournalFile, parseJournal } from '../../src/journal/format.ts';
import { JOURNAL_KEEP, JournalPathError, JournalWriter } from '../../src/journal/writer.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'memcoop-writer-'));
const header = { startedAt: 0, config: { n: 1 } };

describe('journal writer: restarts and paths', () => {
  test('a restart rotates J to J.1 (J.1 to J.2, ...) and keeps JOURNAL_KEEP old journals', async () => {
    const dir = tmp();
    try {
      const path = join(dir, 'j.jsonl');
      for (let run = 0; run < JOURNAL_KEEP + 2; run++) {
        const w = JournalWriter.open(path, header);
        w.append({ type: 'tick', at: run });
        w.close();
      }
      // The newest run is J; J.1 the run before it; the oldest kept is J.<KEEP>.
      assert.deepEqual((await readJournalFile(path)).inputs, [{ type: 'tick', at: JOURNAL_KEEP + 1 }]);
      assert.deepEqual((await readJournalFile(path + '.1')).inputs, [{ type: 'tick', at: JOURNAL_KEEP }]);
      assert.deepEqual((await readJournalFile(`${path}.${JOURNAL_KEEP}`)).inputs, [{ type: 'tick', at: 1 }]);
      assert.ok(!existsSync(`${path}.${JOURNAL_KEEP + 1}`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('created 0640, with its folder', () => {
    const dir = tmp();
    try {
      const path = join(dir, 'var', 'lib', 'memcoop', 'j.jsonl');
      JournalWriter.open(path, header).close();
      assert.equal(statSync(path).mode & 0o777, 0o640);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a symbolic link at the path is refused, and its target left alone', () => {
    const dir = tmp();
    try {
      const target = join(dir, 'precious');
      writeFileSync(target, 'keep me', { mode: 0o600 });
      const path = join(dir, 'j.jsonl');
      symlinkSync(target, path);
      assert.throws(() => JournalWriter.open(path, header), (e: unknown) => e instanceof JournalPathError && /symbolic link/.test(e.message));
      assert.equal(readFileSync(target, 'utf8'), 'keep me');
      assert.equal(statSync(target).mode & 0o777, 0o600);
      // A dangling link is refused the same way (O_NOFOLLOW would otherwise create its target).
      unlinkSync(target);
      assert.throws(() => JournalWriter.open(path, header), JournalPathError);
      assert.ok(!existsSync(target));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a folder or a FIFO at the path is refused', () => {
    const dir = tmp();
    try {
      const sub = join(dir, 'd');
      mkdirSync(sub);
      assert.throws(() => JournalWriter.open(sub, header), /not a regular file/);
      const fifo = join(dir, 'fifo');
      assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
      assert.throws(() => JournalWriter.open(fifo, header), /not a regular file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Mounts a tmpfs of `kib` KiB at a new folder, or says why it cannot. */
function smallTmpfs(kib: number): { dir: string; unmount: () => void } | string {
  const dir = tmp();
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return `cannot mount a tmpfs here (${(r.stderr || r.error?.message || '').trim()})`;
  }
  return {
    dir,
    unmount: () => {
      // Lazy: a file a failed assertion left open must not hide that failure behind EBUSY.
      spawnSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('journal writer: a full disk', () => {
  const fs = smallTmpfs(64);
  const skip = typeof fs === 'string' ? fs : false;
  if (skip) console.log(`journal full-disk tests skipped: ${skip}`);

  test('lines the disk refuses are counted, never half-written; writing again records a gap', { skip }, () => {
    if (typeof fs === 'string') return;
    try {
      const path = join(fs.dir, 'j.jsonl');
      const opened: string[] = [];
      const closed: number[] = [];
      const w = JournalWriter.open(path, header, {}, { opened: (e) => opened.push(e.code ?? '?'), closed: (n) => closed.push(n) });
      // Fill the rest of the filesystem, then append until the disk refuses.
      const filler = join(fs.dir, 'filler');
      spawnSync('sh', ['-c', `dd if=/dev/zero of=${filler} bs=1k 2>/dev/null; true`]);
      const big = { type: 'effect.failed' as const, id: 'vm1', effect: 'setTarget' as const, error: 'x'.repeat(1500) };
      let at = 0;
      let written = 0;
      let refused = 0;
      while (refused < 5 && at < 10_000) {
        if (w.append({ ...big, at: at++ })) written++;
        else refused++;
      }
      assert.ok(refused === 5, 'the disk filled up');
      assert.deepEqual(opened, ['ENOSPC'], 'one report for the whole gap');
      assert.equal(w.missingNow, 5);
      // Whatever is in the file now is whole lines only.
      const text = readFileSync(path, 'utf8');
      assert.ok(text.endsWith('\n'));
      assert.equal(parseJournal(text).inputs.length, written);
      // Space again: the next input is preceded by a gap line.
      unlinkSync(filler);
      assert.equal(w.append({ type: 'tick', at: at++ }), true);
      assert.deepEqual(closed, [5]);
      w.close();
      const j = parseJournal(readFileSync(path, 'utf8'));
      assert.equal(j.inputs.length, written + 1);
      assert.deepEqual(j.gaps.map((g) => ({ missing: g.missing, torn: g.tornLine })), [{ missing: 5, torn: null }]);
      assert.deepEqual(j.inputs.at(-1), { type: 'tick', at: at - 1 });
    } finally {
      fs.unmount();
    }
  });
});

describe('journal reader: sequence numbers', () => {
  test('a line deleted from the middle of a journal is detected, naming how many are missing', async () => {
    const dir = tmp();
    try {
      const path = join(dir, 'j.jsonl');
      const w = JournalWriter.open(path, header);
      for (let at = 0; at < 10; at++) w.append({ type: 'tick', at });
      w.close();
      const lines = readFileSync(path, 'utf8').split('\n');
      assert.equal(parseJournal(lines.join('\n')).inputs.length, 10);
      lines.splice(5, 1); // line 6 (seq 5) gone
      assert.throws(() => parseJournal(lines.join('\n')), /line 6\.seq: is 6 where 5 was due: 1 line\(s\) missing/);
      // A v2 journal (no seq) still reads; a v3 journal mixing the two does not.
      const v2 = [JSON.stringify({ kind: 'memcoop-journal', v: 2, startedAt: 0, config: null }), '{"type":"tick","at":1}', ''].join('\n');
      assert.equal(parseJournal(v2).inputs.length, 1);
      const mixed = [lines[0], '{"seq":1,"type":"tick","at":1}', '{"type":"tick","at":2}', ''].join('\n');
      assert.throws(() => parseJournal(mixed), /line 3\.seq: is required/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('journal reader: gaps', () => {
  test('a damaged line is accepted only just before a gap line, and reported there', () => {
    const h = JSON.stringify({ kind: 'memcoop-journal', v: 2, startedAt: 0, config: null });
    const ok = [h, '{"type":"tick","at":1}', '{"type":"host.sam', '{"type":"journal.gap","at":5,"missing":2}', '{"type":"tick","at":6}', ''].join('\n');
    const j = parseJournal(ok);
    assert.deepEqual(j.gaps, [{ line: 4, at: 5, missing: 2, tornLine: 3 }]);
    assert.equal(j.inputs.length, 2);
    const bad = [h, '{"type":"tick","at":1}', '{"type":"host.sam', '{"type":"tick","at":6}', ''].join('\n');
    assert.throws(() => parseJournal(bad), /line 3: not valid JSON/);
    assert.throws(() => parseJournal([h, '{"type":"journal.gap","at":5,"missing":0}', ''].join('\n')), /line 2\.missing/);
  });
});

describe('journal reader: files', () => {
  test('invalid UTF-8 deep in a journal is reported on its own line; a FIFO is refused without waiting', async () => {
    const dir = tmp();
    try {
      const path = join(dir, 'j.jsonl');
      const w = JournalWriter.open(path, header);
      for (let at = 0; at < 598; at++) w.append({ type: 'tick', at });
      w.close();
      // Line 600 is a good tick; line 601 holds a stray 0xff byte.
      writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.from('{"seq":599,"type":"tick","at":999}\n'), Buffer.from([0x7b, 0xff, 0x7d, 0x0a])]));
      await assert.rejects(readJournalFile(path), /line 601: not valid UTF-8/);
      const fifo = join(dir, 'fifo');
      assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
      await assert.rejects(readJournalFile(fifo), /not a regular file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
