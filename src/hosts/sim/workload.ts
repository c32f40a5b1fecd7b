// Workloads: each is a finite list of phases, generated deterministically from its spec and
// seed. A phase holds an anonymous working set and a file working set, and has work to do:
// page touches (memory-bound, slowed by faults) and CPU time (not). The workload's runtime in
// virtual time is what policies are compared on.
import { MIB, PAGE_KIB, PAGE_TOUCH_NS } from './constants.ts';
import { rng } from './rng.ts';

export interface Phase {
  label: string;
  /** Anonymous memory the phase touches (its working set). */
  anonKiB: number;
  /** File pages it reads again and again (kept in page cache if there is room). */
  fileKiB: number;
  /** Committed beyond the working set (a JVM's reserved heap, a compiler's arenas). */
  reservedKiB: number;
  /** Page touches spread evenly over anon + file pages. */
  touches: number;
  /** CPU time that does not depend on memory. */
  cpuMs: number;
}

export interface Workload {
  name: string;
  phases: Phase[];
}

export interface MonoSpec {
  kind: 'mono'; lowMiB: number; highMiB: number; stepMiB: number; passes: number;
  /** Rotates the cycle by this many steps, as the real mono's phase_steps does (7 of 15 starts at the top). */
  phaseSteps?: number;
}
export interface RandomSpec {
  kind: 'random';
  lowMiB: number;
  highMiB: number;
  phases: number;
  /** Page touches per phase (the program's fixed iteration count). */
  touchesPerPhase: number;
  /** CPU per phase besides the touches (the program's own arithmetic per iteration). */
  cpuMsPerPhase: number;
  seed: number;
}
export interface ComputeSpec { kind: 'compute'; cpuS: number; memMiB: number; iterations: number }
export interface DacapoSpec { kind: 'dacapo'; reverse: boolean; seed: number }
export interface KernelBuildSpec {
  kind: 'kernel-build';
  seed: number;
  /** make -j: compilers running at once (default 1, the paper's reading). */
  jobs?: number;
  /**
   * Share of each phase's time spent on memory and page cache (default 0.02, link 0.04): with a
   * cold cache a build re-reads sources and headers from disk, which is what a deficit slows.
   */
  memShare?: number;
}
/**
 * A JVM started with -Xms = -Xmx (the usual server setting): the whole heap is committed at start
 * (Committed_AS counts it) while the program touches far less, growing into it phase by phase.
 */
export interface JvmSpec {
  kind: 'jvm';
  xmxMiB: number;
  /** Live heap touched in the first phase, and in the last. */
  startMiB: number;
  peakMiB: number;
  phases: number;
  /** Base time of each phase with memory to spare. */
  phaseS: number;
  /** Share of that time spent in GC and allocation (what a deficit slows). */
  memShare: number;
  seed: number;
}
/** A guest that commits much and touches little (an idle application server), for `seconds`. */
export interface IdleCommitSpec { kind: 'idle-commit'; commitMiB: number; touchMiB: number; seconds: number }
export interface IdleSpec { kind: 'idle' }
export interface SequenceSpec { kind: 'sequence'; parts: WorkloadSpec[] }

export type WorkloadSpec = MonoSpec | RandomSpec | ComputeSpec | DacapoSpec | KernelBuildSpec | JvmSpec | IdleCommitSpec | IdleSpec | SequenceSpec;
export const WORKLOAD_KINDS = ['mono', 'random', 'compute', 'dacapo', 'kernel-build', 'jvm', 'idle-commit', 'idle', 'sequence'] as const;

const pages = (kib: number): number => Math.floor(kib / PAGE_KIB);

/** Touches that take `ms` of memory-bound time when nothing faults. */
function touchesFor(ms: number): number {
  return Math.round((ms * 1e6) / PAGE_TOUCH_NS);
}

/** The paper's mono: size low -> high -> low in steps, `passes` random touches per page at each. */
export function mono(s: MonoSpec): Workload {
  const sizes: number[] = [];
  for (let w = s.lowMiB; w < s.highMiB; w += s.stepMiB) sizes.push(w);
  sizes.push(s.highMiB);
  for (let w = s.highMiB - s.stepMiB; w >= s.lowMiB; w -= s.stepMiB) sizes.push(w);
  const shift = (s.phaseSteps ?? 0) % sizes.length;
  if (shift > 0) sizes.push(...sizes.splice(0, shift));
  return {
    name: `mono ${s.lowMiB}->${s.highMiB}->${s.lowMiB} MiB`,
    phases: sizes.map((w) => ({
      label: `mono ${w} MiB`,
      anonKiB: w * MIB,
      fileKiB: 0,
      reservedKiB: 0,
      touches: s.passes * pages(w * MIB),
      cpuMs: 0,
    })),
  };
}

/** The paper's random: a random size in [low, high] (whole MiB) each phase, a fixed number of touches. */
export function random(s: RandomSpec): Workload {
  const r = rng(s.seed);
  const phases: Phase[] = [];
  for (let i = 0; i < s.phases; i++) {
    const w = s.lowMiB + Math.floor(r() * (s.highMiB - s.lowMiB + 1));
    phases.push({ label: `random ${w} MiB`, anonKiB: w * MIB, fileKiB: 0, reservedKiB: 0, touches: s.touchesPerPhase, cpuMs: s.cpuMsPerPhase });
  }
  return { name: `random ${s.lowMiB}..${s.highMiB} MiB`, phases };
}

/** CPU-bound (a stand-in for SPEC CPU2000 186.crafty: a chess engine with a ~2 MiB hash). */
export function compute(s: ComputeSpec): Workload {
  const phases: Phase[] = [];
  for (let i = 0; i < s.iterations; i++) {
    phases.push({ label: `compute ${i + 1}`, anonKiB: s.memMiB * MIB, fileKiB: 0, reservedKiB: 0, touches: 0, cpuMs: s.cpuS * 1000 });
  }
  return { name: `compute ${s.iterations} x ${s.cpuS} s`, phases };
}

/**
 * Stand-ins for the DaCapo 2006 programs the paper ran, in DaCapo's order. anon: resident JVM
 * (paper section 5.3: xalan and eclipse take about 300 MB; section 5: default heap 50 MB
 * initial, 100 MB max); baseS: runtime with memory to spare; mem: share of that time spent touching the heap
 * (GC and allocation), which is what a deficit slows. Estimates, not measurements: they give
 * the paper's shape (eclipse most of the runtime and the two big ones contending).
 */
export const DACAPO_PROGRAMS: readonly { name: string; anonMiB: number; baseS: number; mem: number }[] = [
  { name: 'antlr', anonMiB: 90, baseS: 8, mem: 0.03 },
  { name: 'bloat', anonMiB: 110, baseS: 20, mem: 0.03 },
  { name: 'chart', anonMiB: 120, baseS: 15, mem: 0.03 },
  { name: 'eclipse', anonMiB: 300, baseS: 60, mem: 0.03 },
  { name: 'fop', anonMiB: 90, baseS: 5, mem: 0.03 },
  { name: 'hsqldb', anonMiB: 140, baseS: 10, mem: 0.04 },
  { name: 'jython', anonMiB: 110, baseS: 15, mem: 0.03 },
  { name: 'luindex', anonMiB: 90, baseS: 10, mem: 0.03 },
  { name: 'lusearch', anonMiB: 110, baseS: 12, mem: 0.03 },
  { name: 'pmd', anonMiB: 110, baseS: 12, mem: 0.03 },
  { name: 'xalan', anonMiB: 300, baseS: 20, mem: 0.04 },
];
/** Jars and class files a JVM re-reads: page cache each program wants (estimate). */
const DACAPO_FILE_KIB = 24 * MIB;
/** Committed beyond the resident JVM: reserved heap up to -Xmx, code cache, thread stacks (estimate). */
const DACAPO_RESERVED_KIB = 64 * MIB;
/** Run-to-run spread of a program's base time, seeded (DaCapo's own iteration jitter, estimate). */
const JITTER = 0.05;

/** A phase of base time `baseS`, `mem` of which is memory-bound. */
function mixedPhase(label: string, anonKiB: number, fileKiB: number, reservedKiB: number, baseS: number, mem: number): Phase {
  return { label, anonKiB, fileKiB, reservedKiB, touches: touchesFor(baseS * 1000 * mem), cpuMs: Math.round(baseS * 1000 * (1 - mem)) };
}

/** DaCapo in order (or reversed: the paper's Dacapo'), one phase per program. */
export function dacapo(s: DacapoSpec): Workload {
  const r = rng(s.seed);
  const order = s.reverse ? [...DACAPO_PROGRAMS].reverse() : DACAPO_PROGRAMS;
  return {
    name: s.reverse ? "dacapo'" : 'dacapo',
    phases: order.map((p) =>
      mixedPhase(p.name, p.anonMiB * MIB, DACAPO_FILE_KIB, DACAPO_RESERVED_KIB, p.baseS * (1 + JITTER * (2 * r() - 1)), p.mem),
    ),
  };
}

/**
 * A Linux kernel build, as phases: configure, compile waves (one gcc process of 60-140 MiB,
 * sources and headers in page cache), the final link (ld holds the objects). One compiler at a
 * time: the paper gives every guest one CPU core "to avoid CPU contention" (section 5) and says
 * only "make linux kernel" (section 5.5), so the plain reading is make without -j. Sizes are
 * estimates of gcc and ld on a defconfig build; the compile is CPU-bound with a little memory
 * traffic, which is why the paper saw a smaller gain there (10 %) than for DaCapo.
 */
export function kernelBuild(s: KernelBuildSpec): Workload {
  const r = rng(s.seed);
  const jobs = s.jobs ?? 1;
  const share = (dflt: number): number => s.memShare ?? dflt;
  const phases: Phase[] = [mixedPhase('configure', 16 * MIB, 8 * MIB, 8 * MIB, 6, share(0.01))];
  const WAVES = 20;
  for (let i = 0; i < WAVES; i++) {
    let gcc = 0;
    for (let j = 0; j < jobs; j++) gcc += 60 + Math.floor(r() * 81);
    phases.push(mixedPhase(`compile ${i + 1}`, gcc * MIB, 160 * MIB, 32 * MIB * jobs, 8 + 4 * r(), share(0.02)));
  }
  phases.push(mixedPhase('link', 220 * MIB, 200 * MIB, 32 * MIB, 15, s.memShare ?? 0.04));
  return { name: jobs > 1 ? `kernel build -j${jobs}` : 'kernel build', phases };
}

/** Reserved beyond the heap: metaspace, code cache, thread stacks, GC structures (estimate). */
export const JVM_NONHEAP_RESERVED_KIB = 48 * MIB;
/** Jars and class files a JVM re-reads: page cache it wants (estimate, as DaCapo's). */
const JVM_FILE_KIB = 24 * MIB;

/** A JVM growing into its committed -Xmx heap (see JvmSpec); live heap rises linearly, jittered. */
export function jvm(s: JvmSpec): Workload {
  const r = rng(s.seed);
  const phases: Phase[] = [];
  for (let i = 0; i < s.phases; i++) {
    const f = s.phases === 1 ? 1 : i / (s.phases - 1);
    const live = Math.min(s.xmxMiB, Math.round(s.startMiB + (s.peakMiB - s.startMiB) * f * (1 + JITTER * (2 * r() - 1))));
    const anon = live * MIB;
    // Committed_AS: the whole heap (committed at start) and the non-heap reservations.
    const reserved = Math.max(0, s.xmxMiB * MIB - anon) + JVM_NONHEAP_RESERVED_KIB;
    phases.push(mixedPhase(`jvm ${live} MiB`, anon, JVM_FILE_KIB, reserved, s.phaseS * (1 + JITTER * (2 * r() - 1)), s.memShare));
  }
  return { name: `jvm -Xmx${s.xmxMiB}m ${s.startMiB}->${s.peakMiB} MiB`, phases };
}

/** Ten-second phases of light CPU over a small touched set, with a large commit behind it. */
export function idleCommit(s: IdleCommitSpec): Workload {
  const PHASE_S = 10;
  const n = Math.max(1, Math.round(s.seconds / PHASE_S));
  const anon = s.touchMiB * MIB;
  const reserved = Math.max(0, (s.commitMiB - s.touchMiB) * MIB);
  return {
    name: `idle, commits ${s.commitMiB} MiB, touches ${s.touchMiB}`,
    phases: Array.from({ length: n }, (_, i) => mixedPhase(`idle ${i + 1}`, anon, 0, reserved, PHASE_S, IDLE_MEM_SHARE)),
  };
}
/** An idle server wakes now and then and touches its small set: 1 % of its time (estimate). */
const IDLE_MEM_SHARE = 0.01;

export function buildWorkload(spec: WorkloadSpec): Workload {
  switch (spec.kind) {
    case 'mono': return mono(spec);
    case 'random': return random(spec);
    case 'compute': return compute(spec);
    case 'dacapo': return dacapo(spec);
    case 'kernel-build': return kernelBuild(spec);
    case 'jvm': return jvm(spec);
    case 'idle-commit': return idleCommit(spec);
    case 'idle': return { name: 'idle', phases: [] };
    case 'sequence': {
      const parts = spec.parts.map(buildWorkload);
      return { name: parts.map((p) => p.name).join(' + '), phases: parts.flatMap((p) => p.phases) };
    }
  }
}
