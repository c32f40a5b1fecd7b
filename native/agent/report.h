/* The report: its text (docs/agent-protocol.md: "Key: <integer>[ kB]" lines, absent fields left
 * out) and the rule deciding when one is sent (a change beyond the threshold, new swapping or
 * major faults, the fields present changed, or the heartbeat). */
#ifndef MEMCOOP_AGENT_REPORT_H
#define MEMCOOP_AGENT_REPORT_H

#include <stddef.h>

#include "sample.h"

/* The protocol's bound on a report (oxenstored refuses larger values). All fields at their
 * largest (16 digits) take under 700 bytes, so a report always fits. */
#define REPORT_MAX_BYTES 2048

/* Formats the present fields as report lines into buf; returns the length (no NUL counted). */
size_t report_format(const struct sample *s, char *buf, size_t cap);

struct report_rule {
  long long threshold_kib;
  long long heartbeat_ms;
};

struct report_state {
  int sent_once;
  long long last_sent_ms;
  struct sample last;
};

/* Why a report is due now, or NULL if none is ("first", "memory", "activity", "fields",
 * "heartbeat"). */
const char *report_due(const struct report_rule *r, const struct report_state *st, const struct sample *s,
                       long long now_ms);
void report_sent(struct report_state *st, const struct sample *s, long long now_ms);

#endif
