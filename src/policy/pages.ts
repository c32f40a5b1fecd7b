// Page arithmetic. Xen and KVM move memory in 4 KiB pages (x86 base page), so every goal and
// target the policy emits is a whole number of pages.

/** x86 base page, in KiB: the unit Xen's balloon and virtio-balloon move. */
export const PAGE_KIB = 4;

/** Largest page multiple <= kib. */
export function pageDown(kib: number): number {
  return Math.floor(kib / PAGE_KIB) * PAGE_KIB;
}

/** Smallest page multiple >= kib. */
export function pageUp(kib: number): number {
  return Math.ceil(kib / PAGE_KIB) * PAGE_KIB;
}

/** Bounds in whole pages: min up, max down; a range inside one page collapses onto max. */
export function pageBounds(minKiB: number, maxKiB: number): [number, number] {
  const hi = pageDown(maxKiB);
  const lo = Math.min(pageUp(minKiB), hi);
  return [lo, hi];
}

export function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

// Fraction keys pack (fraction, index) into one double so a plain numeric Float64Array sort
// (no comparator: several times faster at 10,000 guests) orders by fraction, ties by index.
const FRACTION_BITS = 2 ** 32; // fraction resolution: 2^-32 of a page
const INDEX_LIMIT = 2 ** 20; // 32 + 20 bits < 53: the key is an exact double

/**
 * Rounds real KiB values to whole pages so that the result sums to exactly totalKiB (a page
 * multiple), keeping each value within [lo_i, hi_i] (page multiples): largest-remainder
 * (Hamilton) rounding. Each value moves by less than a page when the reals already sum to
 * totalKiB; float error in the reals only decides which values get the odd pages.
 * Deterministic: equal remainders go to the later index first.
 * Precondition: sum lo <= totalKiB <= sum hi, lo_i <= hi_i.
 */
export function roundPagesExact(
  values: ArrayLike<number>,
  lo: ArrayLike<number>,
  hi: ArrayLike<number>,
  totalKiB: number,
): number[] {
  const n = values.length;
  const out = new Array<number>(n);
  let sumPages = 0;
  for (let i = 0; i < n; i++) {
    const floor = clamp(pageDown(values[i]!), lo[i]!, hi[i]!);
    out[i] = floor;
    sumPages += floor / PAGE_KIB;
  }
  let diff = totalKiB / PAGE_KIB - sumPages;
  if (diff === 0) return out;

  // Order by remainder (value - floor, in pages): hand odd pages out from the largest.
  const order = orderByRemainder(values, out);
  if (diff > 0) {
    // Largest remainders first; if float error leaves more pages than remainders, keep
    // going round everyone with room.
    while (diff > 0) {
      let gave = false;
      for (let k = n - 1; k >= 0 && diff > 0; k--) {
        const i = order[k]!;
        if (out[i]! + PAGE_KIB <= hi[i]!) {
          out[i]! += PAGE_KIB;
          diff--;
          gave = true;
        }
      }
      if (!gave) break; // everyone at hi: precondition broken, return what fits
    }
  } else {
    while (diff < 0) {
      let took = false;
      for (let k = 0; k < n && diff < 0; k++) {
        const i = order[k]!;
        if (out[i]! - PAGE_KIB >= lo[i]!) {
          out[i]! -= PAGE_KIB;
          diff++;
          took = true;
        }
      }
      if (!took) break;
    }
  }
  return out;
}

/** Indices sorted by ascending remainder (values[i] - floors[i]) in pages. */
function orderByRemainder(values: ArrayLike<number>, floors: ArrayLike<number>): ArrayLike<number> {
  const n = values.length;
  const frac = new Float64Array(n);
  for (let i = 0; i < n; i++) frac[i] = (values[i]! - floors[i]!) / PAGE_KIB;
  return orderByFraction(frac);
}

/**
 * Indices ordered by ascending fraction (values in [0, 1), clamped into it); equal fractions
 * (to 2^-32) in ascending index order. Numeric Float64Array sort of packed keys, no comparator.
 */
export function orderByFraction(frac: Float64Array): ArrayLike<number> {
  const n = frac.length;
  if (n < INDEX_LIMIT) {
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const f = clamp(frac[i]!, 0, 1 - 1 / FRACTION_BITS);
      keys[i] = Math.floor(f * FRACTION_BITS) * INDEX_LIMIT + i;
    }
    keys.sort();
    const order = new Uint32Array(n);
    for (let k = 0; k < n; k++) order[k] = keys[k]! % INDEX_LIMIT;
    return order;
  }
  const idx = Array.from({ length: n }, (_, i) => i);
  return idx.sort((a, b) => frac[a]! - frac[b]! || a - b);
}
