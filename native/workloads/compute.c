/* compute: CPU only, a few KiB of memory; its runtime changes only with CPU contention.
 * usage: compute [million_iterations=200] */
#include "workload.h"

int main(int argc, char **argv) {
  unsigned long millions = arg_ul(argc, argv, 1, 200);
  uint64_t start = now_ms(), x = 88172645463325252ULL, acc = 0;
  for (unsigned long m = 0; m < millions; m++)
    for (unsigned long i = 0; i < 1000000UL; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      acc += x >> 60;
    }
  print_result("compute", start, acc);
  return 0;
}
