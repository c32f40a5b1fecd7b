/* random: the paper's random workload. STEPS working-set sizes drawn uniformly from
 * [MIN, MAX] MiB by a seeded generator (the same seed gives the same sizes on every guest and
 * trial); every page of each size is written PASSES times.
 * usage: random [seed=1] [steps=16] [min_mib=32] [max_mib=256] [passes=2] */
#include "workload.h"

/* xorshift64*: small, seedable, the same sequence everywhere. */
static uint64_t next(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 2685821657736338717ULL;
}

int main(int argc, char **argv) {
  uint64_t seed = arg_ul(argc, argv, 1, 1);
  unsigned long steps = arg_ul(argc, argv, 2, 16), min = arg_ul(argc, argv, 3, 32);
  unsigned long max = arg_ul(argc, argv, 4, 256), passes = arg_ul(argc, argv, 5, 2);
  if (min == 0 || max < min) {
    fprintf(stderr, "usage: random [seed] [steps] [min_mib] [max_mib] [passes]\n");
    return 2;
  }
  uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1, start = now_ms(), check = 0;
  struct region r = {0};
  for (unsigned long i = 0; i < steps; i++) {
    unsigned long mib = min + next(&s) % (max - min + 1);
    region_resize(&r, mib * MIB);
    check += touch(r.base, r.bytes, passes);
  }
  print_result("random", start, check);
  return 0;
}
