// The control socket: a unix socket the daemon serves (protocol.ts), readable and writable by
// root only (mode 0600 in a 0755 folder), so only the operator can ask for status or reserve
// memory. One daemon per host holds the lock (src/daemon/lock.ts) before it opens this, so a
// socket file already there is a dead daemon's and is replaced.
import { chmodSync, mkdirSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from '../log/logger.ts';
import { InputError } from '../util/validate.ts';
import { idOf, MAX_REQUEST_BYTES, parseRequest, type Command, type Request, type Response } from './protocol.ts';

/** Connections served at once; more are refused: a client loop must not eat the daemon's memory. */
export const MAX_CONNECTIONS = 32;
/** Socket file mode: root (the daemon's user) only. */
const SOCKET_MODE = 0o600;

/** An error a handler throws to answer with exactly this message. */
export class ControlError extends Error {}

export interface ControlConnection {
  /** Sends a response line; false once the client is gone. */
  send(r: Response): boolean;
  /** Runs when the client closes (a watch stops). */
  onClose(f: () => void): void;
}

export type Handler = (req: Request, conn: ControlConnection) => Promise<unknown> | unknown;

export class ControlServer {
  private constructor(
    readonly path: string,
    private readonly server: Server,
    private readonly sockets: Set<Socket>,
  ) {}

  static async listen(path: string, handlers: Partial<Record<Command, Handler>>, logger: Logger): Promise<ControlServer> {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    try {
      unlinkSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const sockets = new Set<Socket>();
    const server = createServer((sock) => {
      if (sockets.size >= MAX_CONNECTIONS) {
        sock.end(JSON.stringify({ id: null, ok: false, error: `too many control connections (${MAX_CONNECTIONS})` }) + '\n');
        return;
      }
      sockets.add(sock);
      serve(sock, handlers, logger, () => sockets.delete(sock));
    });
    server.maxConnections = MAX_CONNECTIONS + 1;
    // The mode is set before anyone can connect: the umask covers the bind, chmod makes sure.
    const mask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(mask);
    }
    chmodSync(path, SOCKET_MODE);
    return new ControlServer(path, server, sockets);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone.
    }
  }
}

function serve(sock: Socket, handlers: Partial<Record<Command, Handler>>, logger: Logger, gone: () => void): void {
  let buf = '';
  let open = true;
  const closers: (() => void)[] = [];
  const conn: ControlConnection = {
    send: (r) => {
      if (!open) return false;
      sock.write(JSON.stringify(r) + '\n');
      return true;
    },
    onClose: (f) => closers.push(f),
  };
  const finish = () => {
    if (!open) return;
    open = false;
    gone();
    for (const f of closers) f();
  };
  sock.on('close', finish);
  sock.on('error', finish);
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    buf += chunk;
    if (buf.length > MAX_REQUEST_BYTES && !buf.includes('\n')) {
      conn.send({ id: null, ok: false, error: `request longer than ${MAX_REQUEST_BYTES} bytes` });
      sock.end();
      finish();
      return;
    }
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line !== '') void handle(line, handlers, conn, logger);
    }
  });
}

async function handle(line: string, handlers: Partial<Record<Command, Handler>>, conn: ControlConnection, logger: Logger): Promise<void> {
  let req: Request;
  try {
    req = parseRequest(line);
  } catch (e) {
    conn.send({ id: idOf(line), ok: false, error: e instanceof InputError ? e.message : String(e) });
    return;
  }
  const h = handlers[req.cmd];
  if (h === undefined) {
    conn.send({ id: req.id, ok: false, error: `${req.cmd} is not served by this daemon` });
    return;
  }
  try {
    const result = await h(req, conn);
    if (result !== undefined) conn.send({ id: req.id, ok: true, result });
  } catch (e) {
    const known = e instanceof ControlError || e instanceof InputError;
    if (!known) logger.error({ err: e, cmd: req.cmd }, 'control request failed');
    conn.send({ id: req.id, ok: false, error: known ? (e as Error).message : `internal error: ${(e as Error).message}` });
  }
}
