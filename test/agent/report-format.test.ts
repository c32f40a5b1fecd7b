// The agent's optional report fields on Dom0's side (no xenstored needed): parsed from the text
// the agent writes, carried through batching into agent.reports, written to the journal and read
// back; an old agent's report and an old journal line still read. The text here is what
// memcoop-agent --once printed for the same files (test/agent/cli.test.ts checks that output).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReport } from '../../src/hosts/xen/agent-protocol.ts';
import { encodeHeader, encodeInput, parseJournal } from '../../src/journal/format.ts';
import type { AgentReports } from '../../src/vocabulary/events.ts';

const NEW_AGENT =
  'MemTotal: 262144 kB\nMemFree: 40960 kB\nMemAvailable: 90000 kB\nCommitted_AS: 300000 kB\nSwapTotal: 524288 kB\nSwapFree: 500000 kB\n' +
  'pswpin: 3\npswpout: 4\npgmajfault: 555\nworkingset_refault_anon: 6\nworkingset_refault_file: 7\n' +
  'psi_some_avg10: 57\npsi_full_avg10: 1205\npsi_some_total: 1234\npsi_full_total: 99\n';
const OLD_AGENT = 'MemTotal: 262144 kB\nMemFree: 40960 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\nCommitted_AS: 300000 kB\n';

function journal(lines: string[]): string {
  return [encodeHeader({ startedAt: 1, config: {} }), ...lines].join('\n') + '\n';
}

describe('the agent\'s optional report fields on Dom0\'s side', () => {
  test('a new agent\'s report: every field parsed', () => {
    const r = parseReport('dom1', 5, NEW_AGENT);
    assert.ok(r.ok);
    assert.deepEqual(r.value, {
      type: 'agent.report',
      at: 5,
      id: 'dom1',
      committedKiB: 300000,
      freeKiB: 40960,
      swapTotalKiB: 524288,
      swapFreeKiB: 500000,
      availableKiB: 90000,
      pswpin: 3,
      pswpout: 4,
      pgmajfault: 555,
      refaultAnon: 6,
      refaultFile: 7,
      psiSomeAvg10: 57,
      psiFullAvg10: 1205,
      psiSomeTotalUs: 1234,
      psiFullTotalUs: 99,
    });
  });

  test('an old agent\'s report (five fields): parsed, no optional field present', () => {
    const r = parseReport('dom1', 5, OLD_AGENT);
    assert.ok(r.ok);
    assert.equal('availableKiB' in r.value, false);
    assert.equal('psiSomeAvg10' in r.value, false);
  });

  test('a batch with some optional fields: journaled and read back as it was, absent ones absent', () => {
    const batch: AgentReports = {
      type: 'agent.reports',
      at: 10,
      reports: [
        { id: 'dom1', committedKiB: 300000, freeKiB: 40960, swapTotalKiB: 0, swapFreeKiB: 0, availableKiB: 90000, pgmajfault: 5, psiSomeAvg10: 57 },
        { id: 'dom2', committedKiB: 200000, freeKiB: 30000, swapTotalKiB: 0, swapFreeKiB: 0 },
      ],
    };
    const line = encodeInput(batch);
    assert.equal(
      line,
      '{"type":"agent.reports","at":10,"reports":[{"id":"dom1","committedKiB":300000,"freeKiB":40960,"swapTotalKiB":0,"swapFreeKiB":0,"availableKiB":90000,"pgmajfault":5,"psiSomeAvg10":57},' +
        '{"id":"dom2","committedKiB":200000,"freeKiB":30000,"swapTotalKiB":0,"swapFreeKiB":0}]}',
    );
    const j = parseJournal(journal([line]));
    assert.deepEqual(j.inputs, [batch]);
  });

  test('a journal line written before the optional fields existed still reads', () => {
    const old = '{"type":"agent.reports","at":10,"reports":[{"id":"dom1","committedKiB":300000,"freeKiB":40960,"swapTotalKiB":0,"swapFreeKiB":0}]}';
    assert.deepEqual(parseJournal(journal([old])).inputs, [
      { type: 'agent.reports', at: 10, reports: [{ id: 'dom1', committedKiB: 300000, freeKiB: 40960, swapTotalKiB: 0, swapFreeKiB: 0 }] },
    ]);
  });

  test('an optional field that is not a count is refused, named', () => {
    const bad = '{"type":"agent.reports","at":10,"reports":[{"id":"dom1","committedKiB":1,"freeKiB":1,"swapTotalKiB":0,"swapFreeKiB":0,"pswpin":-1}]}';
    assert.throws(() => parseJournal(journal([bad])), /reports\[0\]\.pswpin/);
    const unknown = '{"type":"agent.reports","at":10,"reports":[{"id":"dom1","committedKiB":1,"freeKiB":1,"swapTotalKiB":0,"swapFreeKiB":0,"pswpinn":1}]}';
    assert.throws(() => parseJournal(journal([unknown])), /pswpinn/);
  });
});
