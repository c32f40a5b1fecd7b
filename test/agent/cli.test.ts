// memcoop-agent as a process without XenStore: its options and refusals, --once on files the
// test writes (garbled, truncated, missing), and the virtio-serial transport against a unix
// socket the test listens on (the way the tests and the KVM side stand in for the port).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { AGENT_BIN, AGENT_STATIC_BIN, Agent, FAST, ProcFiles, agentUnbuildable, pressureText, until } from './agent-harness.ts';

const skip = agentUnbuildable();

function run(args: string[], bin = AGENT_BIN, env: Record<string, string> = {}) {
  return spawnSync(bin, args, { encoding: 'utf8', env: { ...process.env, ...env } });
}

/** The report's lines as a key -> value map (values as the text has them). */
function parseReport(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    const i = line.indexOf(': ');
    m.set(line.slice(0, i), line.slice(i + 2));
  }
  return m;
}

describe('memcoop-agent: options and refusals', { skip }, () => {
  let files: ProcFiles;
  before(() => {
    files = new ProcFiles({ total: 262144, free: 40960, available: 90000, committed: 300000, swapTotal: 524288, swapFree: 500000 });
  });
  after(() => files.cleanup());

  test('--help and --version, exit 0 (both builds)', () => {
    for (const bin of [AGENT_BIN, AGENT_STATIC_BIN]) {
      const h = run(['--help'], bin);
      assert.equal(h.status, 0);
      for (const o of ['--port', '--domid', '--self-adjust', '--interval', '--threshold', '--heartbeat', '--meminfo', '--vmstat', '--pressure', '--config', '--once']) {
        assert.ok(h.stdout.includes(o), `${bin} --help names ${o}`);
      }
      const v = run(['--version'], bin);
      assert.equal(v.status, 0);
      assert.match(v.stdout, /^memcoop-agent \S+ \(protocol 1; transports: xenstore, virtio-serial\)\n$/);
    }
  });

  test('--once prints every field of the files, in the protocol\'s shape (both builds)', () => {
    files.setVm({ pswpin: 3, pswpout: 4, pgmajfault: 555, refaultAnon: 6, refaultFile: 7 });
    files.setRaw('pressure', pressureText('0.57', 1234, '12.05', 99));
    for (const bin of [AGENT_BIN, AGENT_STATIC_BIN]) {
      const r = run(['--once', ...files.args()], bin);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.equal(
        r.stdout,
        [
          'MemTotal: 262144 kB',
          'MemFree: 40960 kB',
          'MemAvailable: 90000 kB',
          'Committed_AS: 300000 kB',
          'SwapTotal: 524288 kB',
          'SwapFree: 500000 kB',
          'pswpin: 3',
          'pswpout: 4',
          'pgmajfault: 555',
          'workingset_refault_anon: 6',
          'workingset_refault_file: 7',
          'psi_some_avg10: 57',
          'psi_full_avg10: 1205',
          'psi_some_total: 1234',
          'psi_full_total: 99',
          '',
        ].join('\n'),
      );
    }
  });

  test('--once on this machine\'s own /proc has the five required fields', () => {
    const r = run(['--once']);
    assert.equal(r.status, 0, r.stderr);
    const m = parseReport(r.stdout);
    for (const k of ['MemTotal', 'MemFree', 'Committed_AS', 'SwapTotal', 'SwapFree']) assert.match(m.get(k) ?? '', /^[0-9]+ kB$/, k);
  });

  test('no pressure file (a kernel without PSI): the psi fields are absent, not 0', () => {
    const r = run(['--once', ...files.args().slice(0, 4), '--pressure', join(files.dir, 'no-such-file')]);
    assert.equal(r.status, 0, r.stderr);
    const m = parseReport(r.stdout);
    assert.equal(m.get('MemFree'), '40960 kB');
    assert.deepEqual([...m.keys()].filter((k) => k.startsWith('psi_')), []);
    assert.match(r.stderr, /cannot read .*no-such-file: No such file or directory; its fields are left out/);
  });

  test('an old kernel\'s vmstat without workingset_refault_anon/_file: those are absent', () => {
    files.setVm({ pswpin: 1, pswpout: 2, pgmajfault: 3 });
    const m = parseReport(run(['--once', ...files.args()]).stdout);
    assert.equal(m.get('pgmajfault'), '3');
    assert.equal(m.has('workingset_refault_anon'), false);
    assert.equal(m.has('workingset_refault_file'), false);
  });

  test('a garbled required field: named on stderr, the rest printed, exit 1 (Dom0 would refuse it)', () => {
    files.setRaw('meminfo', 'MemTotal: 262144 kB\nMemFree: 4x960 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\nCommitted_AS: 3000 kB\n');
    const r = run(['--once', ...files.args()]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /could not read: MemFree \(a required field: no report is sent\)/);
    const m = parseReport(r.stdout);
    assert.equal(m.has('MemFree'), false);
    assert.equal(m.get('MemTotal'), '262144 kB');
  });

  test('a truncated meminfo (cut mid-line): the cut field is unreadable, not a smaller number', () => {
    files.setRaw('meminfo', 'MemTotal: 262144 kB\nMemFree: 40960 kB\nMemAvailable: 9000');
    const r = run(['--once', ...files.args()]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /could not read: MemAvailable Committed_AS SwapTotal SwapFree \(a required field/);
    assert.equal(parseReport(r.stdout).has('MemAvailable'), false);
  });

  test('a garbled optional field: left out, the report still complete (exit 0)', () => {
    files.setRaw('meminfo', 'MemTotal: 262144 kB\nMemFree: 40960 kB\nMemAvailable: lots kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\nCommitted_AS: 3000 kB\n');
    const r = run(['--once', ...files.args()]);
    assert.equal(r.status, 0);
    assert.match(r.stderr, /could not read: MemAvailable \(left out of reports\)/);
    assert.equal(parseReport(r.stdout).has('MemAvailable'), false);
  });

  test('a field twice: neither copy is trusted', () => {
    files.setRaw('meminfo', 'MemTotal: 262144 kB\nMemFree: 40960 kB\nMemFree: 50960 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\nCommitted_AS: 3000 kB\n');
    const r = run(['--once', ...files.args()]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /could not read: MemFree/);
  });

  test('bad command lines: one line naming the problem, exit 2', () => {
    for (const [args, re] of [
      [['--bogus', '1'], /^memcoop-agent: --bogus: unknown option \(see --help\)\n$/],
      [['--interval', '0'], /^memcoop-agent: --interval: expected seconds > 0/],
      [['--self-adjust', 'yes'], /^memcoop-agent: --self-adjust: expected 0 or 1/],
      [['--threshold', '-5'], /^memcoop-agent: --threshold: expected KiB >= 0/],
      [['--domid', '40000'], /^memcoop-agent: --domid: expected a domid/],
      [['--transport', 'pigeon'], /^memcoop-agent: --transport: expected xenstore or virtio-serial/],
      [['--heartbeat'], /^memcoop-agent: --heartbeat: needs a value/],
      [['stray'], /^memcoop-agent: stray: unexpected argument/],
    ] as const) {
      const r = run([...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });

  test('a config file: key=value lines, the command line wins; a bad line is named', () => {
    const cfg = join(files.dir, 'agent.conf');
    files.setRaw('meminfo', 'MemTotal: 1000 kB\nMemFree: 10 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\nCommitted_AS: 3000 kB\n');
    spawnSync('sh', ['-c', `printf '# comment\\nself-adjust=0\\nmeminfo=/nonexistent\\n' > ${cfg}`]);
    const r1 = run(['--config', cfg, '--once']);
    assert.equal(r1.status, 1);
    assert.match(r1.stderr, /^memcoop-agent: cannot read \/nonexistent: No such file or directory\n$/);
    const r2 = run(['--config', cfg, '--once', ...files.args()]);
    assert.equal(r2.status, 0, r2.stderr);
    assert.equal(run([`--config=${cfg}`, '--once']).status, 1, '--config=FILE reads the file too');
    spawnSync('sh', ['-c', `printf 'self-adjust=2\\n' > ${cfg}`]);
    const r3 = run(['--config', cfg, '--once']);
    assert.equal(r3.status, 2);
    assert.match(r3.stderr, new RegExp(`^memcoop-agent: ${cfg}:1: self-adjust: expected 0 or 1`));
    assert.equal(run(['--config', join(files.dir, 'none.conf')]).status, 2);
  });

  test('an unreadable path at start: one line, exit 1', () => {
    const r1 = run(['--meminfo', join(files.dir, 'absent')]);
    assert.equal(r1.status, 1);
    assert.match(r1.stderr, /^memcoop-agent: cannot read .*absent: No such file or directory\n$/);
    const sub = join(files.dir, 'a-directory');
    mkdirSync(sub, { recursive: true });
    const r2 = run(['--pressure', sub, '--port', join(files.dir, 'port')]);
    assert.equal(r2.status, 1);
    assert.match(r2.stderr, /^memcoop-agent: cannot read .*a-directory: Is a directory\n$/);
  });

  test('a missing transport: one line, exit 1', () => {
    const r1 = run(['--port', join(files.dir, 'no-port'), ...files.args()]);
    assert.equal(r1.status, 1);
    assert.match(r1.stderr, /^memcoop-agent: no virtio-serial port at .*no-port \(No such file or directory\): is the QEMU virtserialport there\?\n$/);
    const noXs = { XENSTORED_PATH: join(files.dir, 'no-xenstored') };
    const r2 = run(['--transport', 'xenstore', ...files.args()], AGENT_BIN, noXs);
    assert.equal(r2.status, 1);
    assert.equal(r2.stderr.trim().split('\n').length, 1, r2.stderr);
    assert.match(r2.stderr, /^memcoop-agent: cannot connect to xenstored \(No such file or directory\)/);
  });
});

/** A host end of the port: a unix socket server that records each line the agent sends. */
class FakePortHost {
  // Not a FAKE of anything memcoop runs: QEMU's chardev for a virtserialport is this same unix
  // socket, and the test plays Dom0's side of the line protocol on it.
  readonly path: string;
  server: Server | null = null;
  conn: Socket | null = null;
  readonly lines: string[] = [];
  connections = 0;
  private buf = '';

  constructor(dir: string, name = 'port.sock') {
    this.path = join(dir, name);
  }

  listen(): Promise<void> {
    return new Promise((resolve) => {
      this.server = createServer((s) => {
        this.connections++;
        this.conn = s;
        s.on('data', (d) => {
          this.buf += d.toString();
          let nl: number;
          while ((nl = this.buf.indexOf('\n')) >= 0) {
            this.lines.push(this.buf.slice(0, nl));
            this.buf = this.buf.slice(nl + 1);
          }
        });
        s.on('error', () => {});
      });
      this.server.listen(this.path, resolve);
    });
  }

  send(line: string): void {
    this.conn!.write(`${line}\n`);
  }

  /** The reports received, each as its lines between "report" and "end". */
  reports(): string[][] {
    const out: string[][] = [];
    let cur: string[] | null = null;
    for (const l of this.lines) {
      if (l === 'report') cur = [];
      else if (l === 'end' && cur) {
        out.push(cur);
        cur = null;
      } else if (cur) cur.push(l);
    }
    return out;
  }

  hellos(): number {
    return this.lines.filter((l) => l.startsWith('hello ')).length;
  }

  async close(): Promise<void> {
    this.conn?.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }
}

describe('memcoop-agent: virtio-serial over a unix socket', { skip }, () => {
  let files: ProcFiles;
  let host: FakePortHost;
  let agent: Agent | null = null;
  before(async () => {
    files = new ProcFiles({ total: 262144, free: 40960, committed: 300000 });
    host = new FakePortHost(files.dir);
    await host.listen();
  });
  after(async () => {
    await agent?.stop();
    await host.close();
    files.cleanup();
  });

  test('hello until answered, modes followed, reports framed, hello? answered, reconnect after the host goes', { timeout: 30_000 }, async () => {
    agent = new Agent(['--port', host.path, '--self-adjust', '0', ...FAST, ...files.args()]);
    await until(() => host.hellos() >= 1, 'the hello');
    assert.equal(host.lines.find((l) => l.startsWith('hello ')), 'hello protocol=1 selfAdjust=0');
    // Unanswered, the hello is sent again (after 1 s: HELLO_FIRST_RETRY_MS).
    await until(() => host.hellos() >= 2, 'the hello re-sent while unanswered');
    host.send('mode global protocol=1');
    await agent.waitLine(/mode global \(Dom0 answered; protocol 1\)/);
    host.send('mode self protocol=1');
    await agent.waitLine(/mode self \(was global\)/);
    host.send('mode bogus protocol=1');
    await agent.waitLine(/ignoring a line from the host/);

    // Reports: framed, and following the files.
    await until(() => host.reports().length >= 1, 'a report');
    assert.deepEqual(host.reports()[0]!.slice(0, 2), ['MemTotal: 262144 kB', 'MemFree: 40960 kB']);
    files.setMem({ total: 262144, free: 20000, committed: 310000 });
    await until(() => host.reports().some((r) => r.includes('MemFree: 20000 kB')), 'a report of the new MemFree');
    for (const r of host.reports()) assert.ok(r.length <= 32 && r.every((l) => l.length <= 128 && /^[A-Za-z0-9_]+: [0-9]+( kB)?$/.test(l)), r.join('|'));

    // hello? from the host: the agent says hello again.
    const before = host.hellos();
    host.send('hello?');
    await until(() => host.hellos() > before, 'the hello after hello?');
    await agent.waitLine(/saying hello again: the host asked/);

    // The host goes away and comes back: the agent reconnects and says hello.
    await host.close();
    await agent.waitLine(/closed; reconnecting/);
    const hellosBefore = host.hellos();
    await host.listen();
    await until(() => host.hellos() > hellosBefore, 'a hello on the new connection');
    assert.ok(host.connections >= 2);
    await agent.waitLine(/connected to /, 1);

    assert.equal(await agent.stop(), 0, 'SIGTERM: exit 0');
    assert.match(agent.lines.at(-1) ?? '', /stopped \(SIGTERM\)/);
  });

  test('a host that does not read: reports are dropped, the agent never blocks, and what arrives is whole reports', { timeout: 30_000 }, async () => {
    // A second listener whose connection is read only at the end: the socket buffer fills.
    const stalled = new FakePortHost(files.dir, 'stalled.sock');
    await stalled.listen();
    // Every tick a report (heartbeat = interval), many ticks a second.
    const a = new Agent(['--port', stalled.path, '--interval', '0.001', '--heartbeat', '0.001', ...files.args()]);
    await until(() => stalled.conn !== null, 'the agent connected');
    stalled.conn!.pause();
    // Wait until the agent has written well past what the socket holds (several hundred KiB):
    // its heartbeat lines keep coming while writes would block, so it is not blocked.
    await new Promise((r) => setTimeout(r, 1500));
    files.setMem({ total: 262144, free: 12345, committed: 300000 });
    // Still responsive: it exits at once on SIGTERM with status 0.
    assert.equal(await a.stop(), 0);
    stalled.conn!.resume();
    await until(() => stalled.reports().length > 0, 'the buffered reports');
    await new Promise((r) => setTimeout(r, 200));
    // Every "report" that arrived is whole: "report", its lines, "end" (no frame cut by a drop).
    const lines = stalled.lines;
    let open = false;
    for (const l of lines) {
      if (l === 'report') {
        assert.equal(open, false, 'a report began inside another');
        open = true;
      } else if (l === 'end') {
        assert.equal(open, true, 'an end without its report');
        open = false;
      } else if (!l.startsWith('hello ')) assert.match(l, /^[A-Za-z0-9_]+: [0-9]+( kB)?$/);
    }
    await stalled.close();
  });

  test('SIGINT: exit 0 too; the static build speaks the same protocol', { timeout: 30_000 }, async () => {
    const a = new Agent(['--port', host.path, ...FAST, ...files.args()], {}, AGENT_STATIC_BIN);
    const before = host.hellos();
    await until(() => host.hellos() > before, 'the static agent\'s hello');
    a.child.kill('SIGINT');
    assert.equal((await a.exited).code, 0);
  });
});
