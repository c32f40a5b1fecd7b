// Inspection end to end: a real WebSocket server (ws) stands in for the Stately inspector's
// socket and receives the events of a real simulator run (startDaemon, streams, journal,
// supervisor, guest machines) and of a replay of that run's journal, in the inspector's format;
// the supervisor passes through the regimes the scenario forces, and the replay drives every
// machine through the same states as the run. --inspect-file writes the same events, and the
// relay (`memcoop inspect PATH --serve PORT`) hands them to a browser's socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { openInspection } from '../../../src/inspect/inspection.ts';
import { startRelay } from '../../../src/inspect/relay.ts';
import { readJournalFile } from '../../../src/journal/format.ts';
import { replay } from '../../../src/journal/replay.ts';
import { parseScenario } from '../../../src/sim/scenario.ts';
import { runScenario } from '../../../src/sim/runner.ts';

const ROOT = join(import.meta.dirname, '../../..');
/** Dom0's commit rises at 15 s and falls at 120 s: abundant, a reclaim for Dom0, scarce or abundant again. */
const SCENARIO = readFileSync(join(ROOT, 'config/scenarios/fault-dom0-rising.yaml'), 'utf8').replace('durationS: 1200', 'durationS: 180');

interface InspectorEvent {
  type: string;
  sessionId: string;
  _version: string;
  name?: string;
  parentId?: string;
  snapshot?: { value?: unknown; status?: string };
  event?: { type: string };
}

/** A WebSocket server that keeps every message of each connection, parsed. */
async function inspectorServer() {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const connections: InspectorEvent[][] = [];
  wss.on('connection', (ws) => {
    const got: InspectorEvent[] = [];
    connections.push(got);
    ws.on('message', (data) => got.push(JSON.parse(data.toString()) as InspectorEvent));
  });
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, connections, close: () => new Promise<void>((r) => wss.close(() => r())) };
}

/** Each actor's states in order, by its actor name (supervisor; guests by their spawn number). */
function statesByActor(events: readonly InspectorEvent[]): Map<string, string[]> {
  const names = new Map<string, string>();
  for (const e of events) if (e.type === '@xstate.actor') names.set(e.sessionId, e.name ?? e.sessionId);
  const out = new Map<string, string[]>();
  for (const e of events) {
    if (e.type !== '@xstate.snapshot' || e.snapshot?.value === undefined) continue;
    const name = names.get(e.sessionId) ?? `?${e.sessionId}`;
    const v = JSON.stringify(e.snapshot.value);
    const seq = out.get(name) ?? [];
    if (seq[seq.length - 1] !== v) seq.push(v);
    out.set(name, seq);
  }
  return out;
}

async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(ok(), what);
}

test('a sim run and the replay of its journal send the inspector the same transitions', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'memcoop-inspect-'));
  const server = await inspectorServer();
  try {
    const journalPath = join(dir, 'run.journal.jsonl');
    const filePath = join(dir, 'run.inspect.jsonl');
    const live = await openInspection({ url: server.url, file: filePath });
    const run = await runScenario(parseScenario(SCENARIO, 'dom0-rising.yaml'), { journalPath, trace: false, inspect: live.observer });
    await live.close();
    assert.ok(run.ticks >= 150);
    await until(() => server.connections[0]?.length === live.count(), 'every event of the run reached the server');

    const journal = await readJournalFile(journalPath);
    const replayed = await openInspection({ url: server.url });
    replay(journal.header, journal.inputs, { inspect: replayed.observer });
    await replayed.close();
    await until(() => server.connections[1]?.length === replayed.count(), 'every event of the replay reached the server');

    const [runEvents, replayEvents] = server.connections as [InspectorEvent[], InspectorEvent[]];
    // The inspector's format: its three event types, each with the library's version and a session.
    for (const e of runEvents) {
      assert.ok(['@xstate.actor', '@xstate.event', '@xstate.snapshot'].includes(e.type), e.type);
      assert.equal(typeof e._version, 'string');
      assert.equal(typeof e.sessionId, 'string');
    }
    const actors = runEvents.filter((e) => e.type === '@xstate.actor');
    assert.deepEqual(actors.map((a) => a.name).sort(), ['1', '2', 'supervisor'], 'the supervisor and both guest machines');
    assert.ok(runEvents.some((e) => e.type === '@xstate.event' && e.event?.type === 'agent.hello'), 'the handshake is seen');

    const runStates = statesByActor(runEvents);
    const sup = runStates.get('supervisor')!;
    assert.equal(sup[0], '"starting"');
    for (const regime of ['abundant', 'reclaimingForDom0']) assert.ok(sup.includes(JSON.stringify(regime)), `the supervisor was ${regime}: ${sup.join(' ')}`);
    for (const g of ['1', '2']) {
      const seq = runStates.get(g)!;
      assert.equal(seq[0], '"registering"');
      assert.ok(seq.some((v) => v.includes('managed')), `guest ${g} was managed: ${seq.join(' ')}`);
    }

    assert.deepEqual(statesByActor(replayEvents), runStates, 'the replay passes every machine through the run\'s states');

    // --inspect-file: the same events, one JSON object a line.
    const lines = readFileSync(filePath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as InspectorEvent);
    assert.equal(lines.length, runEvents.length);
    assert.deepEqual(statesByActor(lines), runStates);

    // `memcoop inspect PATH --serve PORT`: a browser's socket gets the file's events.
    const relay = await startRelay({ port: 0, file: filePath });
    try {
      const got: string[] = [];
      const ws = new WebSocket(`ws://127.0.0.1:${relay.port}`);
      ws.on('message', (d) => got.push(d.toString()));
      await until(() => got.length === lines.length, 'the relay sent every line of the file');
      assert.deepEqual(statesByActor(got.map((l) => JSON.parse(l) as InspectorEvent)), runStates);
      ws.close();
      const page = await (await fetch(`http://127.0.0.1:${relay.port}/`)).text();
      assert.match(page, /stately\.ai\/inspect/);
    } finally {
      await relay.close();
    }
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an inspector that does not answer is one clear error', async () => {
  const server = await inspectorServer();
  const url = server.url;
  await server.close();
  await assert.rejects(openInspection({ url }), /no inspector answered at ws:\/\/127\.0\.0\.1:\d+ \(connect ECONNREFUSED/);
  await assert.rejects(openInspection({ url: 'http://x' }), /--inspect needs a ws:\/\/ or wss:\/\/ URL/);
});
