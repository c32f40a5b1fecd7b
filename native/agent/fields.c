#include "fields.h"

const struct field_info FIELDS[F_COUNT] = {
    [F_MEM_TOTAL] = {"MemTotal", SRC_MEMINFO, 1, 1, TRIG_MEMORY},
    [F_MEM_FREE] = {"MemFree", SRC_MEMINFO, 1, 1, TRIG_MEMORY},
    [F_MEM_AVAILABLE] = {"MemAvailable", SRC_MEMINFO, 1, 0, TRIG_MEMORY},
    [F_COMMITTED_AS] = {"Committed_AS", SRC_MEMINFO, 1, 1, TRIG_MEMORY},
    [F_SWAP_TOTAL] = {"SwapTotal", SRC_MEMINFO, 1, 1, TRIG_MEMORY},
    [F_SWAP_FREE] = {"SwapFree", SRC_MEMINFO, 1, 1, TRIG_MEMORY},
    [F_PSWPIN] = {"pswpin", SRC_VMSTAT, 0, 0, TRIG_ACTIVITY},
    [F_PSWPOUT] = {"pswpout", SRC_VMSTAT, 0, 0, TRIG_ACTIVITY},
    [F_PGMAJFAULT] = {"pgmajfault", SRC_VMSTAT, 0, 0, TRIG_ACTIVITY},
    [F_REFAULT_ANON] = {"workingset_refault_anon", SRC_VMSTAT, 0, 0, TRIG_NONE},
    [F_REFAULT_FILE] = {"workingset_refault_file", SRC_VMSTAT, 0, 0, TRIG_NONE},
    [F_PSI_SOME_AVG10] = {"psi_some_avg10", SRC_PRESSURE, 0, 0, TRIG_NONE},
    [F_PSI_FULL_AVG10] = {"psi_full_avg10", SRC_PRESSURE, 0, 0, TRIG_NONE},
    [F_PSI_SOME_TOTAL] = {"psi_some_total", SRC_PRESSURE, 0, 0, TRIG_NONE},
    [F_PSI_FULL_TOTAL] = {"psi_full_total", SRC_PRESSURE, 0, 0, TRIG_NONE},
};

const char *const SOURCE_NAMES[SRC_COUNT] = {"meminfo", "vmstat", "pressure"};

field_set required_fields(void) {
  field_set s = 0;
  for (int f = 0; f < F_COUNT; f++)
    if (FIELDS[f].required) s |= FIELD_BIT(f);
  return s;
}
