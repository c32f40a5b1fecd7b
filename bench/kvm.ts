// npm run bench:kvm [-- --json] [--trials N] [--quick] [--experiments a,b] [--policies a,b] [--trial-timeout S]
// The paper's experiments on real Linux guests under QEMU (testbed/, docs/testbed.md): each
// experiment under static allocation (the initial split, held), every daemon policy through the
// real daemon (`memcoop run --host kvm`, supervisor.policy = memcoop, selfballoon, qmemman,
// squeezed, mom) and unlimited memory (every guest at its boot size). Fresh guests per trial,
// the same workload seeds; trials interleaved (static, memcoop, peers..., unlimited, static, ...)
// because the same static trial varies 2x on a loaded 2-core box. Table on stdout and in
// out/bench/kvm-<time>.txt, an SVG of balloon sizes per experiment and policy, JSON with --json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { buildInitramfs } from '../testbed/initramfs.ts';
import { chooseAccel } from '../testbed/accel.ts';
import { median, quantile } from './stats.ts';
import { allocationSvg } from './kvm-svg.ts';
import { runTrial, type Experiment, type PolicyRun, type TrialResult } from './kvm-trial.ts';
import { MIB } from '../src/vocabulary/units.ts';

const REPO = resolve(import.meta.dirname, '..');
/** A trial's workloads are cut off after this long (s): static quick trials took ~45 s here, full
 * ones minutes; a policy that leaves a guest thrashing would otherwise hold the benchmark for hours. */
const QUICK_TIMEOUT_S = 300;
const FULL_TIMEOUT_S = 1800;
/** The paper's minimum trials per configuration. */
const DEFAULT_TRIALS = 3;
export const POLICY_ORDER: PolicyRun[] = ['static', 'memcoop', 'selfballoon', 'qmemman', 'squeezed', 'mom', 'unlimited'];
/** mono's cycle 32 -> 256 -> 32 MiB in 32 MiB steps has 15 steps; 7 starts it at the top. */
const MONO_HALF_CYCLE = 7;
/** The least guest minimum the daemon accepts (64 MiB): the 4-guest pool cannot fund 4 x 128 MiB usable. */
const FOUR_GUEST_MIN_KIB = 64 * MIB;
/** The daemon's default guest minimum (128 MiB, the paper's smallest allocation). */
const DEFAULT_MIN_KIB = 128 * MIB;

/**
 * Phase lengths: under TCG a balloon gives memory back at 30-40 MiB/s and moving ~320 MiB between
 * two guests takes 8 s or more (measured here), so each working-set phase must last tens of
 * seconds. `passes` (writes of every page per step) sets that length: at full memory a pass over
 * 1 MiB costs ~0.5 ms in these guests, so mono with 24 passes spends ~14 s going up.
 */
function experiments(quick: boolean): Experiment[] {
  const passes = quick ? 6 : 24;
  const rounds = quick ? 1 : 2;
  const mono = (phase: number) => ['32', '256', '32', passes, rounds, phase];
  const two = (id: string, title: string, a: [string, (string | number)[]], b: [string, (string | number)[]]): Experiment => ({
    id, title, poolMiB: 640, minKiB: DEFAULT_MIN_KIB,
    guests: [
      { name: 'vm1', maxMiB: 512, initialMiB: 320, program: a[0], args: a[1] },
      { name: 'vm2', maxMiB: 512, initialMiB: 320, program: b[0], args: b[1] },
    ],
  });
  return [
    two('mem-mem-out', 'memory + memory, out of phase', ['mono', mono(0)], ['mono', mono(MONO_HALF_CYCLE)]),
    two('mem-mem-in', 'memory + memory, in phase', ['mono', mono(0)], ['mono', mono(0)]),
    two('compute-mem', 'compute + memory', ['compute', [quick ? 3000 : 15000]], ['mono', mono(0)]),
    {
      id: 'four', title: 'four guests, 128 MiB initial, 256 MiB maximum', poolMiB: 512, minKiB: FOUR_GUEST_MIN_KIB,
      guests: [1, 2, 3, 4].map((i) => ({
        name: `vm${i}`, maxMiB: 256, initialMiB: 128, program: 'random',
        // quick: working sets up to 96 MiB (a 128 MiB balloon leaves ~73 MiB usable; with 160 a
        // static quick trial did not finish in 240 s on the loaded build machine)
        args: [i, quick ? 8 : 20, 16, quick ? 96 : 160, passes],
      })),
    },
  ];
}

interface Args { json: boolean; trials: number; quick: boolean; experiments?: string[]; policies: PolicyRun[]; timeoutS?: number }

function parseArgs(argv: string[]): Args {
  const a: Args = { json: false, trials: DEFAULT_TRIALS, quick: false, policies: POLICY_ORDER };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i]!;
    if (v === '--json') a.json = true;
    else if (v === '--quick') a.quick = true;
    else if (v === '--trials') a.trials = Number(argv[++i]);
    else if (v === '--experiments') a.experiments = (argv[++i] ?? '').split(',');
    else if (v === '--trial-timeout') a.timeoutS = Number(argv[++i]);
    else if (v === '--policies') a.policies = (argv[++i] ?? '').split(',') as PolicyRun[];
    else throw new Error(`unknown option ${v}`);
  }
  if (!Number.isInteger(a.trials) || a.trials < 1) throw new Error('--trials needs a positive integer');
  for (const p of a.policies) if (!POLICY_ORDER.includes(p)) throw new Error(`unknown policy ${p} (${POLICY_ORDER.join(', ')})`);
  return a;
}

interface Row {
  experiment: string; policy: PolicyRun; guest: string; program: string; trials: number;
  medianS: number; minS: number; maxS: number; vsStatic: number; vsUnlimited: number;
  pswpin: number; pgmajfault: number; oomKills: number; failed: number;
  /** Trials cut off before this guest's workload ended: its time there counts as the cut-off (a lower bound). */
  censored: number;
}

/**
 * The most the guests' balloons held together in a trial (MiB), from the 1 s samples: a policy
 * that goes above the pool used memory the others were not given. Here nothing stops it (no
 * memory cgroup under cgroup v1: testbed/cgroup.ts), so the table shows it instead.
 */
export function peakBalloonsMiB(samples: Record<string, [number, number][]>): number {
  const series = Object.values(samples);
  const n = Math.min(...series.map((s) => s.length));
  let peak = 0;
  for (let i = 0; i < n; i++) peak = Math.max(peak, series.reduce((sum, s) => sum + s[i]![1], 0));
  return series.length === 0 || !Number.isFinite(n) ? NaN : peak;
}

/** A trial that finished, or one cut off with its finished and censored times. */
const usable = (r: TrialResult): boolean => !r.error || r.guests.length > 0;

function summarize(results: TrialResult[]): Row[] {
  const rows: Row[] = [];
  const key = (r: TrialResult) => `${r.experiment}/${r.policy}`;
  const groups = new Map<string, TrialResult[]>();
  for (const r of results) groups.set(key(r), [...(groups.get(key(r)) ?? []), r]);
  const med = (exp: string, pol: PolicyRun, guest: string): number => {
    const ms = (groups.get(`${exp}/${pol}`) ?? []).filter(usable).map((r) => r.guests.find((g) => g.name === guest)?.ms ?? NaN).filter(Number.isFinite);
    return median(ms);
  };
  for (const [, rs] of groups) {
    const ok = rs.filter(usable);
    const names = ok[0]?.guests.map((g) => g.name) ?? [];
    for (const name of names) {
      const gs = ok.map((r) => r.guests.find((g) => g.name === name)!);
      const ms = gs.map((g) => g.ms);
      const m = median(ms);
      const r0 = rs[0]!;
      rows.push({
        experiment: r0.experiment, policy: r0.policy, guest: name, program: gs[0]!.program, trials: ok.length,
        medianS: m / 1000, minS: Math.min(...ms) / 1000, maxS: Math.max(...ms) / 1000,
        vsStatic: m / med(r0.experiment, 'static', name), vsUnlimited: m / med(r0.experiment, 'unlimited', name),
        pswpin: median(gs.map((g) => g.pswpin).filter(Number.isFinite)), pgmajfault: median(gs.map((g) => g.pgmajfault).filter(Number.isFinite)),
        oomKills: gs.reduce((s, g) => s + g.oomKills, 0), failed: rs.length - ok.length, censored: gs.filter((g) => g.censored).length,
      });
    }
    if (ok.length === 0) {
      const r0 = rs[0]!;
      rows.push({ experiment: r0.experiment, policy: r0.policy, guest: '-', program: '-', trials: 0, medianS: NaN, minS: NaN, maxS: NaN, vsStatic: NaN, vsUnlimited: NaN, pswpin: NaN, pgmajfault: NaN, oomKills: 0, failed: rs.length, censored: 0 });
    }
  }
  return rows;
}

function lagLine(results: TrialResult[], exp: string, pol: PolicyRun): string {
  const rs = results.filter((r) => r.experiment === exp && r.policy === pol && r.lag);
  if (rs.length === 0) return '-';
  const landed = rs.flatMap((r) => r.lag!.landedMs);
  const over = rs.reduce((s, r) => s + r.lag!.overtaken, 0);
  const writes = rs.reduce((s, r) => s + r.targetWrites, 0);
  return `${writes} writes, landed ${landed.length} p50 ${fmt(quantile(landed, 0.5) / 1000, 1)} s p90 ${fmt(quantile(landed, 0.9) / 1000, 1)} s, overtaken ${over}`;
}

const fmt = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '-');

function table(rows: Row[], results: TrialResult[], exps: Experiment[], accel: string, args: Args): string {
  const out: string[] = [];
  out.push(`bench:kvm  accel ${accel}  trials ${args.trials}${args.quick ? '  (quick)' : ''}  runtime = guest wall time of the workload, s (median [min-max]; "Ncut": N trials cut off at the trial timeout, counted at the cut-off, so the median is a lower bound)`);
  for (const e of exps) {
    out.push('', `${e.id}: ${e.title}; pool ${e.poolMiB} MiB, guests ${e.guests.map((g) => `${g.name} ${g.program} ${g.initialMiB}/${g.maxMiB} MiB`).join(', ')}`);
    out.push(`${'policy'.padEnd(12)}${'guest'.padEnd(6)}${'program'.padEnd(9)}${'runtime s'.padStart(22)}${'/static'.padStart(9)}${'/unlim'.padStart(8)}${'swapin'.padStart(9)}${'majflt'.padStart(9)}${'oom'.padStart(5)}  lag`);
    for (const p of args.policies) {
      for (const r of rows.filter((x) => x.experiment === e.id && x.policy === p)) {
        const rt = `${r.censored > 0 ? `${r.censored}cut ` : ''}${fmt(r.medianS, 1)} [${fmt(r.minS, 1)}-${fmt(r.maxS, 1)}]`;
        out.push(`${p.padEnd(12)}${r.guest.padEnd(6)}${r.program.padEnd(9)}${rt.padStart(22)}${fmt(r.vsStatic).padStart(9)}${fmt(r.vsUnlimited).padStart(8)}${fmt(r.pswpin, 0).padStart(9)}${fmt(r.pgmajfault, 0).padStart(9)}${String(r.oomKills).padStart(5)}  ${r.guest === 'vm1' ? lagLine(results, e.id, p) : ''}${r.failed ? `  (${r.failed} failed)` : ''}`);
      }
    }
  }
  out.push('', 'peak of the guests\' balloons together, MiB (max over trials; above the pool: the policy used memory the others were not given):');
  for (const e of exps) {
    const peaks = args.policies.map((p) => {
      const ps = results.filter((r) => r.experiment === e.id && r.policy === p).map((r) => peakBalloonsMiB(r.samples)).filter(Number.isFinite);
      const m = ps.length ? Math.max(...ps) : NaN;
      return `${p} ${fmt(m, 0)}${m > e.poolMiB + 1 ? ' (OVER)' : ''}`;
    });
    out.push(`  ${e.id} (pool ${e.poolMiB}): ${peaks.join(', ')}`);
  }
  out.push('', 'total runtime (sum of the guests\' median runtimes) against static and against the best peer:');
  for (const e of exps) {
    const total = (p: PolicyRun) => rows.filter((x) => x.experiment === e.id && x.policy === p).reduce((s, x) => s + x.medianS, 0);
    const peers = args.policies.filter((p) => !['static', 'memcoop', 'unlimited'].includes(p));
    const best = peers.length ? Math.min(...peers.map(total).filter(Number.isFinite)) : NaN;
    const parts = args.policies.map((p) => `${p} ${fmt(total(p), 1)} s (${fmt(total(p) / total('static'))})`);
    out.push(`  ${e.id}: ${parts.join(', ')}; memcoop / best peer ${fmt(total('memcoop') / best)}`);
  }
  const errors = results.filter((r) => r.error);
  if (errors.length) out.push('', 'failed trials:', ...errors.map((r) => `  ${r.experiment}/${r.policy}#${r.trial}: ${r.error}`));
  return out.join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const qemu = spawnSync('qemu-system-x86_64', ['--version']);
  if (qemu.error || qemu.status !== 0) throw new Error('qemu-system-x86_64 cannot run here (install qemu-system-x86)');
  const build = spawnSync(process.execPath, [join(REPO, 'scripts', 'build-workloads.mjs')], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`build:workloads failed: ${build.stderr.trim().split('\n').pop()}`);
  const initramfs = await buildInitramfs();
  if (!initramfs.agent) console.error(`bench:kvm: no agent in the guests (${initramfs.agentMissing}): the daemon policies see no Committed_AS`);
  const exps = experiments(args.quick).filter((e) => !args.experiments || args.experiments.includes(e.id));
  if (exps.length === 0) throw new Error('no experiment selected (mem-mem-out, mem-mem-in, compute-mem, four)');
  const accel = chooseAccel();
  const outDir = join(REPO, 'out', 'bench');
  mkdirSync(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const results: TrialResult[] = [];
  for (const e of exps) {
    for (let t = 1; t <= args.trials; t++) {
      for (const p of args.policies) {
        const started = Date.now();
        const r = await runTrial(e, p, t, initramfs, (args.timeoutS ?? (args.quick ? QUICK_TIMEOUT_S : FULL_TIMEOUT_S)) * 1000);
        results.push(r);
        const times = r.guests.map((g) => `${g.name} ${(g.ms / 1000).toFixed(1)} s`).join(', ');
        console.error(`bench:kvm: ${e.id} ${p} #${t}: ${r.error ? `FAILED ${r.error}` : times} (trial ${((Date.now() - started) / 1000).toFixed(0)} s)`);
        if (t === 1 && Object.keys(r.samples).length > 0) {
          const series = Object.entries(r.samples).map(([name, pts]) => ({ name, points: pts.map(([s, mib]) => ({ t: s, mib })) }));
          writeFileSync(join(outDir, `kvm-${stamp}-${e.id}-${p}.svg`), allocationSvg(`${e.title}: ${p} (balloon sizes)`, series, e.poolMiB));
        }
      }
    }
  }
  const rows = summarize(results);
  const text = table(rows, results, exps, `${accel.kind} (${accel.reason})`, args);
  console.log(text);
  writeFileSync(join(outDir, `kvm-${stamp}.txt`), text + '\n');
  writeFileSync(join(outDir, `kvm-${stamp}.json`), JSON.stringify({ accel: accel.kind, args, rows, trials: results }) + '\n');
  console.error(`bench:kvm: table, JSON and SVGs in out/bench/kvm-${stamp}*`);
  if (args.json) console.log(JSON.stringify({ bench: 'kvm', accel: accel.kind, quick: args.quick, trials: args.trials, rows }));
}

main().catch((e: Error) => {
  console.error(`bench:kvm: ${e.message}`);
  process.exit(1);
});
