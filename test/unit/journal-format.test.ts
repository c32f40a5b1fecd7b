import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, appendFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { SupervisorInput } from '../../src/vocabulary/events.ts';
import {
  JOURNAL_VERSION,
  JournalError,
  MAX_BATCH_REPORTS,
  MAX_ID_CHARS,
  MAX_JOURNAL_LINE_CHARS,
  encodeHeader,
  encodeInput,
  parseJournal,
  readJournalFile,
} from '../../src/journal/format.ts';
import { JournalWriter } from '../../src/journal/writer.ts';
import { InputError } from '../../src/util/validate.ts';

const CONFIG = { tickMs: 1000, params: { tau: 0.75 }, guests: [{ id: 'vm1' }] };
const HEADER = encodeHeader({ startedAt: 1_700_000_000_000, config: CONFIG });

/** One input of every type, `at` non-decreasing. */
const ALL_KINDS: SupervisorInput[] = [
  { type: 'guest.appeared', at: 0, id: 'vm1', domid: 3, minKiB: 131072, maxKiB: 262144, currentKiB: 131072, shares: 1 },
  { type: 'agent.hello', at: 5, id: 'vm1', protocol: 1, selfAdjust: true },
  {
    type: 'agent.reports',
    at: 5,
    reports: [
      { id: 'vm1', committedKiB: 200000, freeKiB: 40000, swapTotalKiB: 0, swapFreeKiB: 0 },
      { id: 'vm2', committedKiB: 300000, freeKiB: 1000, swapTotalKiB: 524288, swapFreeKiB: 262144 },
    ],
  },
  { type: 'host.sample', at: 900, freeKiB: 1048576, dom0: { currentKiB: 524288, committedKiB: 400000 }, allocations: { vm1: 131072 } },
  { type: 'tick', at: 1000 },
  { type: 'effect.failed', at: 1001, id: 'vm1', effect: 'setTarget', error: 'ENOENT: no such domain' },
  { type: 'guest.left', at: 2000, id: 'vm1' },
];

function journal(...lines: string[]): string {
  return [HEADER, ...lines].map((l) => l + '\n').join('');
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'memcoop-journal-'));
}

describe('journal format: round trip', () => {
  test('every input type encodes and parses back unchanged, header included', () => {
    const parsed = parseJournal(journal(...ALL_KINDS.map(encodeInput)));
    assert.deepEqual(parsed.header, { kind: 'memcoop-journal', v: JOURNAL_VERSION, startedAt: 1_700_000_000_000, config: CONFIG });
    assert.deepEqual(parsed.inputs, ALL_KINDS);
    assert.equal(parsed.truncatedLine, null);
  });

  test('a guest id such as __proto__ is a plain allocation key', () => {
    const line = '{"type":"host.sample","at":1,"freeKiB":1,"dom0":{"currentKiB":1,"committedKiB":1},"allocations":{"__proto__":4096}}';
    const [e] = parseJournal(journal(line)).inputs;
    assert.ok(e?.type === 'host.sample');
    assert.deepEqual(Object.keys(e.allocations), ['__proto__']);
    assert.equal(Object.getPrototypeOf(e.allocations), Object.prototype);
    assert.equal(encodeInput(e), line);
  });

  test('the header line is the documented shape', () => {
    assert.deepEqual(JSON.parse(HEADER), { kind: 'memcoop-journal', v: 3, startedAt: 1_700_000_000_000, config: CONFIG });
  });

  test('encodeInput writes exactly the type fields: stray properties never reach the journal', () => {
    const withExtra = { type: 'tick', at: 7, note: 'x' } as unknown as SupervisorInput;
    assert.equal(encodeInput(withExtra), '{"type":"tick","at":7}');
  });

  test('encodeInput refuses what would not read back', () => {
    const bad = { type: 'agent.reports', at: 1, reports: [{ id: 'a', committedKiB: 1.5, freeKiB: 0, swapTotalKiB: 0, swapFreeKiB: 0 }] } as SupervisorInput;
    assert.throws(() => encodeInput(bad), (e: unknown) => e instanceof InputError && /reports\[0\]\.committedKiB/.test(e.message));
    const dup = { type: 'agent.reports', at: 1, reports: [{ id: 'a', committedKiB: 1, freeKiB: 0, swapTotalKiB: 0, swapFreeKiB: 0 }, { id: 'a', committedKiB: 2, freeKiB: 0, swapTotalKiB: 0, swapFreeKiB: 0 }] } as SupervisorInput;
    assert.throws(() => encodeInput(dup), (e: unknown) => e instanceof InputError && /reports\[1\]\.id: duplicate id "a"/.test(e.message));
    assert.throws(() => encodeInput({ type: 'nope', at: 1 } as unknown as SupervisorInput), /unknown input type/);
  });

  test('property: any valid inputs round-trip through the writer and the file reader', async () => {
    const kib = fc.integer({ min: 0, max: 2 ** 40 });
    const id = fc.string({ minLength: 1, maxLength: 12 });
    const input = fc.oneof(
      fc.record({ type: fc.constant('guest.appeared' as const), id, domid: fc.nat(), minKiB: kib, maxKiB: kib, currentKiB: kib, shares: fc.double({ min: 0, max: 100, noNaN: true }) }),
      fc.record({ type: fc.constant('guest.left' as const), id }),
      fc.record({ type: fc.constant('agent.hello' as const), id, protocol: fc.nat(9), selfAdjust: fc.boolean() }),
      fc.record({
        type: fc.constant('agent.reports' as const),
        reports: fc.uniqueArray(fc.record({ id, committedKiB: kib, freeKiB: kib, swapTotalKiB: kib, swapFreeKiB: kib }), { minLength: 1, maxLength: 5, selector: (r) => r.id }),
      }),
      fc.record({
        type: fc.constant('host.sample' as const),
        freeKiB: kib,
        dom0: fc.record({ currentKiB: kib, committedKiB: kib }),
        allocations: fc.dictionary(id, kib, { maxKeys: 5 }).map((d) => Object.fromEntries(Object.entries(d))),
      }),
      fc.record({ type: fc.constant('tick' as const) }),
      fc.record({ type: fc.constant('effect.failed' as const), id, effect: fc.constantFrom('setTarget' as const, 'setMode' as const), error: fc.string({ minLength: 1, maxLength: 40 }) }),
    );
    const dir = tmp();
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(input, fc.nat(1000)), { maxLength: 30 }), async (steps) => {
          let at = 0;
          const inputs = steps.map(([e, dt]) => ({ ...e, at: (at += dt) }) as SupervisorInput);
          const path = join(dir, 'j.jsonl');
          const w = JournalWriter.open(path, { startedAt: 0, config: null });
          for (const e of inputs) w.append(e);
          w.close();
          // fast-check may build null-prototype objects; compare with their plain JSON selves.
          const expected = JSON.parse(JSON.stringify(inputs)) as unknown;
          assert.deepEqual((await readJournalFile(path)).inputs, expected);
          assert.deepEqual(parseJournal(readFileSync(path, 'utf8')).inputs, expected);
        }),
        { numRuns: 100 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('journal format: the per-guest inputs (report batches, host samples)', () => {
  const kib = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
  const id = fc.string({ minLength: 1, maxLength: 12 });
  const at = fc.oneof(fc.nat(), fc.double({ min: 0, max: 1e22, noNaN: true }));

  test('property: a valid batch is written as JSON.stringify writes its canonical form, and reads back', () => {
    fc.assert(
      fc.property(at, fc.uniqueArray(fc.record({ id, committedKiB: kib, freeKiB: kib, swapTotalKiB: kib, swapFreeKiB: kib, extra: fc.anything() }), { minLength: 1, maxLength: 20, selector: (r) => r.id }), (t, rs) => {
        const e = { type: 'agent.reports', at: t, reports: rs } as SupervisorInput;
        const canonical = { type: 'agent.reports', at: t, reports: rs.map(({ id, committedKiB, freeKiB, swapTotalKiB, swapFreeKiB }) => ({ id, committedKiB, freeKiB, swapTotalKiB, swapFreeKiB })) };
        const line = encodeInput(e);
        assert.equal(line, JSON.stringify(canonical));
        assert.deepEqual(parseJournal(journal(line)).inputs, [JSON.parse(JSON.stringify(canonical))]);
      }),
      { numRuns: 300 },
    );
  });

  test('property: a valid host sample is written with exactly its fields, and reads back', () => {
    fc.assert(
      fc.property(at, kib, kib, kib, fc.dictionary(id, kib, { maxKeys: 20 }), fc.boolean(), (t, freeKiB, currentKiB, committedKiB, allocs, nullProto) => {
        const allocations: Record<string, number> = nullProto ? Object.assign(Object.create(null) as Record<string, number>, allocs) : { ...allocs };
        const e = { type: 'host.sample', at: t, freeKiB, dom0: { currentKiB, committedKiB, stray: 1 }, allocations, stray: 2 } as unknown as SupervisorInput;
        const line = encodeInput(e);
        assert.equal(line, JSON.stringify({ type: 'host.sample', at: t, freeKiB, dom0: { currentKiB, committedKiB }, allocations: { ...allocations } }));
        assert.equal(parseJournal(journal(line)).inputs.length, 1);
      }),
      { numRuns: 300 },
    );
  });

  test('allocations that are not a plain object are written as their plain copy would be', () => {
    class Allocs {
      vm1 = 4096;
      toJSON() {
        return { forged: 1 };
      }
    }
    const sample = (allocations: unknown) =>
      ({ type: 'host.sample', at: 1, freeKiB: 1, dom0: { currentKiB: 1, committedKiB: 1 }, allocations }) as unknown as SupervisorInput;
    assert.equal(encodeInput(sample(new Allocs())), '{"type":"host.sample","at":1,"freeKiB":1,"dom0":{"currentKiB":1,"committedKiB":1},"allocations":{"vm1":4096}}');
    assert.equal(encodeInput(sample([4096])), '{"type":"host.sample","at":1,"freeKiB":1,"dom0":{"currentKiB":1,"committedKiB":1},"allocations":{"0":4096}}');
  });

  test('what would not read back is refused with the field named', () => {
    const sample = (over: object) =>
      ({ type: 'host.sample', at: 1, freeKiB: 1, dom0: { currentKiB: 1, committedKiB: 1 }, allocations: { vm1: 4096 }, ...over }) as unknown as SupervisorInput;
    const refused = (e: SupervisorInput, field: RegExp) => assert.throws(() => encodeInput(e), (err: unknown) => err instanceof InputError && field.test(err.message));
    refused(sample({ allocations: { vm1: 4096.5 } }), /input\.allocations\.vm1: expected a whole number/);
    refused(sample({ allocations: { '': 4096 } }), /input\.allocations \(key\): must not be empty/);
    refused(sample({ allocations: { ['x'.repeat(MAX_ID_CHARS + 1)]: 4096 } }), /input\.allocations \(key\): at most/);
    refused(sample({ allocations: null }), /input\.allocations: expected an object/);
    refused(sample({ dom0: { currentKiB: -1, committedKiB: 1 } }), /input\.dom0\.currentKiB: must be >= 0/);
    refused(sample({ dom0: null }), /input\.dom0\.currentKiB: is required/);
    refused(sample({ freeKiB: Number.MAX_SAFE_INTEGER + 1 }), /input\.freeKiB: expected a whole number/);
    refused(sample({ at: Infinity }), /input\.at: expected a finite number/);
    const reports = (at: number, ...rs: object[]) => ({ type: 'agent.reports', at, reports: rs }) as unknown as SupervisorInput;
    const r = (over: object = {}) => ({ id: 'a', committedKiB: 1, freeKiB: 1, swapTotalKiB: 0, swapFreeKiB: 0, ...over });
    refused(reports(1), /input\.reports: must not be empty/);
    refused(reports(-1, r()), /input\.at: must be >= 0/);
    refused(reports(1, r(), null as unknown as object), /input\.reports\[1\]: expected an object/);
    refused(reports(1, r({ id: '' })), /input\.reports\[0\]\.id: must not be empty/);
    refused(reports(1, r({ id: 7 })), /input\.reports\[0\]\.id: expected a string/);
    refused(reports(1, r({ swapFreeKiB: undefined })), /input\.reports\[0\]\.swapFreeKiB: is required/);
    refused(reports(1, r({ freeKiB: -4 })), /input\.reports\[0\]\.freeKiB: must be >= 0/);
    refused(reports(1, r({ swapTotalKiB: '4' })), /input\.reports\[0\]\.swapTotalKiB: expected a whole number/);
    refused(reports(1, ...Array.from({ length: MAX_BATCH_REPORTS + 1 }, (_, i) => r({ id: `g${i}` }))), /input\.reports: at most 32768 entries/);
  });
});

/** [what is wrong, the journal, the line the error must name, a pattern its message must match] */
const BAD: [string, string, number, RegExp][] = [
  ['not JSON', journal('{"type":"tick","at":1}', '{"type":"tick",'), 3, /line 3: not valid JSON/],
  ['an array, not an object', journal('[1,2]'), 2, /line 2: expected an object/],
  ['an empty line', journal('{"type":"tick","at":1}', '', '{"type":"tick","at":2}'), 3, /line 3: empty line/],
  ['an unknown type', journal('{"type":"guest.exploded","at":1}'), 2, /line 2\.type: expected one of/],
  ['a missing type', journal('{"at":1}'), 2, /line 2\.type: is required/],
  ['a missing at', journal('{"type":"tick"}'), 2, /line 2\.at: is required/],
  ['a negative at', journal('{"type":"tick","at":-1}'), 2, /line 2\.at: must be >= 0/],
  ['at going back', journal('{"type":"tick","at":10}', '{"type":"tick","at":9}'), 3, /line 3\.at: 9 is earlier than the previous line's 10/],
  ['a missing field', journal('{"type":"agent.reports","at":1,"reports":[{"id":"a","committedKiB":1,"freeKiB":1,"swapTotalKiB":0}]}'), 2, /line 2\.reports\[0\]\.swapFreeKiB: is required/],
  ['a fractional KiB', journal('{"type":"agent.reports","at":1,"reports":[{"id":"b","committedKiB":1,"freeKiB":1,"swapTotalKiB":0,"swapFreeKiB":0},{"id":"a","committedKiB":1,"freeKiB":1.5,"swapTotalKiB":0,"swapFreeKiB":0}]}'), 2, /line 2\.reports\[1\]\.freeKiB: expected a whole number/],
  ['a v1 single report', journal('{"type":"agent.report","at":1,"id":"a","committedKiB":1,"freeKiB":1,"swapTotalKiB":0,"swapFreeKiB":0}'), 2, /line 2\.type: expected one of/],
  ['an empty batch', journal('{"type":"agent.reports","at":1,"reports":[]}'), 2, /line 2\.reports: must not be empty/],
  ['reports not a list', journal('{"type":"agent.reports","at":1,"reports":{"id":"a"}}'), 2, /line 2\.reports: expected an array/],
  ['a report that is not an object', journal('{"type":"agent.reports","at":1,"reports":[7]}'), 2, /line 2\.reports\[0\]: expected an object/],
  ['an unknown report field', journal('{"type":"agent.reports","at":1,"reports":[{"id":"a","committedKiB":1,"freeKiB":1,"swapTotalKiB":0,"swapFreeKiB":0,"at":3}]}'), 2, /line 2\.reports\[0\]\.at: unknown field/],
  ['two reports of one guest', journal('{"type":"agent.reports","at":1,"reports":[{"id":"a","committedKiB":1,"freeKiB":1,"swapTotalKiB":0,"swapFreeKiB":0},{"id":"a","committedKiB":2,"freeKiB":1,"swapTotalKiB":0,"swapFreeKiB":0}]}'), 2, /line 2\.reports\[1\]\.id: duplicate id "a" \(entry 0 has it too\)/],
  ['too many reports', journal(JSON.stringify({ type: 'agent.reports', at: 1, reports: Array.from({ length: MAX_BATCH_REPORTS + 1 }, (_, i) => ({ id: `g${i}`, committedKiB: 1, freeKiB: 1, swapTotalKiB: 0, swapFreeKiB: 0 })) })), 2, /line 2\.reports: at most 32768 entries/],
  ['a KiB as a string', journal('{"type":"guest.appeared","at":1,"id":"a","domid":1,"minKiB":"1","maxKiB":2,"currentKiB":1,"shares":1}'), 2, /line 2\.minKiB: expected a whole number/],
  ['a negative KiB', journal('{"type":"guest.appeared","at":1,"id":"a","domid":1,"minKiB":1,"maxKiB":2,"currentKiB":-4,"shares":1}'), 2, /line 2\.currentKiB: must be >= 0/],
  ['a fractional domid', journal('{"type":"guest.appeared","at":1,"id":"a","domid":1.5,"minKiB":1,"maxKiB":2,"currentKiB":1,"shares":1}'), 2, /line 2\.domid/],
  ['an unknown field', journal('{"type":"guest.left","at":1,"id":"a","why":"x"}'), 2, /line 2\.why: unknown field/],
  ['an empty id', journal('{"type":"guest.left","at":1,"id":""}'), 2, /line 2\.id: must not be empty/],
  ['a boolean as a string', journal('{"type":"agent.hello","at":1,"id":"a","protocol":1,"selfAdjust":"yes"}'), 2, /line 2\.selfAdjust: expected true or false/],
  ['an unknown effect', journal('{"type":"effect.failed","at":1,"id":"a","effect":"reboot","error":"e"}'), 2, /line 2\.effect: expected one of setTarget, setMode/],
  ['an unknown dom0 field', journal('{"type":"host.sample","at":1,"freeKiB":1,"dom0":{"currentKiB":1,"committedKiB":1,"x":1},"allocations":{}}'), 2, /line 2\.dom0\.x: unknown field/],
  ['a bad allocation', journal('{"type":"host.sample","at":1,"freeKiB":1,"dom0":{"currentKiB":1,"committedKiB":1},"allocations":{"vm1":null}}'), 2, /line 2\.allocations\.vm1: expected a whole number/],
  ['allocations as an array', journal('{"type":"host.sample","at":1,"freeKiB":1,"dom0":{"currentKiB":1,"committedKiB":1},"allocations":[]}'), 2, /line 2\.allocations: expected an object/],
  ['a line too long', journal(`{"type":"guest.left","at":1,"id":"${'x'.repeat(MAX_JOURNAL_LINE_CHARS)}"}`), 2, /line 2: longer than/],
  ['no header: an input first', '{"type":"tick","at":1}\n', 1, /line 1\.kind: is required/],
  ['a header of another kind', '{"kind":"other","v":1,"startedAt":0,"config":{}}\n', 1, /line 1\.kind: not a memcoop journal/],
  ['a future version', '{"kind":"memcoop-journal","v":4,"startedAt":0,"config":{}}\n', 1, /line 1\.v: journal version 4 is not supported \(this memcoop reads 2 and 3\)$/],
  ['a v1 journal', '{"kind":"memcoop-journal","v":1,"startedAt":0,"config":{}}\n', 1, /line 1\.v: journal version 1 is not supported \(this memcoop reads 2 and 3\): v1 journals hold one agent\.report per line.*Replay a v1 journal with the memcoop that wrote it/],
  ['a header without config', '{"kind":"memcoop-journal","v":2,"startedAt":0}\n', 1, /line 1\.config: is required/],
  ['a header with an unknown field', '{"kind":"memcoop-journal","v":2,"startedAt":0,"config":1,"host":"x"}\n', 1, /line 1\.host: unknown field/],
];

describe('journal format: every line is checked', () => {
  for (const [what, text, line, pattern] of BAD) {
    test(`rejects ${what}, naming line ${line}`, () => {
      assert.throws(
        () => parseJournal(text),
        (e: unknown) => {
          assert.ok(e instanceof JournalError, `expected a JournalError, got ${String(e)}`);
          assert.equal(e.line, line);
          assert.match(e.message, pattern);
          return true;
        },
      );
    });
  }

  test('rejects an empty journal (no header)', () => {
    assert.throws(() => parseJournal(''), /no header/);
  });

  test('a bad line deep in the file is found by number', () => {
    const lines = Array.from({ length: 500 }, (_, i) => encodeInput({ type: 'tick', at: i }));
    lines[366] = '{"type":"tick","at":366,"extra":true}';
    assert.throws(() => parseJournal(journal(...lines)), (e: unknown) => e instanceof JournalError && e.line === 368);
  });
});

describe('journal format: a truncated last line', () => {
  const cut = journal('{"type":"tick","at":1}', '{"type":"tick","at":2}') + '{"type":"agent.reports","at":3,"reports":[{"id":"vm1","commi';

  test('is an error by default, naming the line and saying it was cut off', () => {
    assert.throws(
      () => parseJournal(cut),
      (e: unknown) => e instanceof JournalError && e.line === 4 && /truncated/.test(e.message),
    );
  });

  test('with allowTruncatedTail, the lines before it are kept and the cut line reported', () => {
    const r = parseJournal(cut, { allowTruncatedTail: true });
    assert.deepEqual(r.inputs, [{ type: 'tick', at: 1 }, { type: 'tick', at: 2 }]);
    assert.equal(r.truncatedLine, 4);
  });

  test('a complete last line that only lacks its newline is a whole line', () => {
    const r = parseJournal(journal('{"type":"tick","at":1}') + '{"type":"tick","at":2}');
    assert.deepEqual(r.inputs, [{ type: 'tick', at: 1 }, { type: 'tick', at: 2 }]);
    assert.equal(r.truncatedLine, null);
  });

  test('a complete but invalid last line without newline is still checked', () => {
    assert.throws(() => parseJournal(journal() + '{"type":"tick","at":"x"}'), /line 2\.at/);
  });

  test('a crashed writer: the file reader reports the cut line', async () => {
    const dir = tmp();
    try {
      const path = join(dir, 'crash.jsonl');
      const w = JournalWriter.open(path, { startedAt: 0, config: {} });
      w.append({ type: 'tick', at: 1000 });
      w.close();
      appendFileSync(path, '{"type":"host.sample","at":2000,"freeKiB":10'); // the process died here
      await assert.rejects(readJournalFile(path), (e: unknown) => e instanceof JournalError && e.line === 3 && e.message.includes(path));
      const r = await readJournalFile(path, { allowTruncatedTail: true });
      assert.deepEqual(r.inputs, [{ type: 'tick', at: 1000 }]);
      assert.equal(r.truncatedLine, 3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('journal writer', () => {
  test('a journal larger than one read chunk, with multi-byte ids, reads back whole', async () => {
    const dir = tmp();
    try {
      const path = join(dir, 'big.jsonl');
      const w = JournalWriter.open(path, { startedAt: 0, config: null });
      const inputs: SupervisorInput[] = [];
      for (let i = 0; i < 20_000; i++) {
        const e: SupervisorInput = { type: 'agent.reports', at: i, reports: [{ id: `vm-é-${i % 7}`, committedKiB: i, freeKiB: i * 3, swapTotalKiB: 0, swapFreeKiB: 0 }] };
        inputs.push(e);
        w.append(e);
      }
      w.close();
      assert.equal(w.appended, 20_000);
      const r = await readJournalFile(path);
      assert.equal(r.inputs.length, inputs.length);
      assert.deepEqual(r.inputs, inputs);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('refuses an input that goes back in time or would not read back, and writes nothing for it', async () => {
    const dir = tmp();
    try {
      const path = join(dir, 'j.jsonl');
      const w = JournalWriter.open(path, { startedAt: 0, config: null });
      w.append({ type: 'tick', at: 10 });
      assert.throws(() => w.append({ type: 'tick', at: 9 }), /earlier than the previous/);
      assert.throws(() => w.append({ type: 'guest.left', at: 11, id: '' }), /id: must not be empty/);
      w.append({ type: 'tick', at: 12 });
      w.close();
      assert.throws(() => w.append({ type: 'tick', at: 13 }), /closed/);
      assert.deepEqual((await readJournalFile(path)).inputs, [{ type: 'tick', at: 10 }, { type: 'tick', at: 12 }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('each append is on disk before append returns (a crash loses at most the line being written)', () => {
    const dir = tmp();
    try {
      const path = join(dir, 'j.jsonl');
      const w = JournalWriter.open(path, { startedAt: 0, config: null });
      w.append({ type: 'tick', at: 1 });
      // Read by another handle while the writer is still open: nothing is buffered in-process.
      assert.equal(readFileSync(path, 'utf8').split('\n').length, 3);
      w.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('exclusive refuses an existing journal; the default rotates it, never replaces it', async () => {
    const dir = tmp();
    try {
      const path = join(dir, 'j.jsonl');
      writeFileSync(path, 'old');
      assert.throws(() => JournalWriter.open(path, { startedAt: 0, config: null }, { exclusive: true }), /EEXIST/);
      assert.equal(readFileSync(path, 'utf8'), 'old');
      JournalWriter.open(path, { startedAt: 0, config: null }, { durable: true }).close();
      assert.deepEqual((await readJournalFile(path)).inputs, []);
      assert.equal(readFileSync(path + '.1', 'utf8'), 'old');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
