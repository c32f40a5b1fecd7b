// QMP framing and message shapes (qmp-messages.ts, lines.ts): QEMU's real lines, and lines from
// a socket that is not QMP.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter } from '../../../../src/hosts/kvm/lines.ts';
import {
  MAX_QMP_LINE_BYTES,
  balloonActualKiB,
  baseMemoryKiB,
  formatQmpCommand,
  parseGuestStats,
  parseQmpLine,
} from '../../../../src/hosts/kvm/qmp-messages.ts';

// Lines as QEMU 7.2 (Debian 12) sent them here.
const GREETING = '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}';

describe('QMP messages', () => {
  test('greeting, return, error, event', () => {
    assert.deepEqual(parseQmpLine(GREETING), { kind: 'greeting' });
    assert.deepEqual(parseQmpLine('{"return": {"actual": 536870912}, "id": 3}'), { kind: 'return', id: 3, value: { actual: 536870912 } });
    assert.deepEqual(parseQmpLine('{"id": 7, "error": {"class": "CommandNotFound", "desc": "The command nonsense has not been found"}}'), {
      kind: 'error',
      id: 7,
      errorClass: 'CommandNotFound',
      desc: 'The command nonsense has not been found',
    });
    const ev = parseQmpLine('{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "BALLOON_CHANGE", "data": {"actual": 268435456}}');
    assert.equal(ev.kind, 'event');
    assert.equal(balloonActualKiB(ev.kind === 'event' ? ev.data : null), 262144);
  });

  test('what is not QMP is bad, never thrown', () => {
    for (const line of ['hello', '[]', '42', '{"return": 1}', '{"error": "x", "id": 1}', '{"foo": 1}', '{"return":{},"id":1.5}', '']) {
      assert.equal(parseQmpLine(line).kind, 'bad', line);
    }
  });

  test('commands are one line with our id', () => {
    assert.equal(formatQmpCommand(4, 'query-balloon'), '{"execute":"query-balloon","id":4}\n');
    assert.deepEqual(JSON.parse(formatQmpCommand(5, 'balloon', { value: 1024 })), { execute: 'balloon', arguments: { value: 1024 }, id: 5 });
  });

  test('sizes: bytes to KiB, unusable values null', () => {
    assert.equal(baseMemoryKiB({ 'base-memory': 536870912, 'plugged-memory': 0 }), 524288);
    assert.equal(balloonActualKiB({ actual: -1 }), null);
    assert.equal(balloonActualKiB({ actual: 2 ** 64 }), null);
    assert.equal(balloonActualKiB({}), null);
  });

  test('guest-stats: unset statistics (2^64-1) and no update read as absent', () => {
    const unset = 18446744073709551615;
    assert.equal(parseGuestStats({ stats: { 'stat-total-memory': unset, 'stat-free-memory': unset }, 'last-update': 0 }), null);
    assert.deepEqual(
      parseGuestStats({ stats: { 'stat-total-memory': 480 * 1048576, 'stat-free-memory': 400 * 1048576, 'stat-available-memory': unset }, 'last-update': 17 }),
      { totalKiB: 480 * 1024, freeKiB: 400 * 1024, availableKiB: null, lastUpdate: 17 },
    );
  });

  test('framing: lines split across chunks; an overlong line is reported once, then reading goes on', () => {
    const s = new LineSplitter(MAX_QMP_LINE_BYTES);
    assert.deepEqual(s.push(Buffer.from('{"ret')), []);
    assert.deepEqual(s.push(Buffer.from('urn": {}, "id": 1}\n{"a"')), [{ kind: 'line', text: '{"return": {}, "id": 1}' }]);
    const big = Buffer.alloc(MAX_QMP_LINE_BYTES + 10, 0x61);
    // reported as soon as it passes the bound (its newline may never come), once
    assert.deepEqual(s.push(big), [{ kind: 'too-long', bytes: MAX_QMP_LINE_BYTES + 10 + 4 }]);
    assert.equal(s.pending, 0); // dropped, not held
    assert.deepEqual(s.push(Buffer.from('more')), []);
    assert.deepEqual(s.push(Buffer.from('b\nok\n')), [{ kind: 'line', text: 'ok' }]);
  });
});
