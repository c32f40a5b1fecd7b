#include "options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handshake.h"
#include "log.h"

#ifndef AGENT_VERSION
#define AGENT_VERSION "0.1.0"
#endif

/* A --config file is small: a handful of key=value lines. */
#define CONFIG_MAX_BYTES 4096
#define CONFIG_LINE_BYTES 256
/* Values kept from the config file (the options point into it). */
static char config_store[CONFIG_MAX_BYTES];
static size_t config_used;

static const char USAGE[] =
    "Usage: memcoop-agent [options]\n"
    "Reports this guest's memory to memcoop in Dom0 (docs/agent.md, docs/agent-protocol.md).\n"
    "\n"
    "  --transport xenstore|virtio-serial  default: virtio-serial if the port exists, else xenstore\n"
    "  --port PATH          virtio-serial port, or a unix socket to connect to\n"
    "                       (default " DEFAULT_PORT ")\n"
    "  --domid N            XenStore: use /local/domain/N/... instead of this domain's own\n"
    "                       relative paths (the environment's XENSTORED_PATH picks a socket)\n"
    "  --self-adjust 0|1    this guest's preference, sent in its hello (default 1)\n"
    "  --interval S         read the files every S seconds (default 1)\n"
    "  --threshold KIB      report when a memory field moved by KIB (default 4096)\n"
    "  --heartbeat S        report at least every S seconds (default 5)\n"
    "  --meminfo PATH       default /proc/meminfo\n"
    "  --vmstat PATH        default /proc/vmstat\n"
    "  --pressure PATH      default /proc/pressure/memory\n"
    "  --config FILE        key=value lines: any long option without its dashes\n"
    "                       (self-adjust=0); the command line wins\n"
    "  --once               print one report on stdout and exit\n"
    "  --help, --version\n"
    "Exit status: 0 on SIGTERM/SIGINT or after --once; 1 when a path or transport is unusable;\n"
    "2 on a bad option.\n";

static int bad(const char *origin, const char *name, const char *why) {
  logf_("%s%s: %s (see --help)", origin, name, why);
  return 2;
}

/* A decimal number of seconds with at most 3 decimals, > 0, as ms. */
static int parse_seconds(const char *s, long long *ms) {
  char *end;
  errno = 0;
  long long whole = strtoll(s, &end, 10);
  if (end == s || errno || whole < 0 || whole > 86400) return -1;
  long long frac = 0;
  int digits = 0;
  if (*end == '.') {
    end++;
    while (*end >= '0' && *end <= '9' && digits < 3) {
      frac = frac * 10 + (*end - '0');
      end++;
      digits++;
    }
    if (digits == 0) return -1;
  }
  if (*end) return -1;
  while (digits++ < 3) frac *= 10;
  *ms = whole * 1000 + frac;
  return *ms > 0 ? 0 : -1;
}

static int parse_int(const char *s, long long lo, long long hi, long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (end == s || *end || errno || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

/* Sets one option by name ("interval", ...). origin prefixes messages ("--" or "FILE:LINE: "). */
static int set_option(struct options *o, const char *origin, const char *name, const char *value) {
  long long v;
  if (strcmp(name, "self-adjust") == 0) {
    if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0) return bad(origin, name, "expected 0 or 1");
    o->self_adjust = value[0] == '1';
  } else if (strcmp(name, "interval") == 0) {
    if (parse_seconds(value, &o->interval_ms) != 0) return bad(origin, name, "expected seconds > 0 (e.g. 1 or 0.5)");
  } else if (strcmp(name, "heartbeat") == 0) {
    if (parse_seconds(value, &o->heartbeat_ms) != 0) return bad(origin, name, "expected seconds > 0 (e.g. 5)");
  } else if (strcmp(name, "threshold") == 0) {
    if (parse_int(value, 0, 1LL << 40, &o->threshold_kib) != 0) return bad(origin, name, "expected KiB >= 0");
  } else if (strcmp(name, "domid") == 0) {
    /* DOMID_FIRST_RESERVED is 0x7ff0 (xen/include/public/xen.h). */
    if (parse_int(value, 0, 0x7fef, &v) != 0) return bad(origin, name, "expected a domid (0-32751)");
    o->domid = (int)v;
  } else if (strcmp(name, "transport") == 0) {
    if (strcmp(value, "xenstore") == 0) o->transport = TRANSPORT_XENSTORE;
    else if (strcmp(value, "virtio-serial") == 0) o->transport = TRANSPORT_SERIAL;
    else return bad(origin, name, "expected xenstore or virtio-serial");
  } else if (strcmp(name, "port") == 0) {
    o->port = value;
    o->port_given = 1;
  } else if (strcmp(name, "meminfo") == 0 || strcmp(name, "vmstat") == 0 || strcmp(name, "pressure") == 0) {
    int i = name[0] == 'm' ? SRC_MEMINFO : name[0] == 'v' ? SRC_VMSTAT : SRC_PRESSURE;
    o->sources.path[i] = value;
    o->source_given[i] = 1;
  } else {
    return bad(origin, name, "unknown option");
  }
  return 0;
}

static int read_config(struct options *o, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    logf_("cannot read config %s: %s", path, strerror(errno));
    return 2;
  }
  char line[CONFIG_LINE_BYTES];
  int n = 0, rc = 0;
  while (rc == 0 && fgets(line, sizeof line, f)) {
    n++;
    char origin[CONFIG_LINE_BYTES + 32];
    snprintf(origin, sizeof origin, "%s:%d: ", path, n);
    size_t len = strlen(line);
    if (len && line[len - 1] == '\n') line[--len] = '\0';
    char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '\0' || *p == '#') continue;
    char *eq = strchr(p, '=');
    if (!eq) {
      rc = bad(origin, p, "expected key=value");
      break;
    }
    *eq = '\0';
    char *value = eq + 1;
    size_t vlen = strlen(value) + 1;
    if (config_used + vlen > sizeof config_store) {
      rc = bad(origin, p, "config file too large");
      break;
    }
    char *kept = memcpy(config_store + config_used, value, vlen);
    config_used += vlen;
    if (strcmp(p, "config") == 0 || strcmp(p, "once") == 0) rc = bad(origin, p, "not allowed in a config file");
    else rc = set_option(o, origin, p, kept);
  }
  fclose(f);
  return rc;
}

int options_parse(struct options *o, int argc, char **argv) {
  memset(o, 0, sizeof *o);
  o->self_adjust = 1;
  o->interval_ms = DEFAULT_INTERVAL_MS;
  o->threshold_kib = DEFAULT_THRESHOLD_KIB;
  o->heartbeat_ms = DEFAULT_HEARTBEAT_MS;
  o->port = DEFAULT_PORT;
  o->domid = -1;
  o->sources.path[SRC_MEMINFO] = "/proc/meminfo";
  o->sources.path[SRC_VMSTAT] = "/proc/vmstat";
  o->sources.path[SRC_PRESSURE] = "/proc/pressure/memory";

  /* First pass: --help, --version, --config (applied before the rest of the command line). */
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(USAGE, stdout);
      return 1;
    }
    if (strcmp(argv[i], "--version") == 0) {
      printf("memcoop-agent %s (protocol %d; transports: xenstore, virtio-serial)\n", AGENT_VERSION, PROTOCOL_VERSION);
      return 1;
    }
  }
  for (int i = 1; i < argc; i++) {
    const char *file = NULL;
    if (strcmp(argv[i], "--config") == 0) {
      if (i + 1 >= argc) return bad("--", "config", "needs a value");
      file = argv[i + 1];
    } else if (strncmp(argv[i], "--config=", 9) == 0) {
      file = argv[i] + 9;
    }
    if (file) {
      int rc = read_config(o, file);
      if (rc) return rc;
    }
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2) != 0) return bad("", a, "unexpected argument");
    const char *name = a + 2;
    if (strcmp(name, "once") == 0) {
      o->once = 1;
      continue;
    }
    char namebuf[32];
    const char *value;
    const char *eq = strchr(name, '=');
    if (eq) {
      /* --name=value */
      size_t n = (size_t)(eq - name);
      if (n >= sizeof namebuf) return bad("--", name, "unknown option");
      memcpy(namebuf, name, n);
      namebuf[n] = '\0';
      name = namebuf;
      value = eq + 1;
    } else {
      if (i + 1 >= argc) return bad("--", name, "needs a value");
      value = argv[++i];
    }
    if (strcmp(name, "config") == 0) continue;
    int rc = set_option(o, "--", name, value);
    if (rc) return rc;
  }
  return 0;
}
