// npx tsx testbed/xen/run.ts [--scenario balance|smoke] [--timeout S] [--single-thread] [--json]
// Builds the nested Xen images, boots them under QEMU TCG, runs the scenario inside Dom0 with no
// one at the keyboard, and prints what happened: boot times, the workload under memcoop and
// under the static allocation, memory moved. Results stay in out/testbed/xen/run-<scenario>/.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { boot, type BootResult } from './boot.ts';
import { buildImages, describe, OUT } from './images.ts';
import { analyse, formatReport, type NestedReport } from './results.ts';
import { SCENARIOS, type Scenario } from './scenario.ts';

export interface NestedRunOptions {
  timeoutS?: number;
  tcgThreads?: 'multi' | 'single';
  log?: (m: string) => void;
}

export interface NestedRun {
  scenario: Scenario;
  boot: BootResult;
  report: NestedReport;
  agent: 'c' | 'shell';
}

/**
 * QEMU is killed after this long by default. The balance scenario took 20 min on this 2-core
 * machine at load average 10-17 (other QEMUs beside it; measured).
 */
export const DEFAULT_TIMEOUT_S = 1500;
/** Dom0's watchdog fires this long before QEMU's timeout (Dom0 boots ~30 s after QEMU starts). */
const DOM0_MARGIN_S = 200;

export async function runNested(name: string, opts: NestedRunOptions = {}): Promise<NestedRun> {
  const s = SCENARIOS[name];
  if (!s) throw new Error(`unknown scenario ${JSON.stringify(name)} (known: ${Object.keys(SCENARIOS).join(', ')})`);
  const log = opts.log ?? ((m: string) => console.error(`[nested-xen] ${m}`));
  const timeoutS = opts.timeoutS ?? DEFAULT_TIMEOUT_S;
  // Dom0 starts ~40 s after QEMU; it stops itself a minute before QEMU is killed.
  // One directory per run (pid): a second run at the same time must not clobber this one.
  const dir = join(OUT, `run-${s.name}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  const images = await buildImages(s, join(dir, 'build'), Math.max(60, timeoutS - 100), log);
  log(`images: ${describe(images)}; results in ${dir}`);
  const b = await boot(s, images, dir, { timeoutS, tcgThreads: opts.tcgThreads ?? 'multi', smp: 2 }, log);
  const report = analyse(s, b);
  return { scenario: s, boot: b, report, agent: images.agent };
}

async function main(argv: string[]): Promise<number> {
  let scenario = 'balance';
  let timeoutS = DEFAULT_TIMEOUT_S;
  let single = false;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--scenario') scenario = argv[++i] ?? '';
    else if (a === '--timeout') timeoutS = Number(argv[++i]);
    else if (a === '--single-thread') single = true;
    else if (a === '--json') json = true;
    else if (a === '--help') {
      console.log('usage: npx tsx testbed/xen/run.ts [--scenario balance|smoke] [--timeout S] [--single-thread] [--json]');
      return 0;
    } else {
      console.error(`run: unknown option ${a}`);
      return 2;
    }
  }
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
    console.error('run: --timeout needs a positive number of seconds');
    return 2;
  }
  try {
    const r = await runNested(scenario, { timeoutS, tcgThreads: single ? 'single' : 'multi' });
    console.log(formatReport(r.scenario, r.boot, r.report));
    if (json) console.log(JSON.stringify(r.report));
    return r.boot.timedOut || !r.report.complete ? 1 : 0;
  } catch (e) {
    console.error(`run: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main(process.argv.slice(2));
