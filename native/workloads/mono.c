/* mono: the paper's monotone workload. Memory grows from MIN to MAX MiB and back in STEP MiB
 * steps, writing every page of the current size PASSES times at each step. PHASE rotates the
 * cycle by that many steps, so that two guests can run it out of phase (one shrinking while
 * the other grows): with PHASE = half the cycle the run starts at MAX.
 * usage: mono [min_mib=32] [max_mib=256] [step_mib=32] [passes=2] [rounds=1] [phase_steps=0] */
#include "workload.h"

/* Steps in one cycle: up from MIN to MAX and down to MIN, at most this many. */
#define MAX_CYCLE 4096

int main(int argc, char **argv) {
  unsigned long min = arg_ul(argc, argv, 1, 32), max = arg_ul(argc, argv, 2, 256);
  unsigned long step = arg_ul(argc, argv, 3, 32), passes = arg_ul(argc, argv, 4, 2);
  unsigned long rounds = arg_ul(argc, argv, 5, 1), phase = arg_ul(argc, argv, 6, 0);
  if (min == 0 || max < min || step == 0 || (max - min) / step >= MAX_CYCLE / 2) {
    fprintf(stderr, "usage: mono [min_mib] [max_mib] [step_mib] [passes] [rounds] [phase_steps]\n");
    return 2;
  }
  static unsigned long cycle[MAX_CYCLE];
  unsigned long n = 0;
  for (unsigned long s = min; s <= max; s += step) cycle[n++] = s;
  for (unsigned long k = n - 1; k-- > 0;) cycle[n++] = cycle[k]; /* back down to MIN */
  uint64_t start = now_ms(), check = 0;
  struct region r = {0};
  for (unsigned long i = 0; i < rounds * n; i++) {
    region_resize(&r, cycle[(i + phase) % n] * MIB);
    check += touch(r.base, r.bytes, passes);
  }
  print_result("mono", start, check);
  return 0;
}
