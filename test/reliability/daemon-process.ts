// The reliability tier's daemon config: the stand-in host of testbed/daemon-child.ts (which also
// starts the daemon, startXenDaemon), with this tier's own params.
import { writeXenConfig } from '../../testbed/daemon-child.ts';

/** A config for a small, fast daemon on the stand-in host; `extra` lines follow the supervisor block. */
export function writeConfig(dir: string, extra: string[] = [], hostTotalKiB?: number): string {
  return writeXenConfig(dir, {
    hostTotalKiB,
    extra,
  });
}
