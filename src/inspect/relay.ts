// `memcoop inspect [PATH] --serve PORT`: a small inspector hub for a Dom0 without a browser. It
// serves, on one port, a page that opens the Stately inspector (https://stately.ai/inspect) in
// the operator's browser and a WebSocket that feeds it:
//   - the inspector events of PATH (JSON lines from --inspect-file), from its first line, then
//     each line appended while the run goes on (a live file is followed);
//   - whatever a live `memcoop run|sim|replay --inspect ws://HOST:PORT` sends it (each message
//     is passed on to the other connections, and kept for the ones that connect later).
// The operator reaches it through an SSH tunnel (ssh -L PORT:localhost:PORT dom0) and opens
// http://localhost:PORT.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

/** How often a followed file is read for new lines: a person watching does not see 200 ms. */
const FOLLOW_MS = 200;
/** Events kept for connections that come later: a long live run's first hours are dropped first. */
const MAX_KEPT = 500_000;
/** Read from the file at most this much per poll. */
const READ_CHUNK = 1 << 20;

export const INSPECTOR_URL = 'https://stately.ai/inspect';

/** The page: the inspector in a frame, fed from this server's WebSocket (same host and port). */
export function bridgePage(inspectorUrl = INSPECTOR_URL): string {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>memcoop · Stately inspector</title>
<style>html,body{height:100%;margin:0}iframe{width:100%;height:100%;border:0}</style></head>
<body><iframe id="inspector" src="${inspectorUrl}"></iframe>
<script>
  const frame = document.getElementById('inspector');
  const pending = [];
  let connected = false;
  window.addEventListener('message', (e) => {
    if (e.data && e.data.type === '@statelyai.connected') {
      connected = true;
      for (const ev of pending.splice(0)) frame.contentWindow.postMessage(ev, '*');
    }
  });
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host);
  ws.onmessage = (m) => {
    const ev = JSON.parse(m.data);
    if (connected) frame.contentWindow.postMessage(ev, '*');
    else pending.push(ev);
  };
</script></body></html>
`;
}

export interface RelayOptions {
  port: number;
  /** Address to listen on (default 127.0.0.1: reach it through an SSH tunnel). */
  host?: string;
  /** A file of inspector events (JSON lines) to relay, followed while it grows. */
  file?: string;
}

export interface Relay {
  readonly port: number;
  /** Lines relayed so far (from the file and from connections). */
  readonly count: () => number;
  close(): Promise<void>;
}

export async function startRelay(opts: RelayOptions): Promise<Relay> {
  const kept: string[] = [];
  const http: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(bridgePage());
  });
  const wss = new WebSocketServer({ server: http });
  let total = 0;
  const keep = (line: string, from: WebSocket | null) => {
    total++;
    kept.push(line);
    if (kept.length > MAX_KEPT) kept.shift();
    for (const c of wss.clients) if (c !== from && c.readyState === WebSocket.OPEN) c.send(line);
  };
  wss.on('connection', (ws) => {
    for (const line of kept) ws.send(line);
    ws.on('message', (data) => keep(data.toString(), ws));
  });

  let timer: NodeJS.Timeout | null = null;
  if (opts.file !== undefined) {
    const fd = openSync(opts.file, 'r');
    let offset = 0;
    let partial = '';
    const buf = Buffer.alloc(READ_CHUNK);
    const poll = () => {
      // A file written anew (a new run with the same --inspect-file) starts over.
      if (statSync(opts.file!).size < offset) {
        offset = 0;
        partial = '';
      }
      for (;;) {
        const n = readSync(fd, buf, 0, READ_CHUNK, offset);
        if (n === 0) break;
        offset += n;
        const parts = (partial + buf.subarray(0, n).toString('utf8')).split('\n');
        partial = parts.pop()!;
        for (const line of parts) if (line.trim() !== '') keep(line, null);
      }
    };
    poll();
    timer = setInterval(poll, FOLLOW_MS);
    http.on('close', () => closeSync(fd));
  }

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
  });
  return {
    port: (http.address() as AddressInfo).port,
    count: () => total,
    async close() {
      if (timer !== null) clearInterval(timer);
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}
