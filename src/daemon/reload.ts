// SIGHUP: the daemon's config file read again. A valid change to the supervisor's part (policy,
// parameters, Dom0's bounds, thresholds) becomes a config.changed input, journaled, and takes
// effect at the next tick; the log level changes at once; what only a restart can change (host,
// tick, journal, sockets, guests' defaults) is named in the log and left as it is. An invalid
// file is refused with its field named, and the configuration in force stays.
import { isDeepStrictEqual } from 'node:util';
import { loadDaemonConfig, type DaemonConfig } from '../config/daemon-config.ts';
import type { Logger } from '../log/logger.ts';
import { InputError } from '../util/validate.ts';
import type { Daemon } from './daemon.ts';

/** The top-level fields a running daemon cannot take without a restart. */
const RESTART_ONLY = ['host', 'tickMs', 'journal', 'control', 'metricsPort', 'xen', 'kvm', 'guests'] as const;

/** Dotted paths where a and b differ (objects walked, anything else compared whole). */
export function changedPaths(a: unknown, b: unknown, path = ''): string[] {
  if (isDeepStrictEqual(a, b)) return [];
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map);
  if (!isObj(a) || !isObj(b)) return [path || '(root)'];
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].flatMap((k) => changedPaths(a[k], b[k], path ? `${path}.${k}` : k));
}

/** Re-reads `file`; returns the configuration now in force (the old one if the new is refused). */
export async function reloadConfig(file: string, current: DaemonConfig, daemon: Daemon, logger: Logger): Promise<DaemonConfig> {
  let next: DaemonConfig;
  try {
    next = await loadDaemonConfig(file);
  } catch (e) {
    const field = e instanceof InputError ? e.path : null;
    logger.error({ config: file, field }, `reload refused: ${e instanceof InputError ? e.message : `cannot read ${file}: ${(e as Error).message}`}; the configuration in force stays`);
    return current;
  }
  const restartOnly = RESTART_ONLY.filter((k) => !isDeepStrictEqual(current[k], next[k]));
  if (restartOnly.length > 0) logger.warn({ config: file, fields: restartOnly }, `reload: ${restartOnly.join(', ')} change only at a restart; kept as they are`);
  const kept: DaemonConfig = { ...next, ...Object.fromEntries(restartOnly.map((k) => [k, current[k]])) };
  if (next.logLevel !== current.logLevel) logger.level = next.logLevel;
  const changed = changedPaths(current.supervisor, next.supervisor).map((p) => `supervisor.${p}`);
  if (changed.length > 0) daemon.submit({ type: 'config.changed', at: daemon.now(), config: next.supervisor });
  logger.info(
    { config: file, changed: [...(next.logLevel !== current.logLevel ? ['logLevel'] : []), ...changed] },
    changed.length > 0 ? 'configuration reloaded; the supervisor takes it at the next tick' : 'configuration reloaded',
  );
  return kept;
}
