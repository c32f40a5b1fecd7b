// What a guest's agent writes, parsed as untrusted input; the XenStore paths and ids; the pure
// parts of the XenStore streams (listing diff, which keys a watch event asks to re-read, the
// coalescing reader). No xenstored needed.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Subject } from 'rxjs';
import { MAX_HELLO_BYTES, MAX_REPORT_BYTES, formatHello, parseHello, parseReport } from '../../src/hosts/xen/agent-protocol.ts';
import { DOMID_FIRST_RESERVED, domidOf, guestId, modePermissions, parseDomid, parseKiB } from '../../src/hosts/xen/layout.ts';
import { DOM0_ID } from '../../src/vocabulary/writes.ts';
import { agentKeysOfEvent, diffDomains, domidsOfListing, readOnEach, type ReadResult } from '../../src/hosts/xen/ingress.ts';
import { meminfoText } from './xen-harness.ts';

describe('hello grammar', () => {
  test('exactly "protocol=<n> selfAdjust=<0|1>", one optional trailing newline', () => {
    assert.deepEqual(parseHello('protocol=1 selfAdjust=1'), { ok: true, value: { protocol: 1, selfAdjust: true } });
    assert.deepEqual(parseHello('protocol=0 selfAdjust=0\n'), { ok: true, value: { protocol: 0, selfAdjust: false } });
    assert.deepEqual(parseHello('protocol=123456 selfAdjust=0'), { ok: true, value: { protocol: 123456, selfAdjust: false } });
    for (const h of [{ protocol: 1, selfAdjust: true }, { protocol: 7, selfAdjust: false }]) {
      assert.deepEqual(parseHello(formatHello(h)), { ok: true, value: h }, 'formatHello reads back');
    }
  });

  test('everything else is refused, in memcoop\'s words', () => {
    const bad = [
      '',
      'protocol=1',
      'selfAdjust=1 protocol=1',
      'protocol=1  selfAdjust=1',
      'protocol=01 selfAdjust=1',
      'protocol=-1 selfAdjust=1',
      'protocol=1 selfAdjust=yes',
      'protocol=1 selfAdjust=1\n\n',
      'protocol=1 selfAdjust=1 extra=1',
      'protocol=1234567 selfAdjust=1',
      ' protocol=1 selfAdjust=1',
      'protocol=1\tselfAdjust=1',
      'protocol=１ selfAdjust=1',
    ];
    for (const b of bad) {
      const r = parseHello(b);
      assert.equal(r.ok, false, JSON.stringify(b));
      if (!r.ok) assert.ok(!r.problem.includes(b) || b === '', 'the problem does not quote the guest');
    }
  });

  test('the length bound is checked first, in bytes', () => {
    const r = parseHello(`protocol=1 selfAdjust=1${'\n'.repeat(MAX_HELLO_BYTES)}`);
    assert.deepEqual(r, { ok: false, problem: `hello longer than ${MAX_HELLO_BYTES} bytes (${23 + MAX_HELLO_BYTES})` });
    const multibyte = 'é'.repeat(MAX_HELLO_BYTES / 2 + 1); // fewer characters than bytes
    assert.match((parseHello(multibyte) as { problem: string }).problem, /longer than/);
  });
});

describe('meminfo report', () => {
  test('the agent\'s lines become a raw agent.report', () => {
    const r = parseReport('dom3', 42, meminfoText({ totalKiB: 524288, freeKiB: 1000, committedKiB: 600000, swapTotalKiB: 4096, swapFreeKiB: 1024 }));
    assert.deepEqual(r, {
      ok: true,
      value: { type: 'agent.report', at: 42, id: 'dom3', committedKiB: 600000, freeKiB: 1000, swapTotalKiB: 4096, swapFreeKiB: 1024 },
    });
  });

  test('bad reports are refused by line number, without the guest\'s text', () => {
    const secret = 'Evil: $(reboot)';
    const r = parseReport('dom3', 1, `MemTotal: 1 kB\n${secret}\n`);
    assert.deepEqual(r, { ok: false, problem: 'report line 2 is not "Key: <number> kB"' });
    assert.deepEqual(parseReport('dom3', 1, 'MemTotal: 1 kB\n'), { ok: false, problem: 'report: MemFree is missing' });
    const lying = meminfoText({ totalKiB: 100, freeKiB: 200, committedKiB: 1 });
    assert.deepEqual(parseReport('dom3', 1, lying), { ok: false, problem: 'report: MemFree 200 kB exceeds MemTotal 100 kB' });
  });

  test('over MAX_REPORT_BYTES is refused before parsing', () => {
    const ok = meminfoText({ totalKiB: 1, freeKiB: 1, committedKiB: 1 });
    const padded = ok + 'Pad: 1 kB\n'.repeat(Math.ceil((MAX_REPORT_BYTES - ok.length) / 10) + 1);
    assert.ok(padded.length > MAX_REPORT_BYTES);
    assert.deepEqual(parseReport('dom1', 1, padded), { ok: false, problem: `report longer than ${MAX_REPORT_BYTES} bytes (${padded.length})` });
    let exact = ok;
    for (let i = 0; exact.length + 12 <= MAX_REPORT_BYTES; i++) exact += `P${String(i).padStart(3, '0')}: 1 kB\n`; // 12 bytes each
    assert.ok(exact.length <= MAX_REPORT_BYTES && exact.length > MAX_REPORT_BYTES - 12);
    assert.equal(parseReport('dom1', 1, exact).ok, true, 'at the bound is fine');
  });
});

describe('layout', () => {
  test('domids and supervisor ids', () => {
    assert.equal(parseDomid('0'), 0);
    assert.equal(parseDomid('32751'), 32751);
    for (const bad of ['', '-1', '01', '1.0', 'a', ' 1', String(DOMID_FIRST_RESERVED), '99999', '100000']) assert.equal(parseDomid(bad), null, bad);
    assert.equal(guestId(0), DOM0_ID, 'domain 0 is the supervisor\'s Dom0');
    assert.equal(guestId(17), 'dom17');
    assert.equal(domidOf('dom17'), 17);
    assert.equal(domidOf(DOM0_ID), 0);
    for (const bad of ['17', 'dom', 'dom017', 'dom-1', 'vm1', 'dom32752']) assert.equal(domidOf(bad), null, bad);
  });

  test('KiB values and the mode key permissions', () => {
    assert.equal(parseKiB('524288'), 524288);
    assert.equal(parseKiB('524288\n'), 524288);
    for (const bad of [null, '', '-1', '1e3', '12 kB', '0x10', '1234567890123456']) assert.equal(parseKiB(bad), null, String(bad));
    assert.deepEqual(modePermissions(5), [
      { domid: 0, access: 'none' },
      { domid: 5, access: 'read' },
    ]);
  });
});

describe('XenStore stream pieces', () => {
  test('a listing becomes sorted domids; the diff names who came and who went', () => {
    assert.deepEqual(domidsOfListing(['10', '0', '2', 'junk', '007', '1']), [0, 1, 2, 10]);
    assert.deepEqual(diffDomains(new Set([1, 2, 3]), [2, 3, 4, 5]), { added: [4, 5], removed: [1] });
    assert.deepEqual(diffDomains(new Set(), []), { added: [], removed: [] });
  });

  test('which agent keys a watch event re-reads', () => {
    assert.deepEqual(agentKeysOfEvent(3, '/local/domain/3/data/memcoop'), ['hello', 'meminfo']);
    assert.deepEqual(agentKeysOfEvent(3, '/local/domain/3/data/memcoop/hello'), ['hello']);
    assert.deepEqual(agentKeysOfEvent(3, '/local/domain/3/data/memcoop/meminfo'), ['meminfo']);
    assert.deepEqual(agentKeysOfEvent(3, '/local/domain/3/data/memcoop/other'), []);
    assert.deepEqual(agentKeysOfEvent(3, '/local/domain/4/data/memcoop/hello'), [], 'another domain\'s key');
  });

  test('readOnEach: a burst while a read is in flight costs one more read, not one each', async () => {
    const trigger = new Subject<void>();
    const pending: Array<(v: number) => void> = [];
    let reads = 0;
    const out: ReadResult<number>[] = [];
    const sub = trigger
      .pipe(
        readOnEach(() => {
          reads++;
          return new Promise<number>((resolve) => pending.push(resolve));
        }),
      )
      .subscribe((r) => out.push(r));
    trigger.next();
    trigger.next();
    trigger.next();
    trigger.next();
    assert.equal(reads, 1, 'one read in flight');
    pending.shift()!(1);
    await new Promise((r) => setImmediate(r));
    assert.equal(reads, 2, 'the burst folded into one more read');
    pending.shift()!(2);
    await new Promise((r) => setImmediate(r));
    assert.equal(reads, 2);
    assert.deepEqual(out, [
      { ok: true, value: 1 },
      { ok: true, value: 2 },
    ]);
    sub.unsubscribe();
  });

  test('readOnEach: a failed read is a value, and the stream goes on', async () => {
    const trigger = new Subject<void>();
    let n = 0;
    const out: ReadResult<number>[] = [];
    trigger.pipe(readOnEach(() => (++n === 1 ? Promise.reject(new Error('boom')) : Promise.resolve(n)))).subscribe((r) => out.push(r));
    trigger.next();
    await new Promise((r) => setImmediate(r));
    trigger.next();
    await new Promise((r) => setImmediate(r));
    assert.equal(out.length, 2);
    assert.equal(out[0]!.ok, false);
    assert.deepEqual(out[1], { ok: true, value: 2 });
  });
});
