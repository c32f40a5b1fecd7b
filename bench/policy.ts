// npm run bench:policy [-- --json]
// Median time per solve of the equal-price balance at 10 to 10,000 guests: memcoop's
// (breakpoint search, src/policy/clamp-sum.ts) side by side, in the same run on the same inputs,
// with the paper's (the n x n system of its equation (3) by Gaussian elimination, re-solved after
// clamping: bench/paper-elimination.ts). Also the whole decide() per tick at each size, for
// scale, and decide() with its trace on (what `memcoop explain` asks for; the tick leaves it off). Goal (issue 2): 10,000 guests under 2 ms.
import { performance } from 'node:perf_hooks';
import { balance, type BalanceGuest } from '../src/policy/balance.ts';
import { decide, DEFAULT_PARAMS } from '../src/policy/decide.ts';
import type { DecideInput } from '../src/policy/types.ts';
import { paperBalance } from './paper-elimination.ts';
import { rng } from '../src/hosts/sim/rng.ts';
import { MIB } from '../src/vocabulary/units.ts';

const SIZES = [10, 100, 1000, 10000];
/** Wall time allowed for the paper's method at one size (all its repetitions together). */
const PAPER_BUDGET_MS = 10_000;
/** The paper's matrix is n*n doubles; past this it is not worth allocating. */
const PAPER_MAX_MATRIX_BYTES = 512 * 1024 * 1024;
/** Each measurement repeats until this much time has passed (and at least MIN_REPS times). */
const TARGET_MS = 300;
const MIN_REPS = 5;
const MAX_REPS = 2000;
const GOAL_MS_AT_10K = 2;
const SEED = 20110512;


const pages = (kib: number) => Math.floor(kib / 4) * 4;

/** n guests of 64-256 MiB minimum and up to 1 GiB more; active memory, swap use vary. */
function makeHost(n: number): { guests: BalanceGuest[]; M: number; input: DecideInput } {
  const r = rng(SEED + n);
  const guests: BalanceGuest[] = [];
  const raw: DecideInput['guests'] = [];
  let sumL = 0;
  let sumH = 0;
  for (let i = 0; i < n; i++) {
    const min = pages((64 + 192 * r()) * MIB);
    const max = min + pages(1024 * MIB * r());
    const current = min + pages((max - min) * r());
    const free = pages(current * r() * 0.5);
    const swapTotal = r() < 0.5 ? 0 : 512 * MIB;
    const swapFree = pages(swapTotal * r());
    guests.push({
      minKiB: min,
      maxKiB: max,
      activeKiB: current - free,
      swapUsed: swapTotal === 0 ? 0 : 1 - swapFree / swapTotal,
      shares: 1,
    });
    raw.push({
      id: `g${i}`,
      minKiB: min,
      maxKiB: max,
      currentKiB: current,
      committedKiB: max,
      freeKiB: free,
      swapTotalKiB: swapTotal,
      swapFreeKiB: swapFree,
      shares: 1,
      agent: true,
    });
    sumL += min;
    sumH += max;
  }
  const M = sumL + pages((sumH - sumL) * 0.4);
  const input: DecideInput = {
    params: DEFAULT_PARAMS,
    host: { freeKiB: DEFAULT_PARAMS.reserveKiB + 64 * MIB },
    dom0: { currentKiB: 1024 * MIB, committedKiB: 1024 * MIB, minKiB: 512 * MIB, maxKiB: 4096 * MIB },
    guests: raw,
  };
  return { guests, M, input };
}

/** Median ms per call of f, repeated for about budgetMs; the last result is returned too. */
function measure<T>(f: () => T, budgetMs: number, minReps = MIN_REPS): { medianMs: number; reps: number; last: T } {
  const w0 = performance.now();
  let last = f(); // warm-up (JIT), untimed unless one call is too slow to repeat
  const warmMs = performance.now() - w0;
  if (warmMs * minReps > budgetMs) return { medianMs: warmMs, reps: 1, last };
  const times: number[] = [];
  const start = performance.now();
  while (times.length < MAX_REPS && (times.length < minReps || performance.now() - start < budgetMs)) {
    const t0 = performance.now();
    last = f();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  const medianMs = times.length % 2 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
  return { medianMs, reps: times.length, last };
}

interface Row {
  guests: number;
  medianMs: number;
  decideMs: number;
  traceMs: number;
  paperMedianMs: number | null;
  maxDiffKiB: number | null;
  note: string;
}

const json = process.argv.includes('--json');
const { tau, eps } = DEFAULT_PARAMS;
const rows: Row[] = [];
let lastPaper: { n: number; ms: number } | null = null;

for (const n of SIZES) {
  const { guests, M, input } = makeHost(n);
  const ours = measure(() => balance(guests, M, tau, eps), TARGET_MS);
  const whole = measure(() => decide(input), TARGET_MS);
  const traced = measure(() => decide({ ...input, trace: true }), TARGET_MS);

  let paperMedianMs: number | null = null;
  let maxDiffKiB: number | null = null;
  let note = '';
  const matrixBytes = n * n * 8;
  const predictedMs = lastPaper ? lastPaper.ms * (n / lastPaper.n) ** 3 : 0;
  if (matrixBytes > PAPER_MAX_MATRIX_BYTES) {
    note = `paper skipped: its ${n}x${n} matrix needs ${(matrixBytes / 2 ** 20).toFixed(0)} MiB`;
    if (predictedMs > 0) note += ` and one solve would take ~${(predictedMs / 1000).toFixed(0)} s (cubic from ${lastPaper!.n})`;
  } else if (predictedMs > PAPER_BUDGET_MS) {
    note = `paper skipped: one solve would take ~${(predictedMs / 1000).toFixed(0)} s > ${PAPER_BUDGET_MS / 1000} s budget`;
  } else {
    const paper = measure(() => paperBalance(guests, M, tau, eps), Math.min(TARGET_MS * 10, PAPER_BUDGET_MS), 3);
    paperMedianMs = paper.medianMs;
    lastPaper = { n, ms: paper.medianMs };
    maxDiffKiB = 0;
    for (let i = 0; i < n; i++) maxDiffKiB = Math.max(maxDiffKiB, Math.abs(paper.last[i]! - ours.last.nt[i]!));
  }
  rows.push({ guests: n, medianMs: ours.medianMs, decideMs: whole.medianMs, traceMs: traced.medianMs, paperMedianMs, maxDiffKiB, note });
}

const fmt = (ms: number | null) => (ms === null ? '-' : ms < 1 ? ms.toFixed(4) : ms.toFixed(2));
const header = ['guests', 'balance ms', 'decide ms', 'decide+trace ms', 'paper ms', 'paper/ours', 'max |diff| KiB'];
const lines = rows.map((r) => [
  String(r.guests),
  fmt(r.medianMs),
  fmt(r.decideMs),
  fmt(r.traceMs),
  fmt(r.paperMedianMs),
  r.paperMedianMs === null ? '-' : `${Math.round(r.paperMedianMs / r.medianMs)}x`,
  r.maxDiffKiB === null ? '-' : r.maxDiffKiB.toExponential(1),
]);
const widths = header.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c]!.length)));
const show = (cells: string[]) => cells.map((s, c) => s.padStart(widths[c]!)).join('  ');
console.log('equal-price balance, median per solve (memcoop: breakpoint search; paper: eq. (3) by elimination)');
console.log(show(header));
for (const l of lines) console.log(show(l));
for (const r of rows) if (r.note) console.log(`${r.guests} guests: ${r.note}`);
const at10k = rows.find((r) => r.guests === 10000);
if (at10k) {
  const ok = at10k.medianMs < GOAL_MS_AT_10K;
  console.log(`goal: 10,000 guests under ${GOAL_MS_AT_10K} ms per balance: ${fmt(at10k.medianMs)} ms, ${ok ? 'met' : 'NOT met'}`);
}
if (json) {
  console.log(
    JSON.stringify({ rows: rows.map((r) => ({ guests: r.guests, medianMs: r.medianMs, decideMs: r.decideMs, traceMs: r.traceMs, paperMedianMs: r.paperMedianMs })) }),
  );
}
