/* A transport moves the hello, the mode and the reports between the agent and Dom0: XenStore
 * (xs_transport.c) or a virtio-serial port (serial_transport.c). The main loop polls the fd a
 * transport names and calls it back; the transport keeps its connection (reconnecting with
 * backoff) and drives the handshake. */
#ifndef MEMCOOP_AGENT_TRANSPORT_H
#define MEMCOOP_AGENT_TRANSPORT_H

#include <stddef.h>

#include "handshake.h"

/* Reconnection backoff: 100 ms, doubling to 5 s (a restarted xenstored answers within 100 ms
 * here; 5 s keeps a long outage cheap). */
#define RECONNECT_FIRST_MS 100
#define RECONNECT_MAX_MS 5000

struct transport {
  const char *name;
  /* Connects; on a fatal start error prints one line and returns -1. */
  int (*start)(struct handshake *hs, long long now_ms);
  /* The fd to poll for input and the events wanted, or -1. */
  int (*poll_fd)(short *events, long long now_ms);
  /* The polled fd reported revents. */
  void (*on_ready)(short revents, long long now_ms);
  /* Timers: reconnect, hello retries. */
  void (*service)(long long now_ms);
  /* The next time service() has work, or LLONG_MAX. */
  long long (*deadline)(void);
  /* Sends a formatted report; 0 sent, -1 dropped (not connected, would block, failed). */
  int (*send_report)(const char *text, size_t len, long long now_ms);
  void (*stop)(void);
};

const struct transport *xs_transport(int domid /* -1: relative paths */);
const struct transport *serial_transport(const char *path);

#endif
