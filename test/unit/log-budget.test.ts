import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INPUT_LOG_INTERVAL_MS, LogBudget } from '../../src/util/log-budget.ts';

test('a log budget: one line per interval, however often asked; the next line counts what it held back', () => {
  const b = new LogBudget();
  assert.deepEqual(b.take(0), { log: true, suppressed: 0 });
  // A flipping agent asks 257 times a second: none of it is logged within the minute.
  for (let t = 1; t < INPUT_LOG_INTERVAL_MS; t += 4) assert.deepEqual(b.take(t), { log: false });
  const held = Math.ceil((INPUT_LOG_INTERVAL_MS - 1) / 4);
  assert.deepEqual(b.take(INPUT_LOG_INTERVAL_MS), { log: true, suppressed: held });
  assert.deepEqual(b.take(INPUT_LOG_INTERVAL_MS + 1), { log: false });
});
