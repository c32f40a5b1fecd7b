/* The agent's settings: defaults, then a --config file's key=value lines, then the command line. */
#ifndef MEMCOOP_AGENT_OPTIONS_H
#define MEMCOOP_AGENT_OPTIONS_H

#include "sample.h"

/* Report when a memory field moved by this much: the supervisor's minimum step (MIN_STEP_KIB,
 * 4 MiB, src/policy/steps.ts); a smaller change cannot make Dom0 write a new target. */
#define DEFAULT_THRESHOLD_KIB 4096
/* The paper's 1 s tick. */
#define DEFAULT_INTERVAL_MS 1000
/* Half the supervisor's silence window (DEFAULT_SILENCE_TICKS = 10 ticks of 1 s,
 * src/vocabulary/config.ts), so one lost heartbeat does not make a quiet guest look silent. */
#define DEFAULT_HEARTBEAT_MS 5000
#define DEFAULT_PORT "/dev/virtio-ports/org.memcoop.agent.0"
#define XENBUS_DEVICE "/dev/xen/xenbus"

enum transport_kind { TRANSPORT_AUTO, TRANSPORT_XENSTORE, TRANSPORT_SERIAL };

struct options {
  int self_adjust;
  long long interval_ms;
  long long threshold_kib;
  long long heartbeat_ms;
  enum transport_kind transport;
  const char *port;
  int port_given;
  int domid; /* -1: relative paths */
  struct sources sources;
  int source_given[SRC_COUNT];
  int once;
};

/* Parses argv (and the --config file it names). Returns 0 to run, 1 when --help or --version was
 * printed, 2 on a usage error (one line printed). */
int options_parse(struct options *o, int argc, char **argv);

#endif
