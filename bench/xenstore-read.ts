// npm run bench:xenstore-read [-- --json] (or tsx bench/xenstore-read.ts [--json] [--daemon oxenstored|cxenstored|both])
// XenStore read round trips against a real xenstored fixture (testbed/xenstored-fixture.ts):
// through memcoop's addon (one awaited read at a time) next to the `xenstore-read` command
// (spawned, XENSTORED_PATH set), in the same run. Median microseconds each; also how long each
// daemon took from spawn to its first answer. measureXsRead() is reused by bench:xen.
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { loadXenAddon } from '../src/hosts/xen/addon.ts';
import { openXenStore } from '../src/hosts/xen/xenstore.ts';
import { startXenstored, xenstoredUnavailable, type XenstoredKind } from '../testbed/xenstored-fixture.ts';
import { median } from './stats.ts';

/** Reads through the addon per daemon: enough for a stable median at ~30-40 us each. */
const ADDON_SAMPLES = 5000;
/** Reads first discarded (thread pool start, JIT). */
const ADDON_WARMUP = 500;
/** Spawns of xenstore-read per daemon (each costs a process start, a few ms). */
const CLI_SAMPLES = 200;
const CLI_WARMUP = 10;
const XENSTORE_READ = 'xenstore-read';
const BENCH_KEY = '/memcoop-bench/xs-read';
/** A value the size of a memcoop agent report line (order of magnitude). */
const BENCH_VALUE = 'v1 1712345678901 committed=524288 free=131072 swapTotal=0 swapFree=0';

export interface XsReadResult {
  /** Median microseconds per read through the addon. */
  addon: number;
  /** Median microseconds per `xenstore-read` run (process start included). */
  cli: number;
}

/** Both medians against a running xenstored at socketPath. Writes BENCH_KEY. */
export async function measureXsRead(
  socketPath: string,
  opts: { addonSamples?: number; cliSamples?: number } = {},
): Promise<XsReadResult> {
  const addonSamples = opts.addonSamples ?? ADDON_SAMPLES;
  const cliSamples = opts.cliSamples ?? CLI_SAMPLES;
  const xs = await openXenStore({ socketPath, socketOnly: true });
  try {
    await xs.write(BENCH_KEY, BENCH_VALUE);
    const addonUs: number[] = [];
    for (let i = 0; i < ADDON_WARMUP + addonSamples; i++) {
      const t0 = performance.now();
      const v = await xs.read(BENCH_KEY);
      const dt = (performance.now() - t0) * 1000;
      if (v !== BENCH_VALUE) throw new Error(`addon read returned ${JSON.stringify(v)}`);
      if (i >= ADDON_WARMUP) addonUs.push(dt);
    }
    const cliUs: number[] = [];
    const env = { ...process.env, XENSTORED_PATH: socketPath };
    for (let i = 0; i < CLI_WARMUP + cliSamples; i++) {
      const t0 = performance.now();
      const r = spawnSync(XENSTORE_READ, [BENCH_KEY], { env, encoding: 'utf8' });
      const dt = (performance.now() - t0) * 1000;
      if (r.status !== 0 || r.stdout.trim() !== BENCH_VALUE) {
        throw new Error(`${XENSTORE_READ} failed (${r.status}): ${r.stderr || r.error?.message}`);
      }
      if (i >= CLI_WARMUP) cliUs.push(dt);
    }
    return { addon: median(addonUs), cli: median(cliUs) };
  } finally {
    await xs.close();
  }
}

interface Row extends XsReadResult {
  daemon: XenstoredKind;
  startMs: number;
}

/** `--daemon oxenstored|cxenstored|both` (default both); empty for anything else. */
export function daemonKinds(argv: readonly string[]): XenstoredKind[] {
  const di = argv.indexOf('--daemon');
  const which = di >= 0 ? argv[di + 1] : 'both';
  return which === 'both' ? ['oxenstored', 'cxenstored'] : which === 'oxenstored' || which === 'cxenstored' ? [which] : [];
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const kinds = daemonKinds(argv);
  if (kinds.length === 0 || argv.includes('--help')) {
    console.error('usage: tsx bench/xenstore-read.ts [--json] [--daemon oxenstored|cxenstored|both]');
    return 2;
  }
  const addon = loadXenAddon();
  const why = !addon.ok ? addon.reason : kinds.map(xenstoredUnavailable).find((w) => w !== null);
  if (why) {
    console.log(`xenstore-read bench skipped: ${why}`);
    if (json) console.log(JSON.stringify({ xsReadUs: null, skipped: why }));
    return 0;
  }

  const rows: Row[] = [];
  for (const daemon of kinds) {
    const fx = await startXenstored(daemon);
    try {
      const startMs = fx.startMs;
      rows.push({ daemon, startMs, ...(await measureXsRead(fx.socketPath)) });
    } finally {
      await fx.stop();
    }
  }

  console.log(`XenStore read round trip, median of ${ADDON_SAMPLES} (addon) and ${CLI_SAMPLES} (${XENSTORE_READ}) reads`);
  console.log('daemon       start ms   addon us   xenstore-read us   ratio');
  for (const r of rows) {
    console.log(
      `${r.daemon.padEnd(12)} ${r.startMs.toFixed(1).padStart(8)}   ${r.addon.toFixed(1).padStart(8)}   ` +
        `${r.cli.toFixed(0).padStart(16)}   ${(r.cli / r.addon).toFixed(0).padStart(5)}x`,
    );
  }
  const first = rows[0]!;
  if (json) {
    const round = (x: number) => Math.round(x * 10) / 10;
    console.log(
      JSON.stringify({
        xsReadUs: { addon: round(first.addon), cli: round(first.cli) },
        daemon: first.daemon,
        daemons: rows.map((r) => ({ daemon: r.daemon, startMs: round(r.startMs), addonUs: round(r.addon), cliUs: round(r.cli) })),
      }),
    );
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
