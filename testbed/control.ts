// The host end of a guest's control port (virtio-serial `org.memcoop.control`, a QEMU chardev
// unix socket): a line protocol the guest's /init serves (testbed/init.sh). The testbed is the
// only client of this socket; the agent's socket and QMP are left to memcoop.
import { connect, type Socket } from 'node:net';
import { existsSync } from 'node:fs';

export const CONTROL_PORT_NAME = 'org.memcoop.control';

export interface VmstatCounters {
  pswpin: number;
  pswpout: number;
  pgmajfault: number;
  oom_kill: number;
}

export interface JobResult {
  tag: string;
  /** Exit code of the program in the guest (127: unknown program). */
  code: number;
  /** Guest wall time of the job, from /proc/uptime (10 ms resolution). */
  ms: number;
  /** The program's own `result program=... ms=...` line, parsed. */
  result: Record<string, string>;
  /** /proc/vmstat deltas over the job (the whole guest, not only this program). */
  vmstat: VmstatCounters;
}

type Waiter = { resolve: (r: JobResult) => void; reject: (e: Error) => void };

export class ControlChannel {
  private sock?: Socket;
  private buf = '';
  private readyWaiters: (() => void)[] = [];
  private pongWaiters: (() => void)[] = [];
  private byeWaiters: (() => void)[] = [];
  private jobs = new Map<string, Waiter>();
  private partial = new Map<string, { result: Record<string, string>; before?: VmstatCounters; after?: VmstatCounters }>();
  private closed = false;
  /** True once the guest's /init said `ready`. */
  ready = false;
  /** Every line received, for debugging a run. */
  readonly lines: string[] = [];

  constructor(readonly socketPath: string) {}

  /** Connects (retrying while QEMU has not created the socket yet) and starts reading lines. */
  async connect(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        this.sock = await new Promise<Socket>((resolve, reject) => {
          if (!existsSync(this.socketPath)) return reject(new Error('no socket yet'));
          const s = connect(this.socketPath);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        break;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`cannot connect to ${this.socketPath}: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    this.sock.setEncoding('utf8');
    this.sock.on('data', (d: string) => this.onData(d));
    this.sock.on('error', () => this.onClose());
    this.sock.on('close', () => this.onClose());
  }

  /** Resolves when the guest's /init reaches its command loop (the boot-wait). */
  waitReady(timeoutMs: number): Promise<void> {
    if (this.ready) return Promise.resolve();
    return withTimeout(new Promise<void>((r) => this.readyWaiters.push(r)), timeoutMs, `guest not ready after ${timeoutMs} ms (${this.socketPath})`);
  }

  async ping(timeoutMs = 5_000): Promise<void> {
    const p = new Promise<void>((r) => this.pongWaiters.push(r));
    this.send('ping');
    await withTimeout(p, timeoutMs, 'no pong from the guest');
  }

  /** Runs /workloads/<program> in the guest; resolves when it has finished. */
  run(tag: string, program: string, args: (string | number)[] = []): Promise<JobResult> {
    return this.job(tag, `run ${tag} ${program} ${args.join(' ')}`);
  }

  /** Touches `mib` MiB of guest memory once (first-touch faults and TCG translation out of the way). */
  warmup(tag: string, mib: number): Promise<JobResult> {
    return this.job(tag, `warmup ${tag} ${Math.floor(mib)}`);
  }

  /** Asks the guest to power off; resolves when it said bye (QEMU exits shortly after). */
  async poweroff(timeoutMs = 5_000): Promise<void> {
    const p = new Promise<void>((r) => this.byeWaiters.push(r));
    this.send('poweroff');
    await withTimeout(p, timeoutMs, 'guest did not acknowledge poweroff').catch(() => undefined);
  }

  close(): void {
    this.closed = true;
    this.sock?.destroy();
  }

  private job(tag: string, line: string): Promise<JobResult> {
    if (!/^[A-Za-z0-9_.-]+$/.test(tag)) throw new Error(`bad job tag ${tag}`);
    if (this.jobs.has(tag)) throw new Error(`job ${tag} already running`);
    const p = new Promise<JobResult>((resolve, reject) => this.jobs.set(tag, { resolve, reject }));
    this.partial.set(tag, { result: {} });
    this.send(line);
    return p;
  }

  private send(line: string): void {
    if (!this.sock || this.closed) throw new Error(`control port ${this.socketPath} is not connected`);
    this.sock.write(line + '\n');
  }

  private onData(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line) this.onLine(line);
    }
  }

  private onLine(line: string): void {
    this.lines.push(line);
    const [kind, tag = '', ...rest] = line.split(/\s+/);
    if (kind === 'ready') {
      this.ready = true;
      this.readyWaiters.splice(0).forEach((r) => r());
    } else if (kind === 'pong') this.pongWaiters.splice(0).forEach((r) => r());
    else if (kind === 'bye') this.byeWaiters.splice(0).forEach((r) => r());
    else if (kind === 'out') {
      const p = this.partial.get(tag);
      if (p) for (const kv of rest.slice(1)) { const [k, v] = kv.split('='); if (k && v !== undefined) p.result[k] = v; }
    } else if (kind === 'stats') {
      const p = this.partial.get(tag);
      if (p && (rest[0] === 'before' || rest[0] === 'after')) p[rest[0]] = parseVmstat(rest.slice(1));
    } else if (kind === 'done') {
      const w = this.jobs.get(tag);
      const p = this.partial.get(tag);
      this.jobs.delete(tag);
      this.partial.delete(tag);
      if (!w) return;
      const before = p?.before ?? zero(), after = p?.after ?? zero();
      w.resolve({
        tag,
        code: Number(rest[0]),
        ms: Number(rest[1]),
        result: p?.result ?? {},
        vmstat: {
          pswpin: after.pswpin - before.pswpin,
          pswpout: after.pswpout - before.pswpout,
          pgmajfault: after.pgmajfault - before.pgmajfault,
          oom_kill: after.oom_kill - before.oom_kill,
        },
      });
    }
  }

  private onClose(): void {
    if (this.closed && this.jobs.size === 0) return;
    this.closed = true;
    for (const [tag, w] of this.jobs) w.reject(new Error(`control port closed while job ${tag} ran`));
    this.jobs.clear();
  }
}

function zero(): VmstatCounters {
  return { pswpin: 0, pswpout: 0, pgmajfault: 0, oom_kill: 0 };
}

function parseVmstat(kvs: string[]): VmstatCounters {
  const v = zero();
  for (const kv of kvs) {
    const [k, n] = kv.split('=');
    if (k && k in v) v[k as keyof VmstatCounters] = Number(n);
  }
  return v;
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); }),
  ]);
}
