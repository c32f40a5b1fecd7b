#include "handshake.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static const char *const MODES[] = {"self", "global", "held", "reclaim"};

void hs_init(struct handshake *h, int self_adjust) {
  memset(h, 0, sizeof *h);
  h->self_adjust = self_adjust;
  h->protocol = -1;
  h->retry_ms = HELLO_FIRST_RETRY_MS;
}

void hs_reset(struct handshake *h, long long now_ms, const char *why) {
  if (h->answered) logf_("saying hello again: %s", why);
  h->answered = 0;
  h->next_hello_ms = now_ms;
  h->retry_ms = HELLO_FIRST_RETRY_MS;
}

int hs_due(const struct handshake *h, long long now_ms) { return !h->answered && now_ms >= h->next_hello_ms; }

void hs_sent(struct handshake *h, long long now_ms) {
  h->next_hello_ms = now_ms + h->retry_ms;
  h->retry_ms = h->retry_ms * 2 > HELLO_MAX_RETRY_MS ? HELLO_MAX_RETRY_MS : h->retry_ms * 2;
}

int hs_hello_text(const struct handshake *h, char *buf, int cap) {
  return snprintf(buf, (size_t)cap, "protocol=%d selfAdjust=%d", PROTOCOL_VERSION, h->self_adjust ? 1 : 0);
}

int hs_answer(struct handshake *h, const char *mode, int protocol) {
  const char *known = NULL;
  for (size_t i = 0; i < sizeof MODES / sizeof MODES[0]; i++)
    if (strcmp(mode, MODES[i]) == 0) known = MODES[i];
  if (!known) return -1;
  if (!h->answered) {
    if (protocol >= 0) logf_("mode %s (Dom0 answered; protocol %d)", known, protocol);
    else logf_("mode %s (Dom0 answered; protocol not given)", known);
  } else if (strcmp(h->mode, known) != 0) {
    logf_("mode %s (was %s)", known, h->mode);
  }
  h->answered = 1;
  h->protocol = protocol;
  snprintf(h->mode, sizeof h->mode, "%s", known);
  return 0;
}

long long hs_deadline(const struct handshake *h) { return h->answered ? LLONG_MAX : h->next_hello_ms; }
