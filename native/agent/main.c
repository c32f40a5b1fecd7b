/* memcoop-agent: reads the guest's memory state every --interval, sends a report to Dom0 when it
 * changed enough, on new swapping or major faults, or at the heartbeat, and keeps the handshake
 * with Dom0 (docs/agent-protocol.md, docs/agent.md). Steady state allocates nothing: the files
 * are read into static buffers, the report is formatted into one. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "options.h"
#include "report.h"
#include "transport.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What was last said about the readings, so each problem is logged once per change. */
static field_set logged_missing;
static int logged_errno[SRC_COUNT];
static int logged_inconsistent;

/* Fields Dom0 needs, or that the kernel has but could not be read: required ones missing, and
 * any field whose line was garbled. Optional fields the kernel lacks are not a problem. */
static field_set problems(const struct sample *s) {
  field_set req = required_fields();
  field_set missing = s->unreadable;
  if (s->source_errno[SRC_MEMINFO] == 0) missing |= req & ~s->present;
  return missing;
}

static void log_readings(const struct options *o, const struct sample *s) {
  for (int i = 0; i < SRC_COUNT; i++) {
    if (s->source_errno[i] == logged_errno[i]) continue;
    if (s->source_errno[i])
      logf_("cannot read %s: %s; its fields are left out%s", o->sources.path[i], strerror(s->source_errno[i]),
            i == SRC_MEMINFO ? " and no report is sent" : "");
    else
      logf_("%s readable again", o->sources.path[i]);
    logged_errno[i] = s->source_errno[i];
  }
  field_set missing = problems(s);
  if (missing != logged_missing) {
    if (missing) {
      char names[512];
      size_t len = 0;
      for (int f = 0; f < F_COUNT; f++)
        if (missing & FIELD_BIT(f)) len += (size_t)snprintf(names + len, sizeof names - len, " %s", FIELDS[f].key);
      logf_("could not read:%s%s", names,
            missing & required_fields() ? " (a required field: no report is sent)" : " (left out of reports)");
    } else {
      logf_("every field readable again");
    }
    logged_missing = missing;
  }
}

/* A report Dom0 would refuse: a required field missing, or free above total. */
static int sendable(const struct sample *s) {
  field_set req = required_fields();
  if ((s->present & req) != req) return 0;
  int inconsistent = s->value[F_MEM_FREE] > s->value[F_MEM_TOTAL] || s->value[F_SWAP_FREE] > s->value[F_SWAP_TOTAL];
  if (inconsistent != logged_inconsistent) {
    logf_(inconsistent ? "MemFree exceeds MemTotal or SwapFree exceeds SwapTotal: no report is sent"
                       : "free and total consistent again");
    logged_inconsistent = inconsistent;
  }
  return !inconsistent;
}

/* At start: meminfo must be readable; vmstat and the pressure file may be absent (an old kernel,
 * no PSI) but not unreadable for another reason (permissions, a directory). */
static int check_paths(const struct options *o, const struct sample *s) {
  for (int i = 0; i < SRC_COUNT; i++) {
    int e = s->source_errno[i];
    if (e == 0 || (i != SRC_MEMINFO && e == ENOENT)) continue;
    logf_("cannot read %s: %s", o->sources.path[i], strerror(e));
    return -1;
  }
  return 0;
}

static int run_once(const struct options *o) {
  static struct sample s;
  static char text[REPORT_MAX_BYTES];
  sample_read(&o->sources, &s);
  if (check_paths(o, &s) != 0) return 1;
  log_readings(o, &s);
  size_t len = report_format(&s, text, sizeof text);
  fwrite(text, 1, len, stdout);
  fflush(stdout);
  return sendable(&s) ? 0 : 1;
}

static const struct transport *pick_transport(const struct options *o) {
  enum transport_kind k = o->transport;
  if (k == TRANSPORT_AUTO) {
    struct stat st;
    if (o->port_given || stat(o->port, &st) == 0) k = TRANSPORT_SERIAL;
    else if (stat(XENBUS_DEVICE, &st) == 0 || stat("/proc/xen/xenbus", &st) == 0 || getenv("XENSTORED_PATH"))
      k = TRANSPORT_XENSTORE;
    else {
      logf_("no transport: neither %s nor %s exists (not a Xen guest, and no memcoop virtio-serial port)", o->port,
            XENBUS_DEVICE);
      return NULL;
    }
  }
  if (k == TRANSPORT_SERIAL) return serial_transport(o->port);
  return xs_transport(o->domid);
}

int main(int argc, char **argv) {
  static struct options o;
  int rc = options_parse(&o, argc, argv);
  if (rc == 1) return 0;
  if (rc) return 2;
  if (o.once) return run_once(&o);

  static struct sample s;
  sample_read(&o.sources, &s);
  if (check_paths(&o, &s) != 0) return 1;

  const struct transport *t = pick_transport(&o);
  if (!t) return 1;

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  static struct handshake hs;
  hs_init(&hs, o.self_adjust);
  long long now = now_ms();
  if (t->start(&hs, now) != 0) return 1;
  logf_("started: %s transport, interval %lld ms, threshold %lld KiB, heartbeat %lld ms, selfAdjust=%d", t->name,
        o.interval_ms, o.threshold_kib, o.heartbeat_ms, o.self_adjust);

  static struct report_state rs;
  static char text[REPORT_MAX_BYTES];
  const struct report_rule rule = {o.threshold_kib, o.heartbeat_ms};
  long long next_tick = now;
  while (!stop_signal) {
    now = now_ms();
    t->service(now);
    if (now >= next_tick) {
      sample_read(&o.sources, &s);
      log_readings(&o, &s);
      const char *why = sendable(&s) ? report_due(&rule, &rs, &s, now) : NULL;
      if (why) {
        size_t len = report_format(&s, text, sizeof text);
        if (t->send_report(text, len, now) == 0) report_sent(&rs, &s, now);
      }
      /* The next tick on the interval's grid; a late tick skips rather than bunches up. */
      next_tick += o.interval_ms;
      if (next_tick <= now) next_tick = now + o.interval_ms;
      t->service(now);
    }
    long long wake = next_tick;
    long long d = t->deadline();
    if (d < wake) wake = d;
    long long wait = wake - now_ms();
    if (wait < 0) wait = 0;
    if (wait > INT_MAX) wait = INT_MAX;
    struct pollfd p = {.fd = -1, .events = 0, .revents = 0};
    p.fd = t->poll_fd(&p.events, now);
    int n = poll(&p, p.fd >= 0 ? 1 : 0, (int)wait);
    if (n > 0 && p.revents) t->on_ready(p.revents, now_ms());
  }
  t->stop();
  logf_("stopped (%s)", stop_signal == SIGTERM ? "SIGTERM" : "SIGINT");
  return 0;
}
