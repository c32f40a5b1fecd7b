// Small strict readers for untrusted JSON/YAML (decide input, config, scenarios, journals).
// Each names the offending field by its path, so an operator sees exactly what is wrong.

export class InputError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'InputError';
  }
}

type Obj = Record<string, unknown>;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return `${typeof v} ${typeof v === 'object' ? '' : String(v)}`.trim();
}

export function object(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new InputError(path, `expected an object, got ${describe(v)}`);
  }
  return v as Obj;
}

export function array(v: unknown, path: string, maxLength = Infinity): unknown[] {
  if (!Array.isArray(v)) throw new InputError(path, `expected an array, got ${describe(v)}`);
  if (v.length > maxLength) throw new InputError(path, `at most ${maxLength} entries, got ${v.length}`);
  return v;
}

export interface NumberBounds {
  min?: number;
  max?: number;
}

function bounded(n: number, path: string, b: NumberBounds): number {
  if (b.min !== undefined && n < b.min) throw new InputError(path, `must be >= ${b.min}, got ${n}`);
  if (b.max !== undefined && n > b.max) throw new InputError(path, `must be <= ${b.max}, got ${n}`);
  return n;
}

export function number(v: unknown, path: string, b: NumberBounds = {}): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new InputError(path, `expected a finite number, got ${describe(v)}`);
  }
  return bounded(v, path, b);
}

/** A whole number, e.g. KiB. */
export function integer(v: unknown, path: string, b: NumberBounds = {}): number {
  // A whole number beyond the bound is out of range, not "not a whole number" (1e30 is whole,
  // only too large to be exact): name the bound.
  if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)) bounded(v, path, b);
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw new InputError(path, `expected a whole number, got ${describe(v)}`);
  }
  return bounded(v, path, b);
}

export function string(v: unknown, path: string, maxLength = 256): string {
  if (typeof v !== 'string') throw new InputError(path, `expected a string, got ${describe(v)}`);
  if (v.length === 0) throw new InputError(path, 'must not be empty');
  if (v.length > maxLength) throw new InputError(path, `at most ${maxLength} characters, got ${v.length}`);
  return v;
}

export function boolean(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') throw new InputError(path, `expected true or false, got ${describe(v)}`);
  return v;
}

export function oneOf<T extends string>(v: unknown, path: string, options: readonly T[]): T {
  if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) {
    throw new InputError(path, `expected one of ${options.join(', ')}, got ${describe(v)}`);
  }
  return v as T;
}

/** Reads o[key] with `read` when present, else returns the default. */
export function optional<T>(o: Obj, key: string, path: string, read: (v: unknown, p: string) => T, dflt: T): T {
  return o[key] === undefined ? dflt : read(o[key], `${path}.${key}`);
}

/** Reads o[key] with `read`; a missing key is reported by name. */
export function required<T>(o: Obj, key: string, path: string, read: (v: unknown, p: string) => T): T {
  if (o[key] === undefined) throw new InputError(`${path}.${key}`, 'is required');
  return read(o[key], `${path}.${key}`);
}

/** Rejects keys not in `known`: a typo in config must not be silently ignored. */
export function noUnknownKeys(o: Obj, path: string, known: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw new InputError(`${path}.${k}`, `unknown field (known: ${known.join(', ')})`);
  }
}
