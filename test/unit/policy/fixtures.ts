// Builders for policy inputs in tests (not a test file itself).
import type { DecideInput, Dom0Input, GuestInput, PolicyParams } from '../../../src/policy/types.ts';

export const MIB = 1024;

export function guest(id: string, over: Partial<GuestInput> = {}): GuestInput {
  return {
    id,
    minKiB: 128 * MIB,
    maxKiB: 512 * MIB,
    currentKiB: 256 * MIB,
    committedKiB: 256 * MIB,
    freeKiB: 64 * MIB,
    swapTotalKiB: 0,
    swapFreeKiB: 0,
    shares: 1,
    agent: true,
    ...over,
  };
}

export function input(
  params: PolicyParams,
  hostFreeKiB: number,
  dom0: Dom0Input,
  guests: GuestInput[],
): DecideInput {
  return { params, host: { freeKiB: hostFreeKiB }, dom0, guests };
}
