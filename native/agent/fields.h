/* The report's fields (docs/agent-protocol.md): which file each comes from, its key there and
 * in the report, its unit, and whether Dom0 requires it. One table, used by the readers, the
 * change test and the formatter, so a field is added in one place. */
#ifndef MEMCOOP_AGENT_FIELDS_H
#define MEMCOOP_AGENT_FIELDS_H

#include <stdint.h>

enum source { SRC_MEMINFO, SRC_VMSTAT, SRC_PRESSURE, SRC_COUNT };

enum field {
  F_MEM_TOTAL,
  F_MEM_FREE,
  F_MEM_AVAILABLE,
  F_COMMITTED_AS,
  F_SWAP_TOTAL,
  F_SWAP_FREE,
  F_PSWPIN,
  F_PSWPOUT,
  F_PGMAJFAULT,
  F_REFAULT_ANON,
  F_REFAULT_FILE,
  F_PSI_SOME_AVG10,
  F_PSI_FULL_AVG10,
  F_PSI_SOME_TOTAL,
  F_PSI_FULL_TOTAL,
  F_COUNT
};

/* What a field is for when deciding whether to send a report. */
enum trigger {
  TRIG_NONE,     /* carried, never a reason to send on its own */
  TRIG_MEMORY,   /* a KiB amount: send when it moved by at least --threshold */
  TRIG_ACTIVITY, /* a counter: send when it grew (new swapping or major faults) */
};

struct field_info {
  const char *key;   /* as in the source file and in the report */
  enum source source;
  int kib;           /* 1: the report line ends in " kB" */
  int required;      /* Dom0 refuses a report without it */
  enum trigger trigger;
};

extern const struct field_info FIELDS[F_COUNT];
extern const char *const SOURCE_NAMES[SRC_COUNT];

typedef uint32_t field_set; /* bit i: field i */
#define FIELD_BIT(f) ((field_set)1u << (f))
/* Every required field (MemTotal, MemFree, Committed_AS, SwapTotal, SwapFree). */
field_set required_fields(void);

#endif
