/* Registration (the paper's section 4.3 handshake, docs/agent-protocol.md): the agent says hello
 * until Dom0 answers with a mode, then follows the mode Dom0 writes. Shared by both transports;
 * they only move the bytes. */
#ifndef MEMCOOP_AGENT_HANDSHAKE_H
#define MEMCOOP_AGENT_HANDSHAKE_H

#define PROTOCOL_VERSION 1
/* A hello is re-sent until answered: after 1 s, then doubling up to 30 s, so an agent that
 * starts long before Dom0's daemon costs a write every 30 s at most. */
#define HELLO_FIRST_RETRY_MS 1000
#define HELLO_MAX_RETRY_MS 30000

struct handshake {
  int self_adjust;   /* the guest's own preference, sent in the hello */
  int answered;
  char mode[16];     /* self, global, held or reclaim once answered */
  int protocol;      /* Dom0's, as it wrote it (-1 unknown) */
  long long next_hello_ms;
  long long retry_ms;
};

void hs_init(struct handshake *h, int self_adjust);
/* Forget the answer and say hello now (a new connection, the mode key gone, "hello?"). */
void hs_reset(struct handshake *h, long long now_ms, const char *why);
int hs_due(const struct handshake *h, long long now_ms);
void hs_sent(struct handshake *h, long long now_ms);
/* The hello's text: "protocol=1 selfAdjust=1". */
int hs_hello_text(const struct handshake *h, char *buf, int cap);
/* Dom0 wrote a mode (protocol -1 if unknown); logs a change. Returns 0, or -1 if not a mode. */
int hs_answer(struct handshake *h, const char *mode, int protocol);
/* When the next hello is due (a large value once answered). */
long long hs_deadline(const struct handshake *h);

#endif
