#include "log.h"

#include <stdarg.h>
#include <stdio.h>

void logf_(const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, AGENT_NAME ": %s\n", line);
  fflush(stderr);
}
