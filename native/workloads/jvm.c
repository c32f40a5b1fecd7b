/* jvm: a JVM-like heap. Reserves (commits: private writable, so it counts in Committed_AS at
 * once) RESERVE MiB up front, like a -Xmx heap, but touches only a part of it, growing from
 * START to END MiB in STEPS steps, PASSES passes per step. Committed_AS overstates this guest's
 * need by RESERVE - touched, which a policy that follows Committed_AS has to live with. With
 * HOLD_S, it keeps the heap (and so its commit) that many seconds before it reports and exits.
 * usage: jvm [reserve_mib=384] [start_mib=32] [end_mib=160] [steps=8] [passes=2] [hold_s=0] */
#include "workload.h"
#include <unistd.h>

int main(int argc, char **argv) {
  unsigned long reserve = arg_ul(argc, argv, 1, 384), lo = arg_ul(argc, argv, 2, 32);
  unsigned long hi = arg_ul(argc, argv, 3, 160), steps = arg_ul(argc, argv, 4, 8);
  unsigned long passes = arg_ul(argc, argv, 5, 2), hold = arg_ul(argc, argv, 6, 0);
  if (steps == 0 || hi < lo || reserve < hi) {
    fprintf(stderr, "usage: jvm [reserve_mib] [start_mib] [end_mib] [steps] [passes]\n");
    return 2;
  }
  uint64_t start = now_ms(), check = 0;
  struct region heap = {0};
  region_resize(&heap, reserve * MIB);
  for (unsigned long i = 0; i <= steps; i++) {
    unsigned long mib = lo + (hi - lo) * i / steps;
    check += touch(heap.base, mib * MIB, passes);
  }
  if (hold > 0) sleep((unsigned)hold);
  print_result("jvm", start, check);
  return 0;
}
