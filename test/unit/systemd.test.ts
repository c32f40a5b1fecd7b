// The systemd units pass `systemd-analyze verify` (where systemd-analyze exists), and the daemon
// tells systemd it is ready (Type=notify) through $NOTIFY_SOCKET once its control socket is open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, startDaemonChild } from '../../testbed/daemon-child.ts';

const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const noAnalyze = analyze.status === 0 ? false : 'systemd-analyze is not installed here';
const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
const noNotify = spawnSync('systemd-notify', ['--help'], { encoding: 'utf8' }).status === 0 && python.status === 0 ? false : 'systemd-notify or python3 (the test\'s datagram listener) is not installed here';

function verify(path: string) {
  return spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
}

test('systemd/memcoop.service passes systemd-analyze verify', { skip: noAnalyze }, () => {
  const r = verify(join(ROOT, 'systemd/memcoop.service'));
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  const unit = readFileSync(join(ROOT, 'systemd/memcoop.service'), 'utf8');
  assert.match(unit, /^Type=notify$/m);
  assert.match(unit, /^Restart=on-failure$/m);
  assert.match(unit, /^StateDirectory=memcoop$/m);
  assert.match(unit, /--journal \/var\/lib\/memcoop\//);
  assert.match(unit, /^DeviceAllow=\/dev\/xen\/privcmd rw$/m);
  assert.doesNotMatch(unit, /^PrivateDevices=yes/m);
});

test('native/agent/memcoop-agent.service passes systemd-analyze verify (its binary, not installed here, replaced by /bin/true)', { skip: noAnalyze }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'memcoop-unit-'));
  try {
    const text = readFileSync(join(ROOT, 'native/agent/memcoop-agent.service'), 'utf8');
    assert.match(text, /^ExecStart=\/usr\/local\/sbin\/memcoop-agent /m);
    const copy = join(dir, 'memcoop-agent.service');
    writeFileSync(copy, existsSync('/usr/local/sbin/memcoop-agent') ? text : text.replace('ExecStart=/usr/local/sbin/memcoop-agent', 'ExecStart=/bin/true'));
    const r = verify(copy);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Type=notify: the daemon sends READY=1 to $NOTIFY_SOCKET once its control socket is open', { skip: noNotify, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'memcoop-notify-'));
  const notify = join(dir, 'notify.sock');
  // A datagram listener (what systemd holds): prints the first message it gets.
  const listener = spawn('python3', ['-c', `import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("bound",flush=True)\nprint(s.recv(4096).decode(),flush=True)`, notify], { stdio: ['ignore', 'pipe', 'inherit'] });
  let got = '';
  listener.stdout!.on('data', (b: Buffer) => (got += b.toString()));
  const listenerDone = new Promise<void>((r) => listener.on('exit', () => r()));
  try {
    while (!got.includes('bound')) await new Promise((r) => setTimeout(r, 20));
    const d = startDaemonChild(['--host', 'sim', '--lock', join(dir, 'sim.pid')], { NOTIFY_SOCKET: notify });
    try {
      await d.waitFor((l) => l.msg === 'control socket open', 'the control socket');
      await listenerDone;
      assert.match(got, /READY=1/);
    } finally {
      assert.equal(await d.stop(), 0, d.stderr());
    }
  } finally {
    if (listener.exitCode === null) listener.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
