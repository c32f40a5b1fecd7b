// The virtio-serial line grammar (agent-lines.ts) over the bounded framing (lines.ts): what a
// guest may send, and every way it can go wrong, each a `bad` message that quotes nothing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter } from '../../../../src/hosts/kvm/lines.ts';
import { AgentLineReader, MAX_AGENT_LINE_BYTES, MAX_REPORT_BLOCK_BYTES, MAX_REPORT_LINES, formatMode, type AgentMessage } from '../../../../src/hosts/kvm/agent-lines.ts';
import { parseHello, parseReport } from '../../../../src/hosts/xen/agent-protocol.ts';

function read(...chunks: string[]): AgentMessage[] {
  const split = new LineSplitter(MAX_AGENT_LINE_BYTES);
  const r = new AgentLineReader();
  return chunks.flatMap((c) => split.push(Buffer.from(c, 'utf8')).flatMap((ev) => r.line(ev)));
}

const REPORT = 'MemTotal: 469404 kB\nMemFree: 300000 kB\nCommitted_AS: 120000 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n';

describe('agent line protocol', () => {
  test('a hello and a report, in any chunking', () => {
    const text = `hello protocol=1 selfAdjust=1\nreport\n${REPORT}end\n`;
    const whole = read(text);
    assert.deepEqual(whole, [
      { kind: 'hello', text: 'protocol=1 selfAdjust=1' },
      { kind: 'report', text: REPORT },
    ]);
    // byte by byte: the same messages
    assert.deepEqual(read(...text.split('')), whole);
    const h = parseHello((whole[0] as { text: string }).text);
    assert.ok(h.ok && h.value.protocol === 1 && h.value.selfAdjust);
    const r = parseReport('g', 5, (whole[1] as { text: string }).text);
    assert.ok(r.ok && r.value.committedKiB === 120000 && r.value.freeKiB === 300000);
  });

  test('an unfinished line is held, not delivered', () => {
    assert.deepEqual(read('hello protocol=1 selfAdjust=0'), []);
  });

  test('a line over 128 bytes is bad and skipped to its newline; the next line is read', () => {
    const m = read('x'.repeat(MAX_AGENT_LINE_BYTES + 1), '\nhello protocol=1 selfAdjust=0\n');
    assert.equal(m.length, 2);
    assert.equal(m[0]!.kind, 'bad');
    assert.deepEqual(m[1], { kind: 'hello', text: 'protocol=1 selfAdjust=0' });
    // exactly 128 bytes is a line
    assert.equal(read('y'.repeat(MAX_AGENT_LINE_BYTES) + '\n')[0]!.kind, 'bad'); // bad grammar, not too long
    assert.doesNotMatch((read('y'.repeat(MAX_AGENT_LINE_BYTES) + '\n')[0] as { problem: string }).problem, /longer/);
  });

  test('an overlong line inside a report drops the whole report', () => {
    const m = read(`report\nMemTotal: 1 kB\n${'z'.repeat(500)}\nMemFree: 1 kB\nend\nhello protocol=1 selfAdjust=1\n`);
    assert.deepEqual(m.map((x) => x.kind), ['bad', 'hello']);
  });

  test('a report over 32 lines or 2048 bytes is bad and dropped to its end', () => {
    const many = Array.from({ length: MAX_REPORT_LINES + 1 }, (_, i) => `K${i}: 1 kB`).join('\n');
    assert.deepEqual(read(`report\n${many}\nend\n`).map((x) => x.kind), ['bad']);
    const lines = Math.ceil(MAX_REPORT_BLOCK_BYTES / 100) + 1;
    assert.ok(lines <= MAX_REPORT_LINES);
    const big = Array.from({ length: lines }, (_, i) => `K${i}: ${'9'.repeat(90)}`).join('\n');
    assert.deepEqual(read(`report\n${big}\nend\n`).map((x) => x.kind), ['bad']);
    // after the bad one, a good report goes through
    assert.deepEqual(read(`report\n${many}\nend\nreport\n${REPORT}end\n`).map((x) => x.kind), ['bad', 'report']);
  });

  test('grammar: stray end, unknown lines, report without end', () => {
    assert.deepEqual(read('end\n').map((x) => x.kind), ['bad']);
    assert.deepEqual(read('mode self protocol=1\n').map((x) => x.kind), ['bad']);
    assert.deepEqual(read('hello?\n').map((x) => x.kind), ['bad']);
    assert.deepEqual(read(`report\nMemTotal: 1 kB\nreport\n${REPORT}end\n`).map((x) => x.kind), ['bad', 'report']);
  });

  test('problems never quote the guest', () => {
    const secret = 'SECRET-TOKEN';
    const m = read(`${secret}\nend ${secret}\nreport\n${secret.repeat(20)}\nend\nhello ${secret}\n`);
    for (const x of m) assert.ok(!JSON.stringify(x).includes(secret) || x.kind === 'hello', JSON.stringify(x));
    // the hello payload is the guest's, but parseHello's problem is ours
    const h = parseHello(`${secret}`);
    assert.ok(!h.ok && !h.problem.includes(secret));
    const r = parseReport('g', 0, `${secret}: x\n`);
    assert.ok(!r.ok && !r.problem.includes(secret));
  });

  test('a report block the meminfo parser refuses', () => {
    const m = read('report\nMemTotal: 1 kB\nend\n');
    assert.equal(m[0]!.kind, 'report');
    const r = parseReport('g', 0, (m[0] as { text: string }).text);
    assert.ok(!r.ok);
    assert.equal(read('report\nend\n')[0]!.kind, 'report'); // empty: parseReport refuses it
    assert.ok(!parseReport('g', 0, '').ok);
  });

  test('non-UTF-8 bytes are refused by the grammar', () => {
    const split = new LineSplitter(MAX_AGENT_LINE_BYTES);
    const r = new AgentLineReader();
    const m = split.push(Buffer.from([0x68, 0xff, 0xfe, 0x0a])).flatMap((ev) => r.line(ev));
    assert.deepEqual(m.map((x) => x.kind), ['bad']);
  });

  test('the host-to-guest mode line', () => {
    assert.equal(formatMode('global', 1), 'mode global protocol=1\n');
  });
});
