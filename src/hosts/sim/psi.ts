// A simulated guest's pressure stall information (/proc/pressure/memory "some" avg10), so that
// its agent reports what a real Linux guest's agent reports and the policy's PSI rules
// (src/policy/pressure.ts) act in the simulator as they do on real guests. Without it the
// simulator predicted memcoop 1.75x slower than static on bench:kvm's memory + memory experiment
// where the real guests ran it in 0.30x (docs/measurements.md, "Simulator against real guests").
//
// The kernel's avg10 is an exponential moving average of the stalled share of wall time, with a
// 10 s window (kernel/sched/psi.c, updated every 2 s); here it is updated every simulator step
// with the same window: avg' = avg * e^(-dt/10 s) + share * (1 - e^(-dt/10 s)).

/** The averaging window of avg10 (kernel/sched/psi.c). */
export const PSI_WINDOW_MS = 10_000;

/** The average after dtMs in which the workload was stalled `share` of the time. */
export function psiAverage(avg: number, share: number, dtMs: number): number {
  if (dtMs <= 0) return avg;
  const keep = Math.exp(-dtMs / PSI_WINDOW_MS);
  return avg * keep + share * (1 - keep);
}

/** The report's unit: hundredths of a per cent (0.57 % is 57), a whole number. */
export function psiHundredths(fraction: number): number {
  return Math.round(Math.min(1, Math.max(0, fraction)) * 10_000);
}
