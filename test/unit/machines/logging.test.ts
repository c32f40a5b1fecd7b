// Logs: one pino child per guest machine, bound to the domid the host gave; text a guest could
// supply (here: its id, made hostile) never becomes a binding, nor appears in any line. And the
// lines say what happened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MIB, Run, capturingLogger } from './harness.ts';

const MARKER = 'xX_guest_supplied_Xx';
const HOSTILE = [`${MARKER}-plain`, `{"domid":0,"level":60,"msg":"${MARKER}"}`, `${MARKER}\n{"domid":0}`, `${MARKER}-silent`];
const DOMIDS = [11, 12, 13, 14];
/** The fields a guest machine's lines may carry (its bindings and what each message reports). */
const GUEST_KEYS = new Set([
  'level', 'time', 'name', 'pid', 'hostname', 'msg', 'domid', // pino and the child binding
  'minKiB', 'maxKiB', 'currentKiB', 'shares', 'protocol', 'selfAdjust', 'mode', 'reason', 'silentTicks',
  'targetKiB', 'goalKiB', 'writtenTargetKiB', 'stalledTicks', 'stuckForTicks', 'effect', 'error',
]);

test('guest-supplied text never becomes a log binding, and the logs tell the story', () => {
  const cap = capturingLogger('debug');
  const run = new Run({ config: { silenceTicks: 3, dom0: { minKiB: 256 * MIB, maxKiB: 4096 * MIB } }, logger: cap.logger });
  const [a, b, c, d] = HOSTILE as [string, string, string, string];
  HOSTILE.forEach((id, i) => run.appear(id, DOMIDS[i]!, { currentKiB: 512 * MIB, minKiB: 256 * MIB }));
  run.hello(a, true);
  run.hello(b, false);
  run.hello(c, true, 7); // unsupported protocol
  const allocs = { [a]: 512 * MIB, [b]: 512 * MIB, [c]: 512 * MIB, [d]: 512 * MIB };
  const dom0 = { currentKiB: 512 * MIB, committedKiB: 512 * MIB };
  // Abundant, then Dom0 needs more than host free (reclaim), then more than the guests can give.
  for (const [free, dom0Commit] of [[4096, 512], [0, 900], [0, 4000]] as const) {
    run.report(a, 512 * MIB);
    run.report(b, 512 * MIB);
    run.sample(free * MIB, { ...dom0, committedKiB: dom0Commit * MIB }, allocs);
    run.tick();
  }
  run.left(a);

  assert.ok(cap.raw.length > 10);
  for (const line of cap.raw) assert.ok(!line.includes(MARKER), `no log line carries guest-supplied text: ${line}`);
  const guestLines = cap.lines.filter((l) => 'domid' in l);
  for (const l of guestLines) {
    assert.ok(DOMIDS.includes(l.domid as number), `domid is the host's number: ${JSON.stringify(l)}`);
    for (const k of Object.keys(l)) assert.ok(GUEST_KEYS.has(k), `unexpected field ${k} in ${JSON.stringify(l)}`);
  }

  const said = (domid: number | null, re: RegExp) =>
    cap.lines.some((l) => (domid === null ? !('domid' in l) : l.domid === domid) && re.test(String(l.msg)));
  assert.ok(said(11, /guest appeared/), 'registration starts');
  assert.ok(said(11, /agent registered/) && said(11, /^mode self$/), 'registration and mode');
  assert.ok(said(12, /^mode global$/), 'the other preference');
  assert.ok(said(13, /unsupported protocol/), 'protocol refused');
  assert.ok(said(14, /unmanaged/), 'no agent: unmanaged');
  assert.ok(said(11, /reclaiming for Dom0/) && said(null, /reclaiming memory from the guests for Dom0/), 'reclaim for Dom0');
  assert.ok(said(null, /overcommitted/), 'overcommitted');
  assert.ok(said(11, /target written/), 'targets');
  assert.ok(said(11, /guest left/), 'leaving');
});
