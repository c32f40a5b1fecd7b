// memcoop dev xenstored as a person uses it: started as a process, its printed walkthrough run
// line by line (the guests' keys, the daemon, the agents' hellos and reports, status, explain),
// then Ctrl-C stops it and removes its folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { BIN, ROOT, memcoop, startDaemonChild } from '../../testbed/daemon-child.ts';
import { skipReason } from './xen-harness.ts';

const kind = skipReason('oxenstored') === false ? 'oxenstored' : 'cxenstored';
const noTools = spawnSync('sh', ['-c', 'command -v xenstore-write xenstore-read'], { encoding: 'utf8' }).status === 0 ? false : 'xenstore-utils (xenstore-write, xenstore-read) is not installed';
const skip = skipReason(kind) || noTools;

test(`memcoop dev xenstored (${kind}): the walkthrough it prints works, and Ctrl-C cleans up`, { skip, timeout: 120_000 }, async () => {
  const dev = spawn(process.execPath, [BIN, 'dev', 'xenstored', '--kind', kind], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  dev.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  dev.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const devExited = new Promise<number | null>((r) => dev.on('exit', (c) => r(c)));
  let daemon: ReturnType<typeof startDaemonChild> | null = null;
  let agents: ReturnType<typeof spawn> | null = null;
  try {
    const end = Date.now() + 30_000;
    while (!out.includes('Ctrl-C here') && Date.now() < end && dev.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, new RegExp(`^${kind} \\(pid \\d+\\) is answering on (/\\S+/socket)$`, 'm'), err);
    const socket = /is answering on (\S+)$/m.exec(out)![1]!;
    const lines = out.split('\n');
    const env = { ...process.env, XENSTORED_PATH: socket };
    const sh = (cmd: string) => {
      const r = spawnSync('bash', ['-c', cmd], { env, encoding: 'utf8' });
      assert.equal(r.status, 0, `${cmd}\n${r.stderr}`);
      return r.stdout;
    };
    assert.ok(lines.includes(`  export XENSTORED_PATH=${socket}`));
    for (const l of lines.filter((x) => /^  xenstore-write \/local\/domain\/\d\/name /.test(x))) sh(l.trim());
    const runLine = lines.find((x) => x.startsWith('  memcoop run '))!.trim();
    daemon = startDaemonChild(runLine.split(' ').slice(2));
    await daemon.waitFor((l) => l.msg === 'control socket open', 'the daemon');
    for (const l of lines.filter((x) => /^  xenstore-write \S+\/hello /.test(x))) sh(l.trim());
    const loopStart = lines.indexOf('  while sleep 1; do');
    const loop = lines.slice(loopStart, lines.indexOf('  done &') + 1).join('\n').replace(/&$/, '');
    agents = spawn('bash', ['-c', loop], { env, stdio: 'ignore' });
    const readLine = lines.find((x) => x.startsWith('  xenstore-read '))!;
    const [cmd, expected] = readLine.trim().split(/\s+#\s+/);
    const want = expected!.split(':')[0]!;
    const until = Date.now() + 30_000;
    while (sh(cmd!).trim() !== want && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    assert.equal(sh(cmd!).trim(), want);
    for (const l of lines.filter((x) => /^  memcoop (status|explain) /.test(x))) {
      const r = memcoop(l.trim().split(' ').slice(1));
      assert.equal(r.status, 0, `${l}\n${r.stderr}`);
      assert.match(r.stdout, /dom1/);
    }
  } finally {
    agents?.kill('SIGTERM');
    if (daemon) assert.equal(await daemon.stop(), 0, daemon.stderr());
    dev.kill('SIGINT');
  }
  assert.equal(await devExited, 0, err);
  const dir = /removes (\S+)\.$/m.exec(out)![1]!;
  assert.equal(existsSync(dir), false, `${dir} removed`);
  assert.match(out, /stopped; .* removed\n$/);
});
