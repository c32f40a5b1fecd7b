// The supervisor's configuration (the actor's input, and the journal header's `config`): the
// policy's parameters, Dom0's bounds, and the lifecycle thresholds of the guest machines.
// Counted in ticks, not ms: time reaches the machines only through events.
import { DEFAULT_PARAMS } from '../policy/decide.ts';
import { DEFAULT_POLICY_NAME, POLICY_NAMES, type PolicyName } from '../policy/registry.ts';
import { RULE_NAMES } from '../policy/rules.ts';
import type { PolicyParams, PolicyRules } from '../policy/types.ts';
import type { UnsafeSwitches } from '../policy/unsafe.ts';
import { InputError, boolean, integer, noUnknownKeys, number, object, oneOf, optional } from '../util/validate.ts';

export interface SupervisorConfig {
  /**
   * The policy that runs each tick: memcoop's (the paper's) or a peer's (src/policy/registry.ts).
   * Recorded in the journal header so a replay runs the same one.
   */
  policy: PolicyName;
  params: PolicyParams;
  /** L_0 and H_0 of docs/algorithm.md: Dom0 is served first, within these bounds. */
  dom0: { minKiB: number; maxKiB: number };
  /** An agent silent for this many ticks (no report; no hello while registering) makes its guest unmanaged. */
  silenceTicks: number;
  /** A balloon that makes no progress toward its written target for this many ticks is stuck. */
  stuckTicks: number;
  /** A stuck guest is tried again (back under management) after this many ticks. */
  stuckRetryTicks: number;
  /** A balloon within this distance of its target counts as there (no stall is counted). */
  balloonSlackKiB: number;
  /**
   * Safety mechanisms switched off (the simulator's must-fail scenarios only; absent: all on).
   * In the config so that the journal header records them and a replay runs the same policy.
   */
  unsafe?: UnsafeSwitches;
}

/**
 * Dom0 floor: 400 MiB, the least Citrix recommends for XenServer's control domain ("do not
 * reduce the dom0 memory below 400 MB", XenServer memory-usage documentation).
 */
export const DEFAULT_DOM0_MIN_KIB = 400 * 1024;
/**
 * Dom0 ceiling: 4 GiB, the largest control-domain size XenServer picks on its own (hosts of
 * 64 GB and more, same documentation); a Dom0 that commits more is a misconfigured host.
 */
export const DEFAULT_DOM0_MAX_KIB = 4 * 1024 * 1024;
/**
 * 10 ticks (10 s at the paper's 1 s tick): an agent reports every tick, so ten missed reports
 * is a dead or wedged agent, yet a guest thrashing under memory pressure (the very guest that
 * needs memory) can deschedule its agent for a few seconds without losing its share.
 */
export const DEFAULT_SILENCE_TICKS = 10;
/**
 * The most ticks any tick-counted setting may name: a day of 1 s ticks. A larger value is a typo
 * (silenceTicks: 1e15 would never call any agent silent), not a configuration.
 */
export const MAX_CONFIG_TICKS = 86_400;
/**
 * 5 ticks: the balloon moved 128-256 MiB in 2-3 s on Xen and virtio (docs/measurements.md sections 2-3),
 * so five ticks with no progress at all is not a slow balloon but one that will not move (the
 * Linux 6.1 driver gives up after about five failed tries, docs/measurements.md section 3).
 */
export const DEFAULT_STUCK_TICKS = 5;
/**
 * 30 ticks: after squeezed's approach of leaving a non-cooperative domain alone for a while
 * and then trying again; long enough not to churn a truly stuck balloon every few seconds.
 */
export const DEFAULT_STUCK_RETRY_TICKS = 30;
/**
 * 1 MiB: within this the balloon is "there". Xen caps a domain at its creation size + 1 MiB
 * (docs/measurements.md section 3), so a target one MiB off can be as close as a balloon gets.
 */
export const DEFAULT_BALLOON_SLACK_KIB = 1024;

export const DEFAULT_SUPERVISOR_CONFIG: SupervisorConfig = Object.freeze({
  policy: DEFAULT_POLICY_NAME,
  params: DEFAULT_PARAMS,
  dom0: Object.freeze({ minKiB: DEFAULT_DOM0_MIN_KIB, maxKiB: DEFAULT_DOM0_MAX_KIB }),
  silenceTicks: DEFAULT_SILENCE_TICKS,
  stuckTicks: DEFAULT_STUCK_TICKS,
  stuckRetryTicks: DEFAULT_STUCK_RETRY_TICKS,
  balloonSlackKiB: DEFAULT_BALLOON_SLACK_KIB,
});

const PARAM_KEYS = ['tau', 'eps', 'reserveKiB', 'upRatio', 'downRatio', 'rules'] as const;
const CONFIG_KEYS = ['policy', 'params', 'dom0', 'silenceTicks', 'stuckTicks', 'stuckRetryTicks', 'balloonSlackKiB', 'unsafe'] as const;

/** The safety switches (src/policy/unsafe.ts) from untrusted JSON/YAML: each optional, default on. */
export function parseUnsafe(v: unknown, path: string): UnsafeSwitches {
  const o = object(v, path);
  noUnknownKeys(o, path, ['twoPhase', 'reserve', 'dom0First']);
  return {
    twoPhase: optional(o, 'twoPhase', path, boolean, true),
    reserve: optional(o, 'reserve', path, boolean, true),
    dom0First: optional(o, 'dom0First', path, boolean, true),
  };
}

/** The policy's parameters: every field optional (defaults: DEFAULT_PARAMS), bounds as in PolicyParams. */
export function parsePolicyParams(v: unknown, path: string): PolicyParams {
  const o = object(v, path);
  noUnknownKeys(o, path, PARAM_KEYS);
  const d = DEFAULT_PARAMS;
  const tau = optional(o, 'tau', path, (x, p) => number(x, p, { min: 0 }), d.tau);
  if (tau >= 1) throw new InputError(`${path}.tau`, `must be < 1, got ${tau}`);
  return {
    tau,
    eps: optional(o, 'eps', path, (x, p) => number(x, p, { min: 0 }), d.eps),
    reserveKiB: optional(o, 'reserveKiB', path, (x, p) => integer(x, p, { min: 0 }), d.reserveKiB),
    upRatio: optional(o, 'upRatio', path, (x, p) => number(x, p, { min: 1 }), d.upRatio),
    downRatio: optional(o, 'downRatio', path, (x, p) => number(x, p, { min: 1 }), d.downRatio),
    // Rules beyond the paper (src/policy/rules.ts): only written when some are switched off.
    ...(o.rules === undefined ? {} : { rules: parseRules(o.rules, `${path}.rules`) }),
  };
}

/** params.rules: each of RULE_NAMES optional, a boolean. */
export function parseRules(v: unknown, path: string): PolicyRules {
  const o = object(v, path);
  noUnknownKeys(o, path, RULE_NAMES);
  const r: PolicyRules = {};
  for (const k of RULE_NAMES) if (o[k] !== undefined) r[k] = boolean(o[k], `${path}.${k}`);
  return r;
}

/**
 * Reads a supervisor config from untrusted JSON/YAML (a config file, a journal header). Every
 * field is optional and defaults as above; unknown fields and bad values are errors naming the
 * field.
 */
export function parseSupervisorConfig(v: unknown, path = 'config'): SupervisorConfig {
  const o = object(v, path);
  noUnknownKeys(o, path, CONFIG_KEYS);
  const d = DEFAULT_SUPERVISOR_CONFIG;
  const params = optional(o, 'params', path, parsePolicyParams, { ...d.params });
  const dom0 = optional(
    o,
    'dom0',
    path,
    (x, p) => {
      const q = object(x, p);
      noUnknownKeys(q, p, ['minKiB', 'maxKiB']);
      const kib = (y: unknown, pp: string): number => integer(y, pp, { min: 0 });
      return {
        minKiB: optional(q, 'minKiB', p, kib, d.dom0.minKiB),
        maxKiB: optional(q, 'maxKiB', p, kib, d.dom0.maxKiB),
      };
    },
    { ...d.dom0 },
  );
  if (dom0.minKiB > dom0.maxKiB) {
    throw new InputError(`${path}.dom0.minKiB`, `must be <= dom0.maxKiB (${dom0.maxKiB}), got ${dom0.minKiB}`);
  }
  const ticks = (y: unknown, p: string): number => integer(y, p, { min: 1, max: MAX_CONFIG_TICKS });
  return {
    policy: optional(o, 'policy', path, (y, p) => oneOf(y, p, POLICY_NAMES), d.policy),
    params,
    dom0,
    silenceTicks: optional(o, 'silenceTicks', path, ticks, d.silenceTicks),
    stuckTicks: optional(o, 'stuckTicks', path, ticks, d.stuckTicks),
    stuckRetryTicks: optional(o, 'stuckRetryTicks', path, ticks, d.stuckRetryTicks),
    balloonSlackKiB: optional(o, 'balloonSlackKiB', path, (y, p) => integer(y, p, { min: 0 }), d.balloonSlackKiB),
    ...(o.unsafe !== undefined ? { unsafe: parseUnsafe(o.unsafe, `${path}.unsafe`) } : {}),
  };
}
