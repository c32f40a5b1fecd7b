// Strict reading of `memcoop decide` input (untrusted JSON): every field checked and named on
// error, unknown fields rejected, optional params filled from the policy's defaults.
import { DEFAULT_PARAMS, NO_DOM0 } from '../policy/decide.ts';
import { parseRules } from '../vocabulary/config.ts';
import type { DecideInput, Dom0Input, GuestInput, PolicyParams } from '../policy/types.ts';
import {
  array,
  boolean,
  InputError,
  integer,
  noUnknownKeys,
  number,
  object,
  optional,
  required,
  string,
} from '../util/validate.ts';

/** Upper bound on guests in one input: far beyond any host (Xen 4.17 caps domains at 32k). */
const MAX_GUESTS = 100_000;
/** 2^50 KiB = 1 EiB: no host is larger, and every sum of such values stays an exact double. */
const MAX_KIB = 2 ** 50;

const kib = (v: unknown, p: string) => integer(v, p, { min: 0, max: MAX_KIB });

function fraction(v: unknown, p: string): number {
  const x = number(v, p, { min: 0 });
  if (x >= 1) throw new InputError(p, `must be < 1, got ${x}`);
  return x;
}

function positive(v: unknown, p: string): number {
  const x = number(v, p);
  if (!(x > 0)) throw new InputError(p, `must be > 0, got ${x}`);
  return x;
}

function ordered(o: { minKiB: number; maxKiB: number }, path: string): void {
  if (o.minKiB > o.maxKiB) throw new InputError(`${path}.minKiB`, `must be <= maxKiB (${o.maxKiB}), got ${o.minKiB}`);
}

function readParams(v: unknown, path: string): PolicyParams {
  const o = object(v, path);
  noUnknownKeys(o, path, ['tau', 'eps', 'reserveKiB', 'upRatio', 'downRatio', 'rules']);
  return {
    tau: optional(o, 'tau', path, fraction, DEFAULT_PARAMS.tau),
    eps: optional(o, 'eps', path, (x, p) => number(x, p, { min: 0 }), DEFAULT_PARAMS.eps),
    reserveKiB: optional(o, 'reserveKiB', path, kib, DEFAULT_PARAMS.reserveKiB),
    upRatio: optional(o, 'upRatio', path, (x, p) => number(x, p, { min: 1 }), DEFAULT_PARAMS.upRatio),
    downRatio: optional(o, 'downRatio', path, (x, p) => number(x, p, { min: 1 }), DEFAULT_PARAMS.downRatio),
    ...(o.rules === undefined ? {} : { rules: parseRules(o.rules, `${path}.rules`) }),
  };
}

function readDom0(v: unknown, path: string): Dom0Input {
  const o = object(v, path);
  noUnknownKeys(o, path, ['currentKiB', 'committedKiB', 'minKiB', 'maxKiB']);
  const d = {
    currentKiB: required(o, 'currentKiB', path, kib),
    committedKiB: required(o, 'committedKiB', path, kib),
    minKiB: required(o, 'minKiB', path, kib),
    maxKiB: required(o, 'maxKiB', path, kib),
  };
  ordered(d, path);
  return d;
}

const GUEST_KEYS = [
  'id',
  'minKiB',
  'maxKiB',
  'currentKiB',
  'committedKiB',
  'freeKiB',
  'swapTotalKiB',
  'swapFreeKiB',
  'shares',
  'agent',
  'psiSomeAvg10',
  'swapInsKiB',
  'availableKiB',
  'pendingIncreaseKiB',
  'pendingDecreaseKiB',
] as const;

/** PSI avg10 in hundredths of a per cent: 0-100 %. */
const PSI_MAX_HUNDREDTHS = 10_000;

/** The optional pressure and in-flight fields (src/policy/types.ts): absent stays absent, never 0. */
function readOptionalGuestFields(o: Record<string, unknown>, path: string): Partial<GuestInput> {
  const out: Partial<GuestInput> = {};
  if (o.psiSomeAvg10 !== undefined) out.psiSomeAvg10 = integer(o.psiSomeAvg10, `${path}.psiSomeAvg10`, { min: 0, max: PSI_MAX_HUNDREDTHS });
  for (const k of ['swapInsKiB', 'availableKiB', 'pendingIncreaseKiB', 'pendingDecreaseKiB'] as const) {
    if (o[k] !== undefined) out[k] = kib(o[k], `${path}.${k}`);
  }
  return out;
}

function readGuest(v: unknown, path: string): GuestInput {
  const o = object(v, path);
  noUnknownKeys(o, path, GUEST_KEYS);
  const g: GuestInput = {
    id: required(o, 'id', path, (x, p) => string(x, p, 128)),
    minKiB: required(o, 'minKiB', path, kib),
    maxKiB: required(o, 'maxKiB', path, kib),
    currentKiB: required(o, 'currentKiB', path, kib),
    committedKiB: required(o, 'committedKiB', path, kib),
    freeKiB: required(o, 'freeKiB', path, kib),
    swapTotalKiB: required(o, 'swapTotalKiB', path, kib),
    swapFreeKiB: required(o, 'swapFreeKiB', path, kib),
    shares: optional(o, 'shares', path, positive, 1),
    agent: optional(o, 'agent', path, boolean, true),
    ...readOptionalGuestFields(o, path),
  };
  ordered(g, path);
  // What a consistent snapshot cannot say. A guest above its max is not refused: the policy
  // brings it down to its max first (decide.ts, overMax), as the daemon does for a lowered
  // static-max. One below its min is: the policy never takes memory from it, but it can only
  // be lifted as memory is free, so its target could stay below minKiB, which decide never
  // answers.
  if (g.freeKiB > g.currentKiB) {
    throw new InputError(`${path}.freeKiB`, `must be <= currentKiB (${g.currentKiB}): a guest cannot have more free memory than it has, got ${g.freeKiB}`);
  }
  if (g.currentKiB < g.minKiB) {
    throw new InputError(`${path}.currentKiB`, `must be >= minKiB (${g.minKiB}): lower the guest's minimum to its allocation or grow the guest first, got ${g.currentKiB}`);
  }
  if (g.swapFreeKiB > g.swapTotalKiB) {
    throw new InputError(`${path}.swapFreeKiB`, `must be <= swapTotalKiB (${g.swapTotalKiB}), got ${g.swapFreeKiB}`);
  }
  return g;
}

/** Parses and checks a decide input; throws InputError naming the first bad field. */
export function readDecideInput(v: unknown): DecideInput {
  const path = 'input';
  const o = object(v, path);
  noUnknownKeys(o, path, ['params', 'host', 'dom0', 'guests']);
  const params = optional(o, 'params', path, readParams, { ...DEFAULT_PARAMS });
  const hostObj = required(o, 'host', path, object);
  noUnknownKeys(hostObj, `${path}.host`, ['freeKiB']);
  const host = { freeKiB: required(hostObj, 'freeKiB', `${path}.host`, kib) };
  // Dom0 is optional: a KVM host has none (NO_DOM0: no memory, no need).
  const dom0 = optional(o, 'dom0', path, readDom0, { ...NO_DOM0 });
  const list = required(o, 'guests', path, (x, p) => array(x, p, MAX_GUESTS));
  const guests = list.map((g, i) => readGuest(g, `${path}.guests[${i}]`));
  const seen = new Set<string>();
  guests.forEach((g, i) => {
    if (seen.has(g.id)) throw new InputError(`${path}.guests[${i}].id`, `duplicate id ${JSON.stringify(g.id)}`);
    seen.add(g.id);
  });
  return { params, host, dom0, guests };
}
