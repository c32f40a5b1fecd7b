// keptReport (src/machines/facts.ts): the report the supervisor keeps per guest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keptReport } from '../../../src/machines/facts.ts';

test('keptReport: pswpin growth since the previous report becomes swapInsKiB; a counter that went back gives none', () => {
  const base = { committedKiB: 1, freeKiB: 2, swapTotalKiB: 3, swapFreeKiB: 3 };
  const first = keptReport({ ...base, pswpin: 100 }, null);
  assert.equal(first.swapInsKiB, undefined);
  const second = keptReport({ ...base, pswpin: 356, psiSomeAvg10: 7 }, first);
  assert.equal(second.swapInsKiB, 1024);
  assert.equal(second.psiSomeAvg10, 7);
  assert.equal(keptReport({ ...base, pswpin: 5 }, second).swapInsKiB, undefined);
  assert.deepEqual(keptReport(base, second), base);
});
