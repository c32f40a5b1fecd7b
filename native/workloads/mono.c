/* mono: the paper's monotone workload. Memory grows from MIN to MAX MiB and back in STEP MiB
 * steps, writing every page of the current size PASSES times at each step.
 * usage: mono [min_mib=32] [max_mib=256] [step_mib=32] [passes=2] [rounds=1] */
#include "workload.h"

int main(int argc, char **argv) {
  unsigned long min = arg_ul(argc, argv, 1, 32), max = arg_ul(argc, argv, 2, 256);
  unsigned long step = arg_ul(argc, argv, 3, 32), passes = arg_ul(argc, argv, 4, 2);
  unsigned long rounds = arg_ul(argc, argv, 5, 1);
  if (min == 0 || max < min || step == 0) {
    fprintf(stderr, "usage: mono [min_mib] [max_mib] [step_mib] [passes] [rounds]\n");
    return 2;
  }
  uint64_t start = now_ms(), check = 0;
  struct region r = {0};
  for (unsigned long k = 0; k < rounds; k++) {
    for (unsigned long s = min; s <= max; s += step) {
      region_resize(&r, s * MIB);
      check += touch(r.base, r.bytes, passes);
    }
    for (unsigned long s = max - step; s >= min && s < max; s -= step) {
      region_resize(&r, s * MIB);
      check += touch(r.base, r.bytes, passes);
      if (s < step) break;
    }
  }
  print_result("mono", start, check);
  return 0;
}
