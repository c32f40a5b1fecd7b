// memcoop run --host xen|kvm [--config FILE] [--socket PATH] [--guests-dir DIR] [--journal FILE]:
// the daemon against a real host, until SIGINT or SIGTERM, then a clean stop (journal flushed
// and closed).
import { loadXenAddon } from '../hosts/xen/addon.ts';
import type { Host } from '../hosts/host.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import { DEFAULT_DAEMON_CONFIG, HOST_KINDS, loadDaemonConfig, type DaemonConfig } from '../config/daemon-config.ts';
import type { InspectionEvent, Observer } from 'xstate';
import { InputError } from '../util/validate.ts';
import { INSPECT_HELP, withInspection } from './inspect-flags.ts';
import { acquireLock, DEFAULT_LOCK_DIR, LockHeldError, type DaemonLock } from '../daemon/lock.ts';
import { dirname, join } from 'node:path';
import type { SchedulerLike } from 'rxjs';
import type { SupervisorConfig } from '../vocabulary/config.ts';
import { DEFAULT_RUN_SCENARIO } from './run-sim.ts';
import { holdYoungGeneration } from '../daemon/young-generation.ts';
import { holdOldGeneration } from '../daemon/old-generation.ts';

/** The highest TCP port. */
const MAX_PORT = 65_535;

/** The control socket beside the lock: FILE.pid -> FILE.sock. */
export function defaultControlPath(lockPath: string): string {
  return lockPath.endsWith('.pid') ? `${lockPath.slice(0, -4)}.sock` : `${lockPath}.sock`;
}

const USAGE = `usage: memcoop run --host xen|kvm|sim [--config FILE] [--socket PATH] [--guests-dir DIR] [--journal FILE]
                   [--lock FILE] [--control PATH] [--metrics PORT] [--scenario NAME] [--speed N]

Runs the memcoop daemon in Dom0 (on KVM: on the host) until SIGINT or SIGTERM.
  --host xen|kvm|sim the hypervisor (default: the config's host, else xen); sim: the embedded
                    simulated host playing a scenario in real time (to try memcoop without one)
  --config FILE     the daemon's YAML config (config/memcoop.example.yaml, config/memcoop.kvm.example.yaml);
                    default: built-in defaults (kvm needs kvm.poolKiB, so a config)
  --socket PATH     xen: a xenstored unix socket (e.g. a test fixture's) instead of libxenstore's default
  --guests-dir DIR  kvm: the directory of per-guest QEMU sockets, DIR/<name>/qmp.sock and agent.sock
  --journal FILE    record every supervisor input to FILE (JSONL; 'memcoop replay FILE' replays it);
                    an existing FILE is rotated to FILE.1 (nine kept), never truncated
  --lock FILE       the pid file that keeps a second daemon off this host (default: beside the
                    xenstored socket given by --socket, beside the kvm guests dir, else
                    ${DEFAULT_LOCK_DIR}/<host>.pid); a second daemon refuses to start, naming the pid
SIGHUP re-reads --config: a valid change to its supervisor part takes effect at the next tick
(logged, and journaled); an invalid file is refused with the field named and the old one kept.
Options override the config. Where no hypervisor answers libxenctrl (a xenstored without Xen),
host free memory and domain sizes come from a stand-in for the hypervisor, and the log says so.
Logs are pino JSON lines on standard output. Exit: 0 after a signal, 1 if the daemon cannot
start or stops on its own (its inputs failed), 2 for bad options or config.

Inspection:
${INSPECT_HELP}`;

interface RunArgs {
  host?: string;
  config?: string;
  socket?: string;
  guestsDir?: string;
  journal?: string;
  lock?: string;
  control?: string;
  metrics?: string;
  scenario?: string;
  speed?: string;
}

const VALUE_OPTS = {
  '--host': 'host',
  '--config': 'config',
  '--socket': 'socket',
  '--guests-dir': 'guestsDir',
  '--journal': 'journal',
  '--lock': 'lock',
  '--control': 'control',
  '--metrics': 'metrics',
  '--scenario': 'scenario',
  '--speed': 'speed',
} as const;

function parseArgs(argv: string[]): RunArgs | string {
  const out: RunArgs = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const key = (VALUE_OPTS as Record<string, keyof RunArgs>)[flag];
    if (key === undefined) return a.startsWith('-') ? `unknown option ${a}` : `unexpected argument ${a}`;
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') return `${flag} needs a value`;
    out[key] = value;
  }
  return out;
}

/**
 * Resolves when the process gets SIGINT or SIGTERM. SIGHUP (which would otherwise kill the
 * process with its journal open) reloads the configuration once the daemon runs (onHup).
 */
let onHup: (() => void) | null = null;

function untilSignal(logger: Logger): Promise<NodeJS.Signals> {
  const hup = (): void => (onHup !== null ? onHup() : logger.warn('SIGHUP received before the daemon started; ignored'));
  process.on('SIGHUP', hup);
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      process.off('SIGHUP', hup);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/** The lock guards what the daemon manages: the xenstored it was pointed at, or the guests dir. */
function defaultLockPath(host: string, socket: string | undefined, guestsDir: string | null): string {
  if (host === 'xen' && socket !== undefined) return join(dirname(socket), 'memcoop.pid');
  if (host === 'kvm' && guestsDir !== null) return `${guestsDir.replace(/\/+$/, '')}.memcoop.pid`;
  return join(DEFAULT_LOCK_DIR, `${host}.pid`);
}

/** Takes the host's lock, or prints why not (exit 1). */
function lockOrSay(path: string): DaemonLock | null {
  try {
    return acquireLock(path);
  } catch (e) {
    console.error(`memcoop run: ${e instanceof LockHeldError ? e.message : `cannot take the lock ${path}: ${(e as Error).message}`}`);
    return null;
  }
}

export async function run(argv: string[]): Promise<number> {
  return withInspection('run', argv, runCommand);
}

async function runCommand(argv: string[], inspect: Observer<InspectionEvent> | undefined): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  holdYoungGeneration();
  holdOldGeneration();
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    console.error(`memcoop run: ${args}\n\n${USAGE}`);
    return 2;
  }
  let config: DaemonConfig = DEFAULT_DAEMON_CONFIG;
  if (args.config !== undefined) {
    try {
      config = await loadDaemonConfig(args.config);
    } catch (e) {
      console.error(`memcoop run: ${e instanceof InputError ? e.message : `cannot read ${args.config}: ${(e as Error).message}`}`);
      return 2;
    }
  }
  const hostKind = args.host ?? config.host;
  if (!(HOST_KINDS as readonly string[]).includes(hostKind) && hostKind !== 'sim') {
    console.error(`memcoop run: --host must be one of ${[...HOST_KINDS, 'sim'].join(', ')}, got ${JSON.stringify(hostKind)}`);
    return 2;
  }
  if (args.metrics === undefined && config.metricsPort !== null) args.metrics = String(config.metricsPort);
  if (args.metrics !== undefined && !(/^[0-9]{1,5}$/.test(args.metrics) && Number(args.metrics) <= MAX_PORT)) {
    console.error(`memcoop run: --metrics must be a TCP port (0-${MAX_PORT}), got ${JSON.stringify(args.metrics)}`);
    return 2;
  }
  if (hostKind !== 'sim' && (args.scenario !== undefined || args.speed !== undefined)) {
    console.error('memcoop run: --scenario and --speed are for --host sim');
    return 2;
  }
  const journal = args.journal ?? config.journal ?? undefined;
  // Whatever path leaves the daemon, the lock it took goes with it.
  const held: { lock: DaemonLock | null } = { lock: null };
  try {
    return await runHost(args, config, hostKind, journal, held, inspect);
  } finally {
    held.lock?.release();
  }
}

async function runHost(
  args: RunArgs,
  config: DaemonConfig,
  hostKind: string,
  journal: string | undefined,
  held: { lock: DaemonLock | null },
  inspect: Observer<InspectionEvent> | undefined,
): Promise<number> {
  let host: Host;
  let logger: Logger;
  let signal: Promise<NodeJS.Signals>;
  let supervisorConfig: SupervisorConfig = config.supervisor;
  let scheduler: SchedulerLike | undefined;
  let tickMs = config.tickMs;
  let sim: import('./run-sim.ts').LiveSim | null = null;
  if (hostKind === 'sim') {
    const speed = args.speed === undefined ? 1 : Number(args.speed);
    if (!Number.isFinite(speed) || speed <= 0) {
      console.error(`memcoop run: --speed must be a number > 0, got ${JSON.stringify(args.speed)}`);
      return 2;
    }
    held.lock = lockOrSay(args.lock ?? defaultLockPath('sim', undefined, null));
    if (held.lock === null) return 1;
    logger = createLogger({ level: config.logLevel });
    const { liveSim } = await import('./run-sim.ts');
    try {
      sim = liveSim(args.scenario ?? DEFAULT_RUN_SCENARIO, speed, logger);
    } catch (e) {
      console.error(`memcoop run: ${e instanceof InputError ? e.message : `no scenario ${JSON.stringify(args.scenario)}: ${(e as Error).message}`}`);
      return 2;
    }
    signal = untilSignal(logger);
    host = sim.host;
    // The scenario's host: its Dom0 bounds and parameters, its tick, its virtual clock.
    supervisorConfig = sim.config;
    scheduler = sim.clock;
    tickMs = sim.scenario.tickMs;
  } else if (hostKind === 'kvm') {
    const kvm = config.kvm;
    const guestsDir = args.guestsDir ?? kvm.guestsDir;
    if (kvm.poolKiB === null) {
      console.error('memcoop run: --host kvm needs kvm.poolKiB in the config (the memory memcoop may hand to guests; docs/kvm.md)');
      return 2;
    }
    if (guestsDir === null && kvm.guests.length === 0) {
      console.error('memcoop run: --host kvm needs --guests-dir, kvm.guestsDir or kvm.guests in the config');
      return 2;
    }
    held.lock = lockOrSay(args.lock ?? defaultLockPath('kvm', undefined, guestsDir));
    if (held.lock === null) return 1;
    const { KvmHost } = await import('../hosts/kvm/host.ts');
    logger = createLogger({ level: config.logLevel });
    signal = untilSignal(logger);
    host = new KvmHost({
      logger,
      guests: config.guests,
      probeMs: config.tickMs,
      kvm: { ...kvm, guestsDir, poolKiB: kvm.poolKiB },
    });
  } else {
    if (args.guestsDir !== undefined) {
      console.error('memcoop run: --guests-dir is for --host kvm');
      return 2;
    }
    const addon = loadXenAddon();
    if (!addon.ok) {
      console.error(addon.reason);
      return 1;
    }
    // Loaded here: the Xen host and the daemon only once they are needed.
    const { XenHost } = await import('../hosts/xen/host.ts');
    const socket = args.socket ?? config.xen.socket ?? undefined;
    held.lock = lockOrSay(args.lock ?? defaultLockPath('xen', socket, null));
    if (held.lock === null) return 1;
    logger = createLogger({ level: config.logLevel });
    signal = untilSignal(logger); // from now on a signal means a clean stop, not a kill
    try {
      host = await XenHost.open({
        logger,
        guests: config.guests,
        probeMs: config.tickMs,
        standIn: config.xen.standIn,
        ...(socket !== undefined ? { socketPath: socket } : {}),
      });
    } catch (e) {
      console.error(`memcoop run: cannot connect to xenstored: ${(e as Error).message}`);
      return 1;
    }
  }
  const { startDaemon } = await import('../daemon/daemon.ts');
  let daemon;
  try {
    daemon = await startDaemon({
      host,
      config: supervisorConfig,
      logger,
      tickMs,
      ...(scheduler !== undefined ? { scheduler } : {}),
      ...(journal !== undefined ? { journalPath: journal } : {}),
      ...(inspect !== undefined ? { inspect } : {}),
    });
  } catch (e) {
    await host.close().catch(() => {});
    console.error(`memcoop run: the daemon did not start: ${(e as Error).message}`);
    return 1;
  }
  // The control socket and the metrics: a daemon that cannot open what it was asked to serve
  // stops (exit 1) rather than run unobservable.
  const { startControl } = await import('../control/serve.ts');
  const controlPath = args.control ?? config.control ?? defaultControlPath(held.lock!.path);
  let control: import('../control/serve.ts').Control;
  let metrics: import('../control/metrics.ts').Metrics | null = null;
  try {
    control = await startControl({ daemon, path: controlPath, logger, host: hostKind, tickMs });
  } catch (e) {
    await daemon.stop().catch(() => {});
    console.error(`memcoop run: cannot open the control socket ${controlPath}: ${(e as Error).message}`);
    return 1;
  }
  if (args.metrics !== undefined) {
    const { startMetrics } = await import('../control/metrics.ts');
    try {
      metrics = await startMetrics({ observer: control.observer, host, meta: { host: hostKind, tickMs, reservedKiB: () => control.reservations.totalKiB() }, logger, port: Number(args.metrics) });
    } catch (e) {
      await control.close().catch(() => {});
      await daemon.stop().catch(() => {});
      console.error(`memcoop run: cannot serve metrics on 127.0.0.1:${args.metrics}: ${(e as Error).message}`);
      return 1;
    }
  }
  sim?.drive();
  const { notifyReady } = await import('../daemon/notify.ts');
  await notifyReady(logger);
  let inForce = config;
  let reloading = Promise.resolve();
  onHup = () => {
    if (args.config === undefined || hostKind === 'sim') {
      logger.warn(hostKind === 'sim' ? 'SIGHUP: --host sim runs its scenario\'s configuration; nothing to reload' : 'SIGHUP: no --config file to re-read; ignored');
      return;
    }
    const file = args.config;
    // One reload at a time, in the order the signals came.
    reloading = reloading.then(async () => {
      const { reloadConfig } = await import('../daemon/reload.ts');
      inForce = await reloadConfig(file, inForce, daemon, logger);
    }).catch((err: unknown) => logger.error({ err }, 'reload failed; the configuration in force stays'));
  };
  const closeServing = async () => {
    onHup = null;
    await reloading.catch(() => {});
    sim?.stop();
    await metrics?.close().catch(() => {});
    await control.close().catch(() => {});
  };
  // Either a signal asks for a clean stop, or the daemon stops by itself because its inputs
  // failed (exit 1, so a service manager restarts it).
  const outcome = await Promise.race([
    signal.then((sig) => ({ sig })),
    daemon.done.then(
      () => ({ failed: new Error('the supervisor stopped on its own') }),
      (err: unknown) => ({ failed: err }),
    ),
  ]);
  await closeServing();
  if ('failed' in outcome) {
    console.error(`memcoop run: ${(outcome.failed as Error)?.message ?? String(outcome.failed)}`);
    logger.flush?.();
    return 1;
  }
  logger.info({ signal: outcome.sig }, 'stopping');
  await daemon.stop();
  logger.flush?.();
  return 0;
}
