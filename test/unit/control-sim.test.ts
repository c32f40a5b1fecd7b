// The control socket, status, explain and the metrics endpoint, each as a process against a
// daemon (memcoop run --host sim) on the simulated host playing paper-4vm in accelerated time.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Status } from '../../src/control/status.ts';
import type { Explanation } from '../../src/policy/explain.ts';
import { BIN, ROOT, memcoop, parseExposition, startSimDaemon, type DaemonChild, type SimDaemon } from '../../testbed/daemon-child.ts';

describe('memcoop status, explain and metrics against run --host sim', () => {
  let sim: SimDaemon;
  let dir: string;
  let d: DaemonChild;
  let sock: string;
  let metricsUrl: string;
  let liveExplain = '';

  before(async () => {
    sim = await startSimDaemon(['--speed', '10', '--metrics', '0']);
    ({ dir, d, sock } = sim);
    metricsUrl = (await d.waitFor('metrics listening', 'the metrics listener')).metrics as string;
  });
  after(async () => {
    await sim?.stop();
  });

  test('the control socket sits beside the lock, root-only (0600)', () => {
    assert.equal(statSync(sock).mode & 0o777, 0o600);
  });

  test('status --json: host, Dom0 and every guest with state, mode, allocation, target, goal, Committed_AS and report age', () => {
    const r = memcoop(['status', '--json', '--control', sock]);
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout) as Status;
    assert.equal(s.host, 'sim');
    assert.equal(s.policy, 'memcoop');
    assert.ok(s.memory !== null && s.dom0 !== null);
    assert.ok(['abundant', 'scarce', 'reclaiming for Dom0', 'overcommitted'].includes(s.memory.regime!));
    assert.equal(s.memory.totalKiB, s.memory.freeKiB + s.dom0.allocationKiB + s.guests.reduce((a, g) => a + g.allocationKiB, 0));
    assert.deepEqual(s.guests.map((g) => g.id), ['vm1', 'vm2', 'vm3', 'vm4']);
    for (const g of s.guests) {
      assert.ok(['selfAdjusting', 'globallyControlled', 'reclaimingForDom0'].includes(g.state), g.state);
      assert.ok(g.mode !== null && g.goalKiB !== null && g.committedKiB !== null && g.targetKiB !== null, JSON.stringify(g));
      assert.ok(g.allocationKiB >= g.minKiB && g.allocationKiB <= g.maxKiB);
      assert.ok(g.lastReportAgeMs !== null && g.lastReportAgeMs >= 0 && g.lastReportAgeMs < 5_000, String(g.lastReportAgeMs));
    }
  });

  test('status (table) names each guest on a line', () => {
    const r = memcoop(['status', '--control', sock]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^memory: total \d+/m);
    assert.match(r.stdout, /^GUEST +DOMID +STATE +MODE +ALLOC/m);
    for (const id of ['vm1', 'vm2', 'vm3', 'vm4']) assert.match(r.stdout, new RegExp(`^${id} `, 'm'));
  });

  test('status --watch --json: one object per tick, until stopped', async () => {
    const c = spawn(process.execPath, [BIN, 'status', '--watch', '--json', '--control', sock], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => c.on('exit', (code) => r(code)));
    const end = Date.now() + 30_000;
    while (out.split('\n').filter(Boolean).length < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    c.kill('SIGTERM');
    assert.equal(await exited, 0);
    const ticks = out.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as Status).ticks);
    assert.ok(ticks.length >= 3, out);
    assert.ok(ticks[2]! > ticks[1]!, `redrawn each tick: ${ticks.join(',')}`);
  });

  test('explain: the regime and its inequality, and for each guest its goal, bound and step', () => {
    const r = memcoop(['explain', '--control', sock]);
    assert.equal(r.status, 0, r.stderr);
    liveExplain = r.stdout;
    assert.match(r.stdout, /^regime: (abundant|scarce|reclaiming for Dom0|overcommitted) +\(.*(>=|<|>).*\)$/m);
    assert.match(r.stdout, /^two-phase: /m);
    for (const id of ['vm1', 'vm2', 'vm3', 'vm4']) assert.match(r.stdout, new RegExp(`^${id}: allocation .*\\n  goal .*: `, 'm'));
    const one = memcoop(['explain', 'vm2', '--json', '--control', sock]);
    assert.equal(one.status, 0, one.stderr);
    const e = JSON.parse(one.stdout) as Explanation;
    assert.deepEqual(e.trace.guests.map((g) => g.id), ['vm2']);
    assert.deepEqual(e.decision.guests.map((g) => [g.goalKiB, g.targetKiB]), e.trace.guests.map((g) => [g.goalKiB, g.targetKiB]));
  });

  test('explain of a guest the daemon does not have: one line, exit 1', () => {
    const r = memcoop(['explain', 'nosuch', '--control', sock]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^memcoop explain: no guest nosuch in the decision at t=\d+ \(guests: vm1, vm2, vm3, vm4\)\n$/);
  });

  test('the metrics endpoint, scraped and parsed: guests, host, the daemon\'s own', async () => {
    const res = await fetch(metricsUrl);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const { samples, types } = parseExposition(await res.text());
    const one = (name: string, labels: Record<string, string> = {}) =>
      samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    for (const id of ['vm1', 'vm2', 'vm3', 'vm4']) {
      for (const m of ['memcoop_guest_allocation_bytes', 'memcoop_guest_target_bytes', 'memcoop_guest_goal_bytes', 'memcoop_guest_committed_bytes']) {
        assert.equal(one(m, { guest: id }).length, 1, `${m}{guest=${id}}`);
      }
      assert.equal(one('memcoop_guest_state', { guest: id }).reduce((a, s) => a + s.value, 0), 1, 'one state per guest');
      assert.equal(one('memcoop_guest_allocation_bytes', { guest: id })[0]!.value % 1024, 0, 'bytes of whole KiB');
    }
    assert.equal(types.get('memcoop_tick_duration_seconds'), 'histogram');
    assert.equal(types.get('memcoop_report_to_target_seconds'), 'histogram');
    assert.equal(types.get('memcoop_target_writes_total'), 'counter');
    assert.ok(one('memcoop_tick_duration_seconds_count')[0]!.value >= 5);
    assert.ok(one('memcoop_target_writes_total')[0]!.value > 0);
    assert.ok(one('memcoop_report_to_target_seconds_count')[0]!.value > 0);
    assert.equal(one('memcoop_host_regime').reduce((a, s) => a + s.value, 0), 1);
    assert.ok(one('memcoop_host_free_bytes')[0]!.value >= 0);
    assert.ok(one('memcoop_daemon_rss_bytes')[0]!.value > 10 * 1024 * 1024);
    assert.equal(one('memcoop_reports_refused_total')[0]!.value, 0);
    assert.equal((await fetch(metricsUrl.replace('/metrics', '/other'))).status, 404);
  });

  test('the Grafana dashboard queries only metrics the daemon serves, and covers each of them', async () => {
    const { types } = parseExposition(await (await fetch(metricsUrl)).text());
    const dash = JSON.parse(readFileSync(join(ROOT, 'grafana/memcoop-dashboard.json'), 'utf8')) as { panels: { type: string; targets?: { expr: string }[] }[] };
    const used = new Set<string>();
    for (const p of dash.panels) for (const t of p.targets ?? []) for (const m of t.expr.matchAll(/memcoop_[a-z0-9_]+/g)) used.add(m[0].replace(/_(bucket|count|sum)$/, ''));
    for (const name of used) assert.ok(types.has(name), `the dashboard's ${name} is not served`);
    const ours = [...types.keys()].filter((n) => n.startsWith('memcoop_') && !n.startsWith('memcoop_process_') && !n.startsWith('memcoop_nodejs_'));
    for (const name of ours) assert.ok(used.has(name) || name === 'memcoop_guest_min_bytes' || name === 'memcoop_guest_max_bytes' || name === 'memcoop_ticks', `${name} is on no panel`);
  });

  test('a second daemon on the same lock refuses, naming the first one\'s pid', () => {
    const r = memcoop(['run', '--host', 'sim', '--lock', join(dir, 'sim.pid')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`another memcoop daemon \\(pid ${d.child.pid}\\) holds `));
  });

  test('replay --explain --at the same tick gives the same text as the live daemon did', async () => {
    assert.notEqual(liveExplain, '');
    assert.equal(await d.stop(), 0, d.stderr());
    const at = /^decision at t=(\d+) ms$/m.exec(liveExplain)![1]!;
    const r = memcoop(['replay', join(dir, 'journal.jsonl'), '--explain', '--at', at]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, liveExplain);
    const g = memcoop(['replay', join(dir, 'journal.jsonl'), '--explain', '--at', '999999999']);
    assert.equal(g.status, 1);
    assert.match(g.stderr, /no tick at or after t=999999999/);
  });

  test('no daemon at the socket: one line, exit 1', () => {
    const r = memcoop(['status', '--control', join(dir, 'none.sock')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^memcoop status: no control socket at .*none\.sock; is the daemon running\?\n$/);
  });
});
