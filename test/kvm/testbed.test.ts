// Heavy tier: boots one real Linux guest under QEMU with the testbed, runs a workload through
// the control port, hears the agent's hello on its virtio-serial port, and stops QEMU by pid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startTestbed, type Testbed } from '../../testbed/qemu.ts';
import { AGENT_BINARY } from '../../testbed/initramfs.ts';

const REPO = join(import.meta.dirname, '..', '..');
const qemu = spawnSync('qemu-system-x86_64', ['--version']);
const skip = qemu.error || qemu.status !== 0 ? `qemu-system-x86_64 cannot run here (${qemu.error?.message ?? `exit ${qemu.status}`})` : false;
if (skip) console.log(`# skipped: ${skip}`);

/** Reads lines from a unix socket until one matches, or gives up after timeoutMs. */
function firstLine(path: string, send: string, match: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let buf = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`no line matching ${match} on ${path}; got: ${buf.slice(-200)}`)); }, timeoutMs);
    s.on('connect', () => s.write(send));
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      const line = buf.split('\n').find((l) => match.test(l));
      if (line) { clearTimeout(timer); s.destroy(); resolve(line); }
    });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

test('testbed: one guest boots, runs a workload on command, and stops by pid', { skip, timeout: 300_000 }, async (t) => {
  const build = spawnSync(process.execPath, [join(REPO, 'scripts', 'build-workloads.mjs')], { encoding: 'utf8' });
  assert.equal(build.status, 0, `build:workloads failed: ${build.stderr}`);
  let tb: Testbed | undefined;
  try {
    tb = await startTestbed([{ name: 'tb1', memMiB: 384, swapMiB: 128 }]);
    const g = tb.guests[0]!;
    assert.ok(g.control.ready, 'guest said ready on its control port');
    assert.match(g.console(), /memcoop-testbed: swap on \/dev\/vda/);

    const r = await g.control.run('t1', 'mono', [16, 64, 16, 1]);
    assert.equal(r.code, 0);
    assert.equal(r.result.program, 'mono');
    assert.ok(Number(r.result.ms) >= 0 && r.ms >= Number(r.result.ms) - 20, `job time ${r.ms} covers the program's ${r.result.ms}`);
    assert.equal(r.vmstat.oom_kill, 0);

    const bad = await g.control.run('t2', 'no-such-program');
    assert.equal(bad.code, 127);

    await t.test('the agent says hello on its port', { skip: existsSync(AGENT_BINARY) ? false : `${AGENT_BINARY} not built` }, async () => {
      assert.ok(tb!.initramfs.agent, 'agent baked into the image');
      const hello = await firstLine(g.agentSocket, 'hello?\n', /^hello protocol=\d+ selfAdjust=[01]$/, 30_000);
      assert.match(hello, /^hello protocol=1 /);
    });

    const pid = g.pid;
    await tb.stop();
    assert.throws(() => process.kill(pid, 0), /ESRCH/, 'QEMU process is gone');
    assert.equal(g.oomKills(), 0);
  } finally {
    await tb?.stop();
  }
});
