/* XenStore: the agent writes data/memcoop/hello and data/memcoop/meminfo under its own domain
 * and watches memcoop/mode, which only Dom0 writes. Paths are relative (libxenstore resolves them
 * against the guest's own /local/domain/<domid>) unless --domid gives an absolute home, as the
 * tests need: every client of the test xenstored is dom0. libxenstore honours XENSTORED_PATH.
 *
 * A lost connection (xenstored restarted) shows as a failed request: libxenstore's reader thread
 * closes its socket and the watch fd stays quiet, so the agent's writes (a report at least every
 * heartbeat) are what notice it. It then reconnects with backoff and says hello again: a
 * restarted xenstored starts empty. libxenstore allocates inside its requests; the agent's own
 * steady loop does not. */
#ifdef HAVE_XENSTORE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "log.h"
#include "transport.h"

#define WATCH_TOKEN "memcoop-mode"
/* Longest path: "/local/domain/32751/data/memcoop/meminfo" (41 bytes). */
#define PATH_BYTES 64

static struct xs_handle *xsh;
static struct handshake *hs;
static int home_domid = -1;
static char hello_path[PATH_BYTES], meminfo_path[PATH_BYTES], mode_path[PATH_BYTES], protocol_path[PATH_BYTES];
static long long reconnect_at = LLONG_MAX;
static long long reconnect_ms = RECONNECT_FIRST_MS;
static int bad_mode_logged;

static void make_path(char *buf, const char *rel) {
  if (home_domid >= 0) snprintf(buf, PATH_BYTES, "/local/domain/%d/%s", home_domid, rel);
  else snprintf(buf, PATH_BYTES, "%s", rel);
}

static void lost(long long now_ms, const char *what) {
  int e = errno;
  if (!xsh) return;
  logf_("XenStore %s failed (%s): reconnecting", what, strerror(e));
  xs_close(xsh);
  xsh = NULL;
  reconnect_at = now_ms + reconnect_ms;
}

static int connect_xs(long long now_ms, int quiet) {
  xsh = xs_open(0);
  if (xsh && !xs_watch(xsh, mode_path, WATCH_TOKEN)) {
    xs_close(xsh);
    xsh = NULL;
  }
  if (!xsh) {
    if (!quiet) logf_("cannot connect to xenstored: %s", strerror(errno));
    reconnect_at = now_ms + reconnect_ms;
    reconnect_ms = reconnect_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : reconnect_ms * 2;
    return -1;
  }
  reconnect_at = LLONG_MAX;
  reconnect_ms = RECONNECT_FIRST_MS;
  return 0;
}

static int xt_start(struct handshake *h, long long now_ms) {
  hs = h;
  make_path(hello_path, "data/memcoop/hello");
  make_path(meminfo_path, "data/memcoop/meminfo");
  make_path(mode_path, "memcoop/mode");
  make_path(protocol_path, "memcoop/protocol");
  if (connect_xs(now_ms, 1) != 0) {
    logf_("cannot connect to xenstored (%s): no /dev/xen/xenbus in this guest, or XENSTORED_PATH wrong?",
          strerror(errno));
    return -1;
  }
  hs_reset(hs, now_ms, "start");
  return 0;
}

static int xt_poll_fd(short *events, long long now_ms) {
  (void)now_ms;
  if (!xsh) return -1;
  *events = POLLIN;
  return xs_fileno(xsh);
}

/* Reads the mode Dom0 wrote: follows it, or says hello again if it is gone. */
static void read_mode(long long now_ms) {
  unsigned int len = 0;
  char *mode = xs_read(xsh, XBT_NULL, mode_path, &len);
  if (!mode) {
    if (errno == ENOENT) {
      if (hs->answered) hs_reset(hs, now_ms, "memcoop/mode was removed");
      return;
    }
    lost(now_ms, "read of memcoop/mode");
    return;
  }
  int protocol = -1;
  char *proto = xs_read(xsh, XBT_NULL, protocol_path, &len);
  if (proto) {
    protocol = atoi(proto);
    free(proto);
  }
  if (hs_answer(hs, mode, protocol) != 0) {
    if (!bad_mode_logged) logf_("memcoop/mode holds no known mode; waiting for Dom0 to write one");
    bad_mode_logged = 1;
  } else {
    bad_mode_logged = 0;
  }
  free(mode);
}

static void xt_on_ready(short revents, long long now_ms) {
  (void)revents;
  int fired = 0;
  char **vec;
  while (xsh && (vec = xs_check_watch(xsh)) != NULL) {
    free(vec);
    fired = 1;
  }
  if (xsh && fired) read_mode(now_ms);
}

static void xt_service(long long now_ms) {
  if (!xsh && now_ms >= reconnect_at) {
    if (connect_xs(now_ms, 1) != 0) return;
    logf_("reconnected to xenstored");
    hs_reset(hs, now_ms, "reconnected");
  }
  if (xsh && hs_due(hs, now_ms)) {
    char hello[64];
    int n = hs_hello_text(hs, hello, sizeof hello);
    if (!xs_write(xsh, XBT_NULL, hello_path, hello, (unsigned)n)) {
      lost(now_ms, "write of the hello");
      return;
    }
    hs_sent(hs, now_ms);
  }
}

static long long xt_deadline(void) {
  long long d = hs_deadline(hs);
  return reconnect_at < d ? reconnect_at : d;
}

static int xt_send_report(const char *text, size_t len, long long now_ms) {
  if (!xsh) return -1;
  if (!xs_write(xsh, XBT_NULL, meminfo_path, text, (unsigned)len)) {
    lost(now_ms, "write of the report");
    return -1;
  }
  return 0;
}

static void xt_stop(void) {
  if (xsh) xs_close(xsh);
  xsh = NULL;
}

static const struct transport XS = {
    .name = "xenstore",
    .start = xt_start,
    .poll_fd = xt_poll_fd,
    .on_ready = xt_on_ready,
    .service = xt_service,
    .deadline = xt_deadline,
    .send_report = xt_send_report,
    .stop = xt_stop,
};

const struct transport *xs_transport(int domid) {
  home_domid = domid;
  return &XS;
}
#else
#include <stddef.h>

#include "transport.h"

const struct transport *xs_transport(int domid) {
  (void)domid;
  return NULL;
}
#endif
