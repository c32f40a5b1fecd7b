// The daemon's side of the control socket: the observer of its streams, and the handlers of
// status, explain, watch and ping. `memcoop run` starts it beside the daemon and stops it first.
import type { Daemon } from '../daemon/daemon.ts';
import type { Logger } from '../log/logger.ts';
import { integer, number, string } from '../util/validate.ts';
import { DEFAULT_RESERVE_FOR_S, DEFAULT_RESERVE_TIMEOUT_S, Reservations } from './reservations.ts';
import { explainTick } from './explain-text.ts';
import { DaemonObserver } from './observer.ts';
import { ControlError, ControlServer, type Handler } from './server.ts';
import { statusOf } from './status.ts';
import type { Command } from './protocol.ts';

export interface ControlOptions {
  daemon: Daemon;
  path: string;
  logger: Logger;
  host: string;
  tickMs: number;
}

export interface Control {
  readonly observer: DaemonObserver;
  readonly server: ControlServer;
  readonly reservations: Reservations;
  close(): Promise<void>;
}

export async function startControl(opts: ControlOptions): Promise<Control> {
  const { daemon } = opts;
  const observer = new DaemonObserver(daemon);
  const reservations = new Reservations(daemon, observer, opts.logger);
  const status = () => statusOf(observer, { host: opts.host, tickMs: opts.tickMs, reservedKiB: reservations.totalKiB() });
  const handlers: Partial<Record<Command, Handler>> = {
    ping: () => ({ pid: process.pid }),
    status,
    explain: (req) => {
      const guest = req.guest === undefined || req.guest === null ? null : string(req.guest, 'request.guest');
      const input = observer.lastTickInput;
      const last = observer.lastDecision;
      if (input === null || last === null) throw new ControlError('no tick has run the policy yet; ask again after the first tick');
      const r = explainTick(daemon.actor.getSnapshot().context.config, input, last.at, guest, last.writes);
      if (typeof r === 'string') throw new ControlError(r);
      return r;
    },
    // A status line now and after every tick, until the client goes.
    watch: (req, conn) => {
      conn.send({ id: req.id, ok: true, result: status() });
      const stop = observer.listen({ tick: () => void conn.send({ id: req.id, ok: true, result: status() }) });
      conn.onClose(stop);
      return undefined;
    },
    reserve: (req) =>
      reservations.reserve(
        integer(req.sizeKiB, 'request.sizeKiB', { min: 1 }),
        req.forS === undefined ? DEFAULT_RESERVE_FOR_S : number(req.forS, 'request.forS', { min: 0 }),
        req.timeoutS === undefined ? DEFAULT_RESERVE_TIMEOUT_S : number(req.timeoutS, 'request.timeoutS', { min: 0 }),
      ),
    release: (req) => {
      const id = string(req.reservation, 'request.reservation', 64);
      const r = reservations.release(id, 'released by the operator');
      if (r === null) throw new ControlError(`no reservation ${id} (held: ${reservations.list().map((x) => x.id).join(', ') || 'none'})`);
      return r;
    },
  };
  let server: ControlServer;
  try {
    server = await ControlServer.listen(opts.path, handlers, opts.logger);
  } catch (e) {
    observer.close();
    throw e;
  }
  opts.logger.info({ control: opts.path }, 'control socket open');
  return {
    observer,
    server,
    reservations,
    close: async () => {
      reservations.close();
      observer.close();
      await server.close();
    },
  };
}
