// Readiness for systemd (Type=notify): once the daemon runs and its sockets are open, READY=1 is
// sent to $NOTIFY_SOCKET. Node has no unix datagram sockets, so systemd-notify sends it, naming
// this process as the sender (the unit sets NotifyAccess=all). Without $NOTIFY_SOCKET (not
// started by systemd) nothing happens.
import { execFile } from 'node:child_process';
import type { Logger } from '../log/logger.ts';

export function notifyReady(logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (!env.NOTIFY_SOCKET) return Promise.resolve();
  return new Promise((resolve) => {
    execFile('systemd-notify', ['--ready', `--pid=${process.pid}`], { env }, (err) => {
      if (err) logger.warn({ err: err.message }, 'systemd-notify failed; systemd will not see the daemon as started');
      resolve();
    });
  });
}
