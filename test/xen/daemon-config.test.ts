// The daemon's YAML config: defaults, the example file, per-guest lookups, and errors that name
// the field. No xenstored needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_DAEMON_CONFIG,
  DEFAULT_GUEST_MIN_KIB,
  DEFAULT_STAND_IN,
  guestSettings,
  MAX_CONFIG_BYTES,
  loadDaemonConfig,
  parseDaemonConfig,
} from '../../src/config/daemon-config.ts';
import { DEFAULT_SUPERVISOR_CONFIG } from '../../src/vocabulary/config.ts';
import { InputError } from '../../src/util/validate.ts';

const MIB = 1024;

const EXAMPLE = fileURLToPath(new URL('../../config/memcoop.example.yaml', import.meta.url));

test('an empty config is all defaults', () => {
  for (const doc of [null, undefined, {}]) {
    const c = parseDaemonConfig(doc);
    assert.equal(c.host, 'xen');
    assert.equal(c.tickMs, 1000);
    assert.equal(c.journal, null);
    assert.equal(c.logLevel, 'info');
    assert.deepEqual(c.xen, { socket: null, standIn: { ...DEFAULT_STAND_IN } });
    assert.deepEqual(c.guests.default, { minKiB: DEFAULT_GUEST_MIN_KIB, shares: 1 });
    assert.deepEqual(c.supervisor, JSON.parse(JSON.stringify(DEFAULT_SUPERVISOR_CONFIG)));
  }
});

test('the example file parses, and says the defaults (its overrides aside)', async () => {
  const c = await loadDaemonConfig(EXAMPLE);
  assert.equal(c.host, DEFAULT_DAEMON_CONFIG.host);
  assert.equal(c.tickMs, DEFAULT_DAEMON_CONFIG.tickMs);
  assert.deepEqual(c.xen.standIn, { ...DEFAULT_STAND_IN });
  assert.deepEqual(c.supervisor, JSON.parse(JSON.stringify(DEFAULT_SUPERVISOR_CONFIG)), 'the supervisor block shows the defaults');
  assert.deepEqual(c.guests.default, DEFAULT_DAEMON_CONFIG.guests.default);
  assert.deepEqual([...c.guests.byDomid], [[7, { minKiB: 262144 }]]);
  assert.deepEqual([...c.guests.byName], [['database', { shares: 2 }]]);
});

test('a guest\'s settings: default, then its name\'s entry, then its domid\'s', () => {
  const c = parseDaemonConfig({
    guests: {
      default: { minKiB: 100 * MIB, shares: 1 },
      byName: { web: { minKiB: 200 * MIB, shares: 3 }, db: { shares: 5 } },
      byDomid: { 4: { minKiB: 400 * MIB } },
    },
  });
  assert.deepEqual(guestSettings(c.guests, 1, null), { minKiB: 100 * MIB, shares: 1 });
  assert.deepEqual(guestSettings(c.guests, 1, 'web'), { minKiB: 200 * MIB, shares: 3 });
  assert.deepEqual(guestSettings(c.guests, 4, 'web'), { minKiB: 400 * MIB, shares: 3 }, 'domid wins where both say');
  assert.deepEqual(guestSettings(c.guests, 4, 'db'), { minKiB: 400 * MIB, shares: 5 });
  assert.deepEqual(guestSettings(c.guests, 2, '__proto__'), { minKiB: 100 * MIB, shares: 1 }, 'a hostile name is only a failed lookup');
});

test('unknown keys and wrong types are refused, naming the path', () => {
  const cases: Array<[unknown, string]> = [
    [{ hots: 'xen' }, 'config.hots'],
    [{ host: 'vmware' }, 'config.host'],
    [{ tickMs: 5 }, 'config.tickMs'],
    [{ tickMs: '1000' }, 'config.tickMs'],
    // Node runs a timer of more than 2^31 - 1 ms after 1 ms: the daemon would probe XenStore in a loop.
    [{ tickMs: 2 ** 31 }, 'config.tickMs'],
    [{ logLevel: 'loud' }, 'config.logLevel'],
    [{ journal: 3 }, 'config.journal'],
    [{ xen: { sockett: '/x' } }, 'config.xen.sockett'],
    [{ xen: { standIn: { hostTotalKiB: 1.5 } } }, 'config.xen.standIn.hostTotalKiB'],
    [{ xen: { standIn: { hostTotalKiB: 10, dom0KiB: 20 } } }, 'config.xen.standIn.dom0KiB'],
    [{ guests: { default: { minKiB: -1 } } }, 'config.guests.default.minKiB'],
    // Below a Linux guest's own kernel (LEAST_GUEST_MIN_KIB): the balance could squeeze it to nothing.
    [{ guests: { default: { minKiB: 0 } } }, 'config.guests.default.minKiB'],
    [{ guests: { byName: { web: { minKiB: 64 * MIB - 4 } } } }, 'config.guests.byName.web.minKiB'],
    [{ guests: { default: { max: 1 } } }, 'config.guests.default.max'],
    [{ guests: { byDomid: { 0: { minKiB: 1 } } } }, 'config.guests.byDomid.0'],
    [{ guests: { byDomid: { web: { minKiB: 1 } } } }, 'config.guests.byDomid.web'],
    [{ guests: { byDomid: { 40000: { minKiB: 1 } } } }, 'config.guests.byDomid.40000'],
    // S_i > 0 (balance.ts; `memcoop decide` refuses 0 too): every guest at 0 leaves memory unassigned.
    [{ guests: { default: { shares: 0 } } }, 'config.guests.default.shares'],
    [{ guests: { byName: { web: { shares: 0 } } } }, 'config.guests.byName.web.shares'],
    [{ guests: { byName: { web: { shares: 'lots' } } } }, 'config.guests.byName.web.shares'],
    [{ supervisor: { silenceTicks: 0 } }, 'config.supervisor.silenceTicks'],
    [{ supervisor: { params: { tau: 1 } } }, 'config.supervisor.params.tau'],
    [{ supervisor: { params: { tua: 0.5 } } }, 'config.supervisor.params.tua'],
    [[1, 2], 'config'],
  ];
  for (const [doc, path] of cases) {
    assert.throws(
      () => parseDaemonConfig(doc),
      (e: unknown) => e instanceof InputError && e.path === path,
      `${JSON.stringify(doc)} should be refused at ${path}`,
    );
  }
});

test('a YAML file that does not parse is an InputError naming the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'memcoop-config-'));
  try {
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, 'host: [xen\n');
    await assert.rejects(loadDaemonConfig(f), (e: unknown) => e instanceof InputError && e.path === f && /not valid YAML/.test(e.message));
    writeFileSync(f, 'tickMs: 50\nxen:\n  socket: /tmp/s\n');
    const c = await loadDaemonConfig(f);
    assert.equal(c.tickMs, 50);
    assert.equal(c.xen.socket, '/tmp/s');
    writeFileSync(f, 'tickMs: 50\nxen:\n  socket: /tmp/s\n  extra: 1\n');
    await assert.rejects(loadDaemonConfig(f), (e: unknown) => e instanceof InputError && e.path === `${f}.xen.extra`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a config that is not a file, or is too large, is refused before it is read; tick counts have a ceiling', async () => {
  // /dev/zero once took 47 s and 644 MB before failing; a FIFO hung forever.
  await assert.rejects(loadDaemonConfig('/dev/zero'), (e: unknown) => e instanceof InputError && /not a regular file/.test(e.message));
  const dir = mkdtempSync(join(tmpdir(), 'memcoop-config-'));
  try {
    const fifo = join(dir, 'fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    await assert.rejects(loadDaemonConfig(fifo), /not a regular file/);
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`);
    await assert.rejects(loadDaemonConfig(big), /larger than 1048576 bytes/);
    const ticks = join(dir, 'ticks.yaml');
    writeFileSync(ticks, 'supervisor:\n  silenceTicks: 1000000000000000\n');
    await assert.rejects(loadDaemonConfig(ticks), (e: unknown) => e instanceof InputError && e.path === `${ticks}.supervisor.silenceTicks` && /must be <= 86400/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('control and metricsPort: off by default, a path and a port when set, a bad port named', () => {
  assert.equal(DEFAULT_DAEMON_CONFIG.control, null);
  assert.equal(DEFAULT_DAEMON_CONFIG.metricsPort, null);
  const c = parseDaemonConfig({ control: '/run/memcoop/x.sock', metricsPort: 9464 });
  assert.equal(c.control, '/run/memcoop/x.sock');
  assert.equal(c.metricsPort, 9464);
  assert.throws(() => parseDaemonConfig({ metricsPort: 70000 }), (e: unknown) => e instanceof InputError && e.path === 'config.metricsPort');
});
