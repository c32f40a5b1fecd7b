// The kvm section of the daemon config, the example file, and `memcoop run --host kvm`'s refusals.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_KVM_CONFIG, loadDaemonConfig, parseDaemonConfig } from '../../../../src/config/daemon-config.ts';

const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));

describe('kvm config', () => {
  test('the example file lists every kvm field and parses', async () => {
    const c = await loadDaemonConfig(join(ROOT, 'config/memcoop.kvm.example.yaml'));
    assert.equal(c.host, 'kvm');
    assert.deepEqual(Object.keys(c.kvm).sort(), Object.keys(DEFAULT_KVM_CONFIG).sort());
    assert.equal(c.kvm.poolKiB, 6291456);
    assert.deepEqual(c.kvm.guests, [{ name: 'web', qmp: '/var/lib/vms/web/qmp.sock', agent: '/var/lib/vms/web/agent.sock' }]);
    assert.equal(c.supervisor.dom0.minKiB, 0);
  });

  test('defaults, and refusals naming the field', () => {
    assert.deepEqual(parseDaemonConfig({}).kvm, { ...DEFAULT_KVM_CONFIG, guests: [] });
    assert.throws(() => parseDaemonConfig({ kvm: { pool: 1 } }), /config\.kvm/);
    assert.throws(() => parseDaemonConfig({ kvm: { poolKiB: 0 } }), /config\.kvm\.poolKiB/);
    assert.throws(() => parseDaemonConfig({ kvm: { guests: [{ name: 'dom0', qmp: 'a', agent: 'b' }] } }), /config\.kvm\.guests\[0\]\.name/);
    assert.throws(() => parseDaemonConfig({ kvm: { guests: [{ name: 'a b', qmp: 'a', agent: 'b' }] } }), /guests\[0\]\.name/);
    assert.throws(() => parseDaemonConfig({ kvm: { guests: [{ name: 'a', qmp: 'a', agent: 'b' }, { name: 'a', qmp: 'c', agent: 'd' }] } }), /listed twice/);
    assert.throws(() => parseDaemonConfig({ kvm: { guests: [{ name: 'a', qmp: 'a' }] } }), /guests\[0\]\.agent/);
    assert.throws(() => parseDaemonConfig({ kvm: { overheadKiB: 200000, maxOverheadKiB: 100000 } }), /overheadKiB/);
  });
});

describe('memcoop run --host kvm refusals', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin/memcoop.mjs'), 'run', ...args], { cwd: ROOT, encoding: 'utf8' });

  test('no pool: exit 2 naming kvm.poolKiB; no guests: exit 2; --guests-dir with xen: exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'memcoop-kvmcfg-'));
    try {
      const r1 = run(['--host', 'kvm']);
      assert.equal(r1.status, 2);
      assert.match(r1.stderr, /kvm\.poolKiB/);
      const cfg = join(dir, 'c.yaml');
      writeFileSync(cfg, 'host: kvm\nkvm:\n  poolKiB: 1048576\n');
      const r2 = run(['--config', cfg]);
      assert.equal(r2.status, 2);
      assert.match(r2.stderr, /--guests-dir/);
      const r3 = run(['--host', 'xen', '--guests-dir', dir]);
      assert.equal(r3.status, 2);
      assert.match(r3.stderr, /--guests-dir is for --host kvm/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
