/* Shared helpers for the guest workloads: a resizable anonymous region whose size is what the
 * kernel counts in Committed_AS, page touching, timing, and the one result line each program
 * prints last:  result program=<name> ms=<runtime> [key=value ...]  */
#ifndef MEMCOOP_WORKLOAD_H
#define MEMCOOP_WORKLOAD_H
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

/* x86-64 base page; every page of the working set is written once per pass. */
#define PAGE_BYTES 4096UL
#define MIB (1024UL * 1024UL)

static inline uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline unsigned long arg_ul(int argc, char **argv, int i, unsigned long dflt) {
  if (i >= argc) return dflt;
  char *end = NULL;
  errno = 0;
  unsigned long v = strtoul(argv[i], &end, 10);
  if (errno || end == argv[i] || *end) {
    fprintf(stderr, "bad number: %s\n", argv[i]);
    exit(2);
  }
  return v;
}

/* A private writable mapping: its whole length counts in Committed_AS at once, touched or not. */
struct region {
  char *base;
  size_t bytes;
};

static inline void region_resize(struct region *r, size_t bytes) {
  if (bytes == r->bytes) return;
  if (bytes == 0) {
    if (r->base) munmap(r->base, r->bytes);
    r->base = NULL;
    r->bytes = 0;
    return;
  }
  void *p;
  if (!r->base)
    p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  else /* shrinking frees the tail (and its commit); growing may move the mapping */
    p = mremap(r->base, r->bytes, bytes, MREMAP_MAYMOVE);
  if (p == MAP_FAILED) {
    fprintf(stderr, "cannot map %zu MiB: %s\n", bytes / MIB, strerror(errno));
    exit(3);
  }
  r->base = p;
  r->bytes = bytes;
}

/* Writes one word in every page of [0, bytes), `passes` times; returns a checksum so the
 * compiler keeps the stores. */
static inline uint64_t touch(char *base, size_t bytes, unsigned long passes) {
  uint64_t sum = 0;
  for (unsigned long p = 0; p < passes; p++)
    for (size_t off = 0; off < bytes; off += PAGE_BYTES) {
      uint64_t *w = (uint64_t *)(base + off);
      *w += off + p;
      sum += *w;
    }
  return sum;
}

static inline void print_result(const char *name, uint64_t start_ms, uint64_t check) {
  printf("result program=%s ms=%llu check=%llu\n", name, (unsigned long long)(now_ms() - start_ms),
         (unsigned long long)(check & 0xffff));
  fflush(stdout);
}
#endif
