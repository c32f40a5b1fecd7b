// The real memcoop-agent (npm run build:agent) talking to the memcoop daemon over the KVM line
// protocol. The agent runs on this host with --transport virtio-serial and a unix socket as its
// port; QEMU's virtio-serial bridging is played by the relay (support/relay.ts, a STAND-IN: in
// a guest, QEMU joins the port to its chardev socket). QMP is a real QEMU, paused, without a
// kernel. The agent reads a meminfo file written here (a 512 MiB guest's numbers) so that the
// overhead between the balloon and MemTotal is measured from it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KvmHost } from '../../src/hosts/kvm/host.ts';
import { DEFAULT_DAEMON_CONFIG, DEFAULT_KVM_CONFIG } from '../../src/config/daemon-config.ts';
import { startDaemon, type Daemon } from '../../src/daemon/daemon.ts';
import { parseSupervisorConfig } from '../../src/vocabulary/config.ts';
import type { SupervisorInput } from '../../src/vocabulary/events.ts';
import { qemuSkipReason, startPausedQemu, type PausedQemu } from './support/paused-qemu.ts';
import { startRelay, type Relay } from './support/relay.ts';
import { MIB, captureLogger, until } from './support/harness.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const AGENT = join(ROOT, 'native/build/agent/memcoop-agent');
const skip = qemuSkipReason() ?? (existsSync(AGENT) ? null : `${AGENT} not built (npm run build:agent)`);
if (skip) console.log(`# skipped: ${skip}`);

/** A 512 MiB Debian 6.1 guest's MemTotal here: 55 MiB less than its balloon (457 MiB). */
const GUEST_MEMTOTAL_KIB = 512 * MIB - 55 * MIB;

function meminfo(freeKiB: number, committedKiB: number): string {
  return [
    `MemTotal: ${GUEST_MEMTOTAL_KIB} kB`,
    `MemFree: ${freeKiB} kB`,
    `MemAvailable: ${freeKiB} kB`,
    `Committed_AS: ${committedKiB} kB`,
    'SwapTotal: 524284 kB',
    'SwapFree: 524284 kB',
    '',
  ].join('\n');
}

describe('the real agent and the daemon over the virtio-serial protocol', { skip: skip ?? false }, () => {
  let dir: string;
  let q: PausedQemu;
  let relay: Relay;
  let agent: ChildProcess;
  let agentExit: Promise<number | null>;
  let daemon: Daemon;
  const inputs: SupervisorInput[] = [];
  const cap = captureLogger();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'memcoop-kvmagent-'));
    const guestsDir = join(dir, 'guests');
    q = await startPausedQemu(join(guestsDir, 'g1'));
    relay = await startRelay(join(dir, 'port.sock'), join(guestsDir, 'g1', 'agent.sock'));
    writeFileSync(join(dir, 'meminfo'), meminfo(300 * MIB, 150 * MIB));
    agent = spawn(AGENT, ['--transport', 'virtio-serial', '--port', join(dir, 'port.sock'), '--meminfo', join(dir, 'meminfo'),
      '--vmstat', '/dev/null', '--pressure', '/dev/null', '--interval', '1', '--heartbeat', '2', '--self-adjust', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let agentLog = '';
    agent.stderr!.on('data', (b) => (agentLog += b));
    agentExit = new Promise((r) => agent.once('exit', (c) => r(c)));
    const host = new KvmHost({
      logger: cap.logger,
      guests: DEFAULT_DAEMON_CONFIG.guests,
      probeMs: 250,
      qmpTimeoutMs: 2000,
      kvm: { ...DEFAULT_KVM_CONFIG, guestsDir, poolKiB: 1024 * MIB },
    });
    daemon = await startDaemon({
      host,
      logger: cap.logger,
      tickMs: 250,
      config: parseSupervisorConfig({ dom0: { minKiB: 0, maxKiB: 256 * MIB } }),
    });
    daemon.inputs$.subscribe((i) => inputs.push(i));
    void agentExit.then((c) => {
      if (c !== null && c !== 0) console.log(`# agent exited ${c}: ${agentLog.slice(-500)}`);
    });
  });
  after(async () => {
    await daemon?.stop();
    if (agent?.pid !== undefined && agent.exitCode === null) {
      agent.kill('SIGTERM');
      await agentExit;
    }
    await relay?.close();
    await q?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('hello answered with a mode; reports reach the supervisor; overhead measured from them', async () => {
    // The hello may come before startDaemon resolves (inputs$ is not replayed): the supervisor's
    // own log line says it registered the agent and answered.
    const reg = await until('agent registered', () => cap.lines.find((l) => l.msg.startsWith('agent registered') && l['domid'] === 1), 20_000);
    assert.equal(reg['protocol'], 1);
    assert.equal(reg['selfAdjust'], true);
    // The supervisor answers; the relay sees the mode line go to the agent.
    await until('mode line to the agent', () => /mode (self|global|held|reclaim) protocol=1\n/.test(relay.fromHost()), 20_000);
    const report = await until('a report batch with g1', () => {
      for (const i of inputs) if (i.type === 'agent.reports') for (const r of i.reports) if (r.id === 'g1') return r;
      return undefined;
    }, 20_000);
    assert.equal(report.committedKiB, 150 * MIB);
    assert.equal(report.swapTotalKiB, 524284);
    // The paused balloon sits at 512 MiB: overhead = 512 MiB - MemTotal = 55 MiB.
    const o = await until('overhead measured', () => cap.lines.find((l) => l.msg.startsWith('guest overhead')), 20_000);
    assert.equal(o['overheadKiB'], 55 * MIB);
    assert.match(relay.fromAgent(), /^hello protocol=1 selfAdjust=1\n/m);
  });
});
