// Scenarios: YAML files under config/scenarios/, read with the `yaml` package and checked with
// the strict readers of src/util/validate.ts (an unknown field or a wrong type is an InputError
// naming its path). Memory in whole MiB and time in seconds in the file; KiB and ms inside.
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { PolicyParams } from '../policy/types.ts';
import { PEER_POLICIES } from '../policy/peers/index.ts';
import {
  array,
  boolean,
  InputError,
  integer,
  noUnknownKeys,
  number,
  object,
  oneOf,
  optional,
  required,
  string,
} from '../util/validate.ts';
import { AGENT_KINDS, type AgentModel } from '../hosts/sim/agent.ts';
import { BALLOON_KINDS, type BalloonModel } from '../hosts/sim/balloon.ts';
import { DEFAULT_SWAP_KIB, MIB } from '../hosts/sim/constants.ts';
import { INVARIANT_RULES, type InvariantRule } from './invariants.ts';
import type { Dom0Config, GuestConfig, SimConfig } from '../hosts/sim/state.ts';
import { DOM0 } from '../hosts/sim/step.ts';
import { SAFE, type UnsafeSwitches } from '../policy/unsafe.ts';
import { parseUnsafe } from '../vocabulary/config.ts';
import { WORKLOAD_KINDS, type WorkloadSpec } from '../hosts/sim/workload.ts';
import { yamlInput } from '../util/yaml-input.ts';

export interface Scenario {
  name: string;
  description: string;
  /** Stop after this much virtual time even if a workload is still running. */
  durationMs: number;
  /** The supervisor's tick (paper: 1 s). */
  tickMs: number;
  /** The simulator's step (<= tick; smaller steps follow the balloons more finely). */
  stepMs: number;
  /** Policy parameters the scenario sets (the rest are the policy's defaults). */
  params: Partial<PolicyParams>;
  sim: SimConfig;
  unsafe: UnsafeSwitches;
  /** Rules that must be violated (a must-fail scenario); empty: none may be. */
  expectViolations: InvariantRule[];
  /**
   * Peer policies (src/policy/peers) that must hold every invariant on this scenario too;
   * memcoop's own policy always must. A peer left out may break one by design (selfballoon
   * never serves Dom0 first: it runs inside the guests).
   */
  expectPolicies: string[];
}

/** Policy names `expect.policies` may list. */
export const PEER_POLICY_NAMES: readonly string[] = Object.keys(PEER_POLICIES);

/** Largest scenario file read (a scenario is a page of YAML). */
export const MAX_SCENARIO_CHARS = 256 * 1024;
const MAX_GUESTS = 10_000;

type Obj = Record<string, unknown>;
const mib = (v: unknown, p: string): number => integer(v, p, { min: 0, max: 16 * 1024 * 1024 }) * MIB;
const seconds = (v: unknown, p: string): number => Math.round(number(v, p, { min: 0, max: 1e7 }) * 1000);
const positive = (v: unknown, p: string): number => integer(v, p, { min: 1, max: 1e9 });
const seed = (v: unknown, p: string): number => integer(v, p, { min: 0, max: 2 ** 31 - 1 });

function readWorkload(v: unknown, path: string): WorkloadSpec {
  const o = object(v, path);
  const kind = required(o, 'kind', path, (x, p) => oneOf(x, p, WORKLOAD_KINDS));
  const keys = (...k: string[]): void => noUnknownKeys(o, path, ['kind', ...k]);
  switch (kind) {
    case 'mono': {
      keys('lowMiB', 'highMiB', 'stepMiB', 'passes', 'phaseSteps');
      const lowMiB = required(o, 'lowMiB', path, positive);
      const highMiB = required(o, 'highMiB', path, positive);
      if (highMiB < lowMiB) throw new InputError(`${path}.highMiB`, `must be >= lowMiB (${lowMiB})`);
      const phaseSteps = optional(o, 'phaseSteps', path, (x, p) => integer(x, p, { min: 0, max: 1e6 }), 0);
      const spec = { kind, lowMiB, highMiB, stepMiB: required(o, 'stepMiB', path, positive), passes: optional(o, 'passes', path, positive, 2) };
      return phaseSteps === 0 ? spec : { ...spec, phaseSteps };
    }
    case 'random': {
      keys('lowMiB', 'highMiB', 'phases', 'touchesPerPhase', 'cpuMsPerPhase', 'seed');
      const lowMiB = required(o, 'lowMiB', path, positive);
      const highMiB = required(o, 'highMiB', path, positive);
      if (highMiB < lowMiB) throw new InputError(`${path}.highMiB`, `must be >= lowMiB (${lowMiB})`);
      return {
        kind,
        lowMiB,
        highMiB,
        phases: required(o, 'phases', path, positive),
        touchesPerPhase: required(o, 'touchesPerPhase', path, positive),
        cpuMsPerPhase: optional(o, 'cpuMsPerPhase', path, (x, p) => integer(x, p, { min: 0, max: 1e9 }), 0),
        seed: optional(o, 'seed', path, seed, 1),
      };
    }
    case 'compute':
      keys('cpuS', 'memMiB', 'iterations');
      return {
        kind,
        cpuS: required(o, 'cpuS', path, (x, p) => number(x, p, { min: 0, max: 1e6 })),
        memMiB: optional(o, 'memMiB', path, (x, p) => integer(x, p, { min: 0, max: 1e6 }), 8),
        iterations: optional(o, 'iterations', path, positive, 1),
      };
    case 'dacapo':
      keys('reverse', 'seed');
      return { kind, reverse: optional(o, 'reverse', path, boolean, false), seed: optional(o, 'seed', path, seed, 1) };
    case 'kernel-build': {
      keys('seed', 'jobs', 'memShare');
      const spec: WorkloadSpec = { kind, seed: optional(o, 'seed', path, seed, 1) };
      if (o.jobs !== undefined) spec.jobs = integer(o.jobs, `${path}.jobs`, { min: 1, max: 64 });
      if (o.memShare !== undefined) spec.memShare = number(o.memShare, `${path}.memShare`, { min: 0, max: 1 });
      return spec;
    }
    case 'jvm': {
      keys('xmxMiB', 'startMiB', 'peakMiB', 'phases', 'phaseS', 'memShare', 'seed');
      const xmxMiB = required(o, 'xmxMiB', path, positive);
      const startMiB = required(o, 'startMiB', path, positive);
      const peakMiB = required(o, 'peakMiB', path, positive);
      if (peakMiB > xmxMiB || startMiB > peakMiB) throw new InputError(`${path}.peakMiB`, 'must satisfy startMiB <= peakMiB <= xmxMiB');
      return {
        kind,
        xmxMiB,
        startMiB,
        peakMiB,
        phases: required(o, 'phases', path, positive),
        phaseS: required(o, 'phaseS', path, (x, p) => number(x, p, { min: 0.001, max: 1e6 })),
        memShare: required(o, 'memShare', path, (x, p) => number(x, p, { min: 0, max: 1 })),
        seed: optional(o, 'seed', path, seed, 1),
      };
    }
    case 'idle-commit': {
      keys('commitMiB', 'touchMiB', 'seconds');
      const commitMiB = required(o, 'commitMiB', path, positive);
      const touchMiB = required(o, 'touchMiB', path, positive);
      if (touchMiB > commitMiB) throw new InputError(`${path}.touchMiB`, 'must be <= commitMiB');
      return { kind, commitMiB, touchMiB, seconds: required(o, 'seconds', path, (x, p) => number(x, p, { min: 1, max: 1e6 })) };
    }
    case 'idle':
      keys();
      return { kind };
    case 'sequence':
      keys('parts');
      return { kind, parts: required(o, 'parts', path, (x, p) => array(x, p, 64).map((e, i) => readWorkload(e, `${p}[${i}]`))) };
  }
}

function readAgent(v: unknown, path: string): AgentModel {
  const o = object(v, path);
  const kind = required(o, 'kind', path, (x, p) => oneOf(x, p, AGENT_KINDS));
  switch (kind) {
    case 'honest':
    case 'none':
      noUnknownKeys(o, path, ['kind']);
      return { kind };
    case 'inflated':
      noUnknownKeys(o, path, ['kind', 'factor']);
      return { kind, factor: required(o, 'factor', path, (x, p) => number(x, p, { min: 0, max: 1000 })) };
    case 'garbage':
      noUnknownKeys(o, path, ['kind', 'every']);
      return { kind, every: optional(o, 'every', path, positive, 1) };
  }
}

function readBalloon(v: unknown, path: string): BalloonModel {
  const o = object(v, path);
  const kind = required(o, 'kind', path, (x, p) => oneOf(x, p, BALLOON_KINDS));
  const rate = (x: unknown, p: string): number => integer(x, p, { min: 1, max: 1e9 });
  const rates = (): { inflateKiBps?: number; deflateKiBps?: number } => {
    const r: { inflateKiBps?: number; deflateKiBps?: number } = {};
    if (o.inflateKiBps !== undefined) r.inflateKiBps = rate(o.inflateKiBps, `${path}.inflateKiBps`);
    if (o.deflateKiBps !== undefined) r.deflateKiBps = rate(o.deflateKiBps, `${path}.deflateKiBps`);
    return r;
  };
  const RATE_KEYS = ['inflateKiBps', 'deflateKiBps'];
  switch (kind) {
    case 'ideal':
      noUnknownKeys(o, path, ['kind', ...RATE_KEYS]);
      return { kind, ...rates() };
    case 'floor':
      noUnknownKeys(o, path, ['kind', 'floorMiB', ...RATE_KEYS]);
      return { kind, floorKiB: required(o, 'floorMiB', path, mib), ...rates() };
    case 'ceiling':
      noUnknownKeys(o, path, ['kind', 'ceilingMiB', ...RATE_KEYS]);
      return { kind, ceilingKiB: required(o, 'ceilingMiB', path, mib), ...rates() };
    case 'stuck':
      noUnknownKeys(o, path, ['kind']);
      return { kind };
    case 'intermittent':
      noUnknownKeys(o, path, ['kind', 'windowS', 'movingShare', 'seed', ...RATE_KEYS]);
      return {
        kind,
        windowMs: required(o, 'windowS', path, (x, p) => Math.max(1, seconds(x, p))),
        movingShare: required(o, 'movingShare', path, (x, p) => number(x, p, { min: 0, max: 1 })),
        seed: optional(o, 'seed', path, seed, 1),
        ...rates(),
      };
  }
}

function readGuest(v: unknown, path: string, index: number): GuestConfig {
  const o = object(v, path);
  noUnknownKeys(o, path, ['id', 'initialMiB', 'minMiB', 'maxMiB', 'swapMiB', 'shares', 'selfAdjust', 'agent', 'balloon', 'workload', 'startS', 'leaveS']);
  const id = required(o, 'id', path, (x, p) => string(x, p, 64));
  if (id === DOM0) throw new InputError(`${path}.id`, `"${DOM0}" is Dom0's id`);
  const minKiB = required(o, 'minMiB', path, mib);
  const maxKiB = required(o, 'maxMiB', path, mib);
  const initialKiB = required(o, 'initialMiB', path, mib);
  if (maxKiB < minKiB) throw new InputError(`${path}.maxMiB`, `must be >= minMiB`);
  if (initialKiB < minKiB || initialKiB > maxKiB) throw new InputError(`${path}.initialMiB`, `must be within [minMiB, maxMiB]`);
  const balloon = optional(o, 'balloon', path, readBalloon, { kind: 'ideal' });
  if (balloon.kind === 'floor' && (balloon.floorKiB < minKiB || balloon.floorKiB > maxKiB)) throw new InputError(`${path}.balloon.floorMiB`, 'must be within [minMiB, maxMiB]');
  if (balloon.kind === 'ceiling' && (balloon.ceilingKiB < initialKiB || balloon.ceilingKiB > maxKiB)) throw new InputError(`${path}.balloon.ceilingMiB`, 'must be within [initialMiB, maxMiB]');
  const startMs = optional(o, 'startS', path, seconds, 0);
  const leaveMs = optional<number | null>(o, 'leaveS', path, seconds, null);
  if (leaveMs !== null && leaveMs <= startMs) throw new InputError(`${path}.leaveS`, 'must be after startS');
  return {
    id,
    domid: index + 1,
    minKiB,
    maxKiB,
    initialKiB,
    swapKiB: optional(o, 'swapMiB', path, mib, DEFAULT_SWAP_KIB),
    shares: optional(o, 'shares', path, (x, p) => number(x, p, { min: 0.01, max: 1000 }), 1),
    selfAdjust: optional(o, 'selfAdjust', path, boolean, true),
    agent: optional(o, 'agent', path, readAgent, { kind: 'honest' }),
    balloon,
    workload: required(o, 'workload', path, readWorkload),
    startMs,
    leaveMs,
  };
}

function readDom0(v: unknown, path: string): Dom0Config {
  const o = object(v, path);
  noUnknownKeys(o, path, ['initialMiB', 'minMiB', 'maxMiB', 'committedMiB', 'changes']);
  const minKiB = required(o, 'minMiB', path, mib);
  const maxKiB = required(o, 'maxMiB', path, mib);
  const initialKiB = required(o, 'initialMiB', path, mib);
  if (maxKiB < minKiB) throw new InputError(`${path}.maxMiB`, 'must be >= minMiB');
  if (initialKiB < minKiB || initialKiB > maxKiB) throw new InputError(`${path}.initialMiB`, 'must be within [minMiB, maxMiB]');
  const changes = optional(o, 'changes', path, (x, p) =>
    array(x, p, 1000).map((e, i) => {
      const c = object(e, `${p}[${i}]`);
      noUnknownKeys(c, `${p}[${i}]`, ['atS', 'committedMiB']);
      return { atMs: required(c, 'atS', `${p}[${i}]`, seconds), committedKiB: required(c, 'committedMiB', `${p}[${i}]`, mib) };
    }), []);
  return { initialKiB, minKiB, maxKiB, committedKiB: required(o, 'committedMiB', path, mib), changes };
}

function readParams(v: unknown, path: string): Partial<PolicyParams> {
  const o = object(v, path);
  noUnknownKeys(o, path, ['tau', 'eps', 'reserveMiB', 'upRatio', 'downRatio']);
  const p: Partial<PolicyParams> = {};
  if (o.tau !== undefined) p.tau = number(o.tau, `${path}.tau`, { min: 0, max: 0.999 });
  if (o.eps !== undefined) p.eps = number(o.eps, `${path}.eps`, { min: 0 });
  if (o.reserveMiB !== undefined) p.reserveKiB = mib(o.reserveMiB, `${path}.reserveMiB`);
  if (o.upRatio !== undefined) p.upRatio = number(o.upRatio, `${path}.upRatio`, { min: 1 });
  if (o.downRatio !== undefined) p.downRatio = number(o.downRatio, `${path}.downRatio`, { min: 1 });
  return p;
}

/** A scenario from its parsed YAML (or JSON) value. `where` prefixes every error path. */
export function readScenario(v: unknown, where = 'scenario'): Scenario {
  const o = object(v, where);
  noUnknownKeys(o, where, ['name', 'description', 'durationS', 'tickS', 'stepS', 'policy', 'host', 'guests', 'unsafe', 'expect']);
  const host = required(o, 'host', where, object);
  noUnknownKeys(host, `${where}.host`, ['totalMiB', 'dom0']);
  const hostTotalKiB = required(host, 'totalMiB', `${where}.host`, mib);
  const dom0 = required(host, 'dom0', `${where}.host`, readDom0);
  const guests = required(o, 'guests', where, (x, p) => array(x, p, MAX_GUESTS).map((e, i) => readGuest(e, `${p}[${i}]`, i)));
  const ids = new Set<string>();
  guests.forEach((g, i) => {
    if (ids.has(g.id)) throw new InputError(`${where}.guests[${i}].id`, `duplicate id "${g.id}"`);
    ids.add(g.id);
  });
  const atStart = dom0.initialKiB + guests.filter((g) => g.startMs === 0).reduce((a, g) => a + g.initialKiB, 0);
  if (atStart > hostTotalKiB) throw new InputError(`${where}.host.totalMiB`, `Dom0 and the guests present at start need ${atStart / MIB} MiB, more than the host has`);
  const tickMs = optional(o, 'tickS', where, (x, p) => Math.max(1, seconds(x, p)), 1000);
  const stepMs = optional(o, 'stepS', where, (x, p) => Math.max(1, seconds(x, p)), Math.min(100, tickMs));
  if (tickMs % stepMs !== 0) throw new InputError(`${where}.stepS`, `must divide tickS (${tickMs / 1000} s)`);
  const expect = optional(o, 'expect', where, object, {});
  noUnknownKeys(expect, `${where}.expect`, ['violations', 'policies']);
  return {
    name: required(o, 'name', where, (x, p) => string(x, p, 64)),
    description: optional(o, 'description', where, (x, p) => string(x, p, 4096), ''),
    durationMs: required(o, 'durationS', where, (x, p) => Math.max(1, seconds(x, p))),
    tickMs,
    stepMs,
    params: optional(o, 'policy', where, readParams, {}),
    sim: { hostTotalKiB, dom0, guests },
    unsafe: optional(o, 'unsafe', where, parseUnsafe, { ...SAFE }),
    expectViolations: optional(expect, 'violations', `${where}.expect`, (x, p) => array(x, p, 10).map((e, i) => oneOf(e, `${p}[${i}]`, INVARIANT_RULES)), []),
    expectPolicies: optional(expect, 'policies', `${where}.expect`, (x, p) => array(x, p, 16).map((e, i) => oneOf(e, `${p}[${i}]`, PEER_POLICY_NAMES)), []),
  };
}

/** A scenario from YAML text; `source` (a file name) prefixes error paths. */
export function parseScenario(text: string, source = 'scenario'): Scenario {
  if (text.length > MAX_SCENARIO_CHARS) throw new InputError(source, `larger than ${MAX_SCENARIO_CHARS} characters`);
  return readScenario(yamlInput(text, source), source);
}

/** The directory of the shipped scenarios (config/scenarios). */
export const SCENARIO_DIR = join(import.meta.dirname, '..', '..', 'config', 'scenarios');

/** Reads a scenario file; a bare name (no slash, no .yaml) is looked up in SCENARIO_DIR. */
export function loadScenario(nameOrPath: string): Scenario {
  const path = /[/\\]|\.ya?ml$/.test(nameOrPath) ? nameOrPath : join(SCENARIO_DIR, `${nameOrPath}.yaml`);
  const file = basename(path);
  const s = parseScenario(readFileSync(path, 'utf8'), file);
  const stem = file.replace(/\.ya?ml$/, '');
  if (s.name !== stem) throw new InputError(`${file}.name`, `must match the file name ("${stem}"), got "${s.name}"`);
  return s;
}

/** Names of the shipped scenarios. */
export function scenarioNames(): string[] {
  return readdirSync(SCENARIO_DIR).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -'.yaml'.length)).sort();
}
