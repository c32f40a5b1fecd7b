// Live inspection of the actor system (the supervisor and every guest machine) in the Stately
// inspector: XState's inspection events, converted by @statelyai/inspect into the inspector's
// format (@xstate.actor, @xstate.event, @xstate.snapshot), go as JSON text messages, as the
// library's own WebSocket inspector sends them, to a WebSocket inspector (--inspect URL) and/or a
// file of JSON lines (--inspect-file PATH) that `memcoop inspect PATH --serve PORT` relays later
// or from another machine. Nothing here is created without one of the two, so an
// actor started without it sends nothing and pays nothing (createActor gets no `inspect`).
//
// The conversion runs a turn after each event (the library defers it), so close() waits for the
// events still queued before it closes the file and the socket.
import { closeSync, openSync, writeSync } from 'node:fs';
import { createInspector } from '@statelyai/inspect';
import { WebSocket } from 'ws';
import type { InspectionEvent, Observer } from 'xstate';

/** How long open() waits for the inspector's socket before it gives up with an operator's error. */
const CONNECT_TIMEOUT_MS = 5000;

export interface InspectionOptions {
  /** ws:// URL of a WebSocket inspector (`memcoop inspect --serve PORT` is one). */
  url?: string;
  /** File of JSON lines, one inspector event each (created or truncated). */
  file?: string;
}

export interface Inspection {
  /** createActor(machine, { inspect: observer }). */
  readonly observer: Observer<InspectionEvent>;
  /** Events written or sent so far. */
  readonly count: () => number;
  /** Sends what is still queued, then closes the socket and the file. */
  close(): Promise<void>;
}

/** One inspector event as a JSON line (snapshots and actor refs serialize through their toJSON). */
export function inspectorLine(event: unknown): string {
  return JSON.stringify(event, (_k, v: unknown) => (typeof v === 'function' ? { type: v.name } : v));
}

/** Waits until `ready()` holds, polling; false after timeoutMs. */
async function until(ready: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/** Opens the sinks; throws an Error with a one-line reason when the inspector cannot be reached. */
export async function openInspection(opts: InspectionOptions): Promise<Inspection> {
  const sinks: ((event: unknown) => void)[] = [];
  const closers: (() => Promise<void>)[] = [];
  let sent = 0;
  let fd: number | null = null;
  if (opts.file !== undefined) {
    fd = openSync(opts.file, 'w');
    const file = fd;
    sinks.push((e) => writeSync(file, inspectorLine(e) + '\n'));
    closers.push(async () => closeSync(file));
  }
  if (opts.url !== undefined) {
    let url: URL;
    try {
      url = new URL(opts.url);
    } catch {
      throw new Error(`--inspect needs a ws:// or wss:// URL, got ${JSON.stringify(opts.url)}`);
    }
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new Error(`--inspect needs a ws:// or wss:// URL, got ${JSON.stringify(opts.url)}`);
    const ws = new WebSocket(opts.url);
    const opened = await new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => resolve(`no inspector answered at ${opts.url} within ${CONNECT_TIMEOUT_MS / 1000} s`), CONNECT_TIMEOUT_MS);
      ws.once('open', () => (clearTimeout(timer), resolve(null)));
      ws.once('error', (err) => (clearTimeout(timer), resolve(`no inspector answered at ${opts.url} (${err.message})`)));
    });
    if (opened !== null) {
      ws.terminate();
      if (fd !== null) closeSync(fd);
      throw new Error(opened);
    }
    // An inspector that goes away mid-run costs the inspection, not the run: later events are dropped.
    ws.on('error', () => {});
    sinks.push((e) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(inspectorLine(e));
    });
    closers.push(async () => {
      // Let the socket write what it holds before the close frame.
      await until(() => ws.bufferedAmount === 0, CONNECT_TIMEOUT_MS);
      await new Promise<void>((r) => {
        if (ws.readyState === WebSocket.CLOSED) return r();
        ws.once('close', () => r());
        ws.close();
        setTimeout(() => (ws.terminate(), r()), CONNECT_TIMEOUT_MS).unref();
      });
    });
  }
  const inspector = createInspector({
    send(e: unknown) {
      sent++;
      for (const s of sinks) s(e);
    },
  } as never);
  let queued = 0;
  const observer: Observer<InspectionEvent> = {
    next(e) {
      queued++;
      inspector.inspect.next?.(e);
      // The library converts a turn later (setTimeout 0); count it done after that.
      setTimeout(() => void queued--, 0);
    },
  };
  return {
    observer,
    count: () => sent,
    async close() {
      await until(() => queued === 0, 60_000);
      await new Promise((r) => setTimeout(r, 0));
      for (const c of closers) await c();
    },
  };
}
