// Builders for peer-policy test inputs: memory in MiB where a test reads better that way.
import type { DecideInput, Dom0Input, GuestInput, PolicyParams } from '../../../../src/policy/types.ts';

export const MiB = 1024;

export const PARAMS: PolicyParams = { tau: 0.75, eps: 0.1, reserveKiB: 50 * MiB, upRatio: 1, downRatio: 4 };

export function guest(id: string, over: Partial<GuestInput> = {}): GuestInput {
  return {
    id,
    minKiB: 256 * MiB,
    maxKiB: 2048 * MiB,
    currentKiB: 1024 * MiB,
    committedKiB: 512 * MiB,
    freeKiB: 256 * MiB,
    swapTotalKiB: 0,
    swapFreeKiB: 0,
    shares: 1,
    agent: true,
    ...over,
  };
}

export function dom0(over: Partial<Dom0Input> = {}): Dom0Input {
  return { currentKiB: 1024 * MiB, committedKiB: 1024 * MiB, minKiB: 512 * MiB, maxKiB: 4096 * MiB, ...over };
}

export function input(freeKiB: number, guests: GuestInput[], d0: Partial<Dom0Input> = {}, params: Partial<PolicyParams> = {}): DecideInput {
  return { params: { ...PARAMS, ...params }, host: { freeKiB }, dom0: dom0(d0), guests };
}

/** The decision's guest by id (throws if missing, so a test cannot pass on undefined). */
export function byId<T extends { id: string }>(list: readonly T[], id: string): T {
  const found = list.find((x) => x.id === id);
  if (found === undefined) throw new Error(`no guest ${id} in decision`);
  return found;
}
