// The client side of the control socket: which socket (--control, MEMCOOP_CONTROL, else the one
// daemon's socket under /run/memcoop), one request and its answer, or a stream of answers (watch).
import { existsSync, readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { DEFAULT_LOCK_DIR } from '../daemon/lock.ts';
import type { Response } from './protocol.ts';

/** How long a command waits for the daemon's answer before saying it got none. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** The socket to use, or a one-line reason there is none. */
export function resolveControlPath(given: string | undefined): { path: string } | { error: string } {
  const p = given ?? process.env.MEMCOOP_CONTROL;
  if (p !== undefined && p !== '') return { path: p };
  let socks: string[] = [];
  try {
    socks = readdirSync(DEFAULT_LOCK_DIR).filter((f) => f.endsWith('.sock'));
  } catch {
    // No folder: no daemon with a default socket.
  }
  if (socks.length === 1) return { path: join(DEFAULT_LOCK_DIR, socks[0]!) };
  if (socks.length > 1) return { error: `several daemons' sockets in ${DEFAULT_LOCK_DIR} (${socks.join(', ')}); say which with --control PATH` };
  return { error: `no memcoop daemon's control socket in ${DEFAULT_LOCK_DIR}; is 'memcoop run' running? (--control PATH or MEMCOOP_CONTROL name another)` };
}

export class ControlClient {
  private buf = '';
  private nextId = 1;
  private readonly waiting = new Map<number, (r: Response) => void>();
  private closedWith: string | null = null;
  private readonly onEnd = new Set<(why: string) => void>();

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      this.buf += chunk;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        let r: Response;
        try {
          r = JSON.parse(line) as Response;
        } catch {
          continue;
        }
        if (r.id !== null) this.waiting.get(r.id)?.(r);
      }
    });
    const end = (why: string) => {
      if (this.closedWith !== null) return;
      this.closedWith = why;
      for (const f of this.onEnd) f(why);
    };
    sock.on('close', () => end('the daemon closed the connection'));
    sock.on('error', (e) => end(e.message));
  }

  static connect(path: string): Promise<ControlClient> {
    if (!existsSync(path)) return Promise.reject(new Error(`no control socket at ${path}; is the daemon running?`));
    return new Promise((resolve, reject) => {
      const sock = connect(path);
      sock.once('connect', () => {
        sock.off('error', reject);
        resolve(new ControlClient(sock));
      });
      sock.once('error', (e: NodeJS.ErrnoException) =>
        reject(new Error(e.code === 'EACCES' ? `${path}: permission denied (the control socket is root's)` : e.code === 'ECONNREFUSED' ? `no daemon answers at ${path} (a dead daemon's socket?)` : `${path}: ${e.message}`)),
      );
    });
  }

  /** One request; its answer's result, or an Error with the daemon's one-line message. */
  request(cmd: string, fields: Record<string, unknown> = {}, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => done(new Error(`no answer from the daemon within ${timeoutMs / 1000} s`)), timeoutMs);
      const onEnd = (why: string) => done(new Error(why));
      const done = (r: Response | Error) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        this.onEnd.delete(onEnd);
        if (r instanceof Error) reject(r);
        else if (r.ok) resolve(r.result);
        else reject(new Error(r.error));
      };
      this.waiting.set(id, done);
      this.onEnd.add(onEnd);
      if (this.closedWith !== null) return done(new Error(this.closedWith));
      this.sock.write(JSON.stringify({ ...fields, id, cmd }) + '\n');
    });
  }

  /** A request answered many times (watch): each result to `each`, until the connection ends. */
  stream(cmd: string, each: (result: unknown) => void): Promise<string> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, (r) => {
        if (r.ok) each(r.result);
        else {
          this.close();
          resolve(r.error);
        }
      });
      this.onEnd.add(resolve);
      this.sock.write(JSON.stringify({ id, cmd }) + '\n');
    });
  }

  close(): void {
    this.sock.destroy();
  }
}

/** One request on a fresh connection. */
export async function ask(path: string, cmd: string, fields: Record<string, unknown> = {}, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<unknown> {
  const c = await ControlClient.connect(path);
  try {
    return await c.request(cmd, fields, timeoutMs);
  } finally {
    c.close();
  }
}
