import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import {
  MAX_MEMINFO_CHARS,
  MeminfoError,
  agentReportFromMeminfo,
  meminfoReport,
  parseMeminfo,
  reportFromMeminfo,
} from '../../../src/vocabulary/meminfo.ts';

// A copy of a real guest's /proc/meminfo (Linux 6.1), trimmed.
const SAMPLE = `MemTotal:         262144 kB
MemFree:           40960 kB
MemAvailable:      90000 kB
Active(anon):       1556 kB
Committed_AS:     300000 kB
SwapTotal:        524288 kB
SwapFree:         500000 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
VmallocTotal:   34359738367 kB
`;

function expectError(text: string, line: number, pattern: RegExp): void {
  assert.throws(
    () => reportFromMeminfo(text),
    (e: unknown) => {
      assert.ok(e instanceof MeminfoError, `expected a MeminfoError, got ${String(e)}`);
      assert.equal(e.line, line);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

describe('parseMeminfo', () => {
  test('reads kB fields and unit-less counts apart', () => {
    const m = parseMeminfo(SAMPLE);
    assert.equal(m.kib.get('MemTotal'), 262144);
    assert.equal(m.kib.get('Active(anon)'), 1556);
    assert.equal(m.kib.get('VmallocTotal'), 34359738367);
    assert.equal(m.counts.get('HugePages_Total'), 0);
    assert.equal(m.kib.has('HugePages_Total'), false);
    assert.equal(m.kib.size + m.counts.size, 10);
  });

  test('extracts the report fields, ignoring the rest', () => {
    assert.deepEqual(reportFromMeminfo(SAMPLE), {
      memTotalKiB: 262144,
      memFreeKiB: 40960,
      committedKiB: 300000,
      swapTotalKiB: 524288,
      swapFreeKiB: 500000,
      availableKiB: 90000,
    });
  });

  test('makes the raw agent report a host emits', () => {
    assert.deepEqual(agentReportFromMeminfo('vm1', 42, SAMPLE), {
      type: 'agent.report',
      at: 42,
      id: 'vm1',
      committedKiB: 300000,
      freeKiB: 40960,
      swapTotalKiB: 524288,
      swapFreeKiB: 500000,
      availableKiB: 90000,
    });
  });

  test('an old agent\'s report (the five required fields only) has no optional field at all', () => {
    const old = 'MemTotal: 262144 kB\nMemFree: 40960 kB\nCommitted_AS: 300000 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n';
    const r = agentReportFromMeminfo('vm1', 1, old);
    assert.deepEqual(Object.keys(r).sort(), ['at', 'committedKiB', 'freeKiB', 'id', 'swapFreeKiB', 'swapTotalKiB', 'type']);
  });

  test('a new agent\'s report carries vmstat and PSI fields; absent ones stay absent', () => {
    const text =
      'MemTotal: 262144 kB\nMemFree: 40960 kB\nMemAvailable: 90000 kB\nCommitted_AS: 300000 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n' +
      'pswpin: 7\npswpout: 9\npgmajfault: 1234\nworkingset_refault_file: 55\npsi_some_avg10: 57\npsi_some_total: 123456\n';
    assert.deepEqual(agentReportFromMeminfo('vm1', 1, text), {
      type: 'agent.report',
      at: 1,
      id: 'vm1',
      committedKiB: 300000,
      freeKiB: 40960,
      swapTotalKiB: 0,
      swapFreeKiB: 0,
      availableKiB: 90000,
      pswpin: 7,
      pswpout: 9,
      pgmajfault: 1234,
      refaultFile: 55,
      psiSomeAvg10: 57,
      psiSomeTotalUs: 123456,
    });
  });

  test('an optional field with the wrong unit, or a PSI share above 100 %, is refused', () => {
    const base = 'MemTotal: 262144 kB\nMemFree: 40960 kB\nCommitted_AS: 300000 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n';
    expectError(base + 'MemAvailable: 5\n', 0, /MemAvailable has no kB unit/);
    expectError(base + 'pswpin: 5 kB\n', 0, /pswpin is a count/);
    expectError(base + 'psi_full_avg10: 10001\n', 0, /PSI avg10 above 100 %/);
  });

  test('a text without the final newline is the same', () => {
    assert.deepEqual(reportFromMeminfo(SAMPLE.trimEnd()), reportFromMeminfo(SAMPLE));
  });

  test('parses this machine\'s own /proc/meminfo (real kernel output)', { skip: !existsSync('/proc/meminfo') && 'no /proc/meminfo here' }, () => {
    const text = readFileSync('/proc/meminfo', 'utf8');
    const m = parseMeminfo(text);
    // Every line the kernel wrote was read: nothing skipped silently.
    assert.equal(m.kib.size + m.counts.size, text.trimEnd().split('\n').length);
    const r = meminfoReport(m);
    assert.ok(r.memTotalKiB > 0 && r.memFreeKiB <= r.memTotalKiB && r.swapFreeKiB <= r.swapTotalKiB);
    // MemTotal agrees with the kernel's other account of it (sysinfo(2), which os.totalmem reads).
    assert.equal(r.memTotalKiB * 1024, totalmem());
  });
});

describe('parseMeminfo: bad input is refused, naming the line', () => {
  test('a line without a number', () => expectError(SAMPLE.replace('MemFree:           40960 kB', 'MemFree:  lots kB'), 2, /meminfo line 2: expected .*"MemFree:  lots kB"/));
  test('a negative value', () => expectError(SAMPLE.replace('40960', '-40960'), 2, /line 2/));
  test('a fractional value', () => expectError(SAMPLE.replace('40960', '409.60'), 2, /line 2/));
  test('another unit', () => expectError(SAMPLE.replace('40960 kB', '40 MB'), 2, /line 2/));
  test('trailing garbage', () => expectError(SAMPLE.replace('300000 kB', '300000 kB; rm -rf /'), 5, /line 5/));
  test('no colon', () => expectError(`MemTotal 1 kB\n`, 1, /line 1/));
  test('an empty line in the middle', () => expectError(SAMPLE.replace('\nSwapTotal', '\n\nSwapTotal'), 6, /line 6/));
  test('a key that appears twice (a later line must not override)', () =>
    expectError(SAMPLE + 'MemFree:  262144 kB\n', 11, /line 11: MemFree appears twice/));
  test('a value too large to be exact', () => expectError(SAMPLE.replace('40960', '99999999999999999999'), 2, /too large/));
  test('a long bad line is quoted truncated', () => {
    const junk = 'x'.repeat(1000);
    assert.throws(() => parseMeminfo(`${junk}\n`), (e: unknown) => e instanceof Error && e.message.length < 200 && e.message.includes('…'));
  });
  test('text beyond the size bound, before any parsing', () => {
    const big = SAMPLE + 'Filler:  1 kB\n'.repeat(Math.ceil(MAX_MEMINFO_CHARS / 14));
    expectError(big, 0, /larger than 8192 characters/);
  });
  test('empty text', () => expectError('', 0, /empty/));
});

describe('meminfoReport: the fields it needs', () => {
  for (const key of ['MemTotal', 'MemFree', 'Committed_AS', 'SwapTotal', 'SwapFree']) {
    test(`names a missing ${key}`, () => {
      const text = SAMPLE.split('\n').filter((l) => !l.startsWith(`${key}:`)).join('\n');
      expectError(text, 0, new RegExp(`${key} is missing`));
    });
  }
  test('a needed field without its kB unit', () => expectError(SAMPLE.replace('40960 kB', '40960'), 0, /MemFree has no kB unit/));
  test('MemFree above MemTotal (a lying guest)', () => expectError(SAMPLE.replace('40960', '999999'), 0, /MemFree 999999 kB exceeds MemTotal/));
  test('SwapFree above SwapTotal', () => expectError(SAMPLE.replace('500000', '600000'), 0, /SwapFree 600000 kB exceeds SwapTotal/));
});
