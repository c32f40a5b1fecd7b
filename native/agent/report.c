#include "report.h"

#include <stdio.h>
#include <string.h>

size_t report_format(const struct sample *s, char *buf, size_t cap) {
  size_t len = 0;
  for (int f = 0; f < F_COUNT; f++) {
    if (!(s->present & FIELD_BIT(f))) continue;
    int n = snprintf(buf + len, cap - len, "%s: %llu%s\n", FIELDS[f].key, (unsigned long long)s->value[f],
                     FIELDS[f].kib ? " kB" : "");
    if (n < 0 || (size_t)n >= cap - len) break; /* cannot happen within REPORT_MAX_BYTES */
    len += (size_t)n;
  }
  return len;
}

const char *report_due(const struct report_rule *r, const struct report_state *st, const struct sample *s,
                       long long now_ms) {
  if (!st->sent_once) return "first";
  if (s->present != st->last.present) return "fields";
  for (int f = 0; f < F_COUNT; f++) {
    if (!(s->present & FIELD_BIT(f))) continue;
    uint64_t a = s->value[f], b = st->last.value[f];
    if (FIELDS[f].trigger == TRIG_MEMORY && (a > b ? a - b : b - a) >= (uint64_t)r->threshold_kib) return "memory";
    if (FIELDS[f].trigger == TRIG_ACTIVITY && a > b) return "activity";
  }
  if (now_ms - st->last_sent_ms >= r->heartbeat_ms) return "heartbeat";
  return NULL;
}

void report_sent(struct report_state *st, const struct sample *s, long long now_ms) {
  st->sent_once = 1;
  st->last_sent_ms = now_ms;
  st->last = *s;
}
