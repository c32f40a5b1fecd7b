/* One reading of the guest's memory state: /proc/meminfo, /proc/vmstat and
 * /proc/pressure/memory, parsed into the report's fields. Each file is re-opened every tick
 * (open, read into a static buffer, close: no allocation) so that a file replaced on disk, or a
 * pressure file that appears later, is read as it is now. */
#ifndef MEMCOOP_AGENT_SAMPLE_H
#define MEMCOOP_AGENT_SAMPLE_H

#include "fields.h"

struct sample {
  uint64_t value[F_COUNT];
  field_set present;   /* read and well formed */
  field_set unreadable; /* its line was there but garbled, truncated or repeated */
  int source_errno[SRC_COUNT]; /* 0, or why the file could not be read */
};

struct sources {
  const char *path[SRC_COUNT];
};

/* Reads every source into *s (fields it could not read are absent, never 0). */
void sample_read(const struct sources *src, struct sample *s);

/* Exposed for the tests of the parsers through --once. */
void parse_meminfo(const char *text, long len, struct sample *s);
void parse_vmstat(const char *text, long len, struct sample *s);
void parse_pressure(const char *text, long len, struct sample *s);

#endif
