// No transfer the reserve would swallow (beyond the paper; params.rules.reserveFirst). The scarce
// balance moves memory between guests: it lowers one guest so that another can grow, and the
// two-phase rule pays the growth only out of host free memory beyond the reserve. When the host
// is below its reserve (it started there, or Dom0 or a new domain took it), what the lowered guest
// gives back refills the reserve first, and a transfer smaller than that deficit never reaches
// the guest it was for: the lowered guest only runs slower. Measured (`memcoop sim`, seed 1, host
// started with 0 MiB free against the 50 MiB reserve): paper-memory-memory lowered its antlr
// guest 214 -> 195 MiB in the first seconds, host free rose to 18 MiB and stayed there for 500 s,
// and the guest took 558.7 s against 482.9 s static (total 1061.4 s against 985.6 s); with no
// reserve the same run took 992.5 s, and paper-4vm 2906.6 s against 3151.0 s (static 3086.4 s).
// So while the host is below its reserve and Dom0 needs nothing, guests are not lowered for each
// other (their goals stand, their targets hold) unless the balance moves more than the deficit:
// then the deficit refills the reserve and the rest reaches the guests it was for. Pure.

/**
 * Whether the scarce balance's decreases should be held this tick: the host is below its reserve
 * by deficitKiB (> 0) and the balance lowers the guests by plannedDecreaseKiB in all (the sum of
 * N_i - goal_i over the guests it lowers), no more than the deficit.
 */
export function transferSwallowed(hostFreeKiB: number, reserveKiB: number, plannedDecreaseKiB: number): boolean {
  const deficit = reserveKiB - hostFreeKiB;
  return deficit > 0 && plannedDecreaseKiB > 0 && plannedDecreaseKiB <= deficit;
}
