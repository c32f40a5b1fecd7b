// testbed/exec's run() against real host tools. The kernel extraction feeds xz a whole bzImage
// and xz stops reading at the end of its stream: a child that stops reading early must not
// become an uncaught EPIPE in the process that runs it (CI lost a KVM test to exactly that).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../../../testbed/exec.ts';

/** Far more than a pipe holds (64 KiB on Linux), so writes are still pending when head exits. */
const INPUT_BYTES = 8 * 1024 * 1024;

test('a child that stops reading its input early: its exit code decides, no EPIPE escapes', async () => {
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  try {
    for (let i = 0; i < 5; i++) {
      const r = await run('head', ['-c', '1'], { input: Buffer.alloc(INPUT_BYTES, 0x61) });
      assert.equal(r.code, 0);
      assert.equal(r.stdout.toString(), 'a');
    }
    // Give a late 'error' event a turn to surface.
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(uncaught, []);
  } finally {
    process.off('uncaughtException', onUncaught);
  }
});

test('a child that fails after reading part of its input is still a one-line error naming it', async () => {
  await assert.rejects(
    run('sh', ['-c', 'head -c 1 >/dev/null; echo "gave up" >&2; exit 3'], { input: Buffer.alloc(INPUT_BYTES) }),
    /^Error: sh -c head -c 1 >\/dev\/null; echo "gave up" >&2; exit 3 failed \(exit 3\): gave up$/,
  );
});

test('the input is delivered whole to a child that reads it all', async () => {
  const input = Buffer.alloc(INPUT_BYTES, 0x62);
  const r = await run('wc', ['-c'], { input });
  assert.equal(Number(r.stdout.toString().trim()), INPUT_BYTES);
});
