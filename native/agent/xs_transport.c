/* XenStore: the agent writes data/memcoop/hello and data/memcoop/meminfo under its own domain
 * and watches memcoop/mode, which only Dom0 writes. Paths are relative (xenstored resolves them
 * against the guest's own /local/domain/<domid>) unless --domid gives an absolute home, as the
 * tests need: every client of the test xenstored is dom0. XENSTORED_PATH names a socket.
 *
 * A lost connection (xenstored restarted) shows as EOF on the connection or a failed request;
 * the agent reconnects with backoff and says hello again: a restarted xenstored starts empty.
 * xs_wire.c speaks the protocol with static buffers, so nothing here allocates. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "transport.h"
#include "xs_wire.h"

#define WATCH_TOKEN "memcoop-mode"
/* Longest path: "/local/domain/32751/data/memcoop/meminfo" (41 bytes). */
#define PATH_BYTES 64
/* Dom0 writes a mode word ("reclaim") and a protocol number: a few bytes; more is not a mode. */
#define VALUE_BYTES 32

static int connected;
static struct handshake *hs;
static int home_domid = -1;
static char hello_path[PATH_BYTES], meminfo_path[PATH_BYTES], mode_path[PATH_BYTES], protocol_path[PATH_BYTES];
static long long reconnect_at = LLONG_MAX;
static long long reconnect_ms = RECONNECT_FIRST_MS;
static int bad_mode_logged;
static int refused_logged;
static int connect_failure_logged;

static void make_path(char *buf, const char *rel) {
  if (home_domid >= 0) snprintf(buf, PATH_BYTES, "/local/domain/%d/%s", home_domid, rel);
  else snprintf(buf, PATH_BYTES, "%s", rel);
}

static void lost(long long now_ms, const char *what) {
  int e = errno;
  if (!connected) return;
  logf_("XenStore %s failed (%s): reconnecting", what, strerror(e));
  xsw_close();
  connected = 0;
  reconnect_at = now_ms + reconnect_ms;
}

static int connect_xs(long long now_ms) {
  if (xsw_open() != 0 || xsw_watch(mode_path, WATCH_TOKEN) != 0) {
    int e = errno;
    xsw_close();
    reconnect_at = now_ms + reconnect_ms;
    reconnect_ms = reconnect_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : reconnect_ms * 2;
    errno = e;
    return -1;
  }
  connected = 1;
  reconnect_at = LLONG_MAX;
  return 0;
}

static int xt_start(struct handshake *h, long long now_ms) {
  hs = h;
  make_path(hello_path, "data/memcoop/hello");
  make_path(meminfo_path, "data/memcoop/meminfo");
  make_path(mode_path, "memcoop/mode");
  make_path(protocol_path, "memcoop/protocol");
  if (connect_xs(now_ms) != 0) {
    logf_("cannot connect to xenstored (%s): no /dev/xen/xenbus in this guest, or XENSTORED_PATH wrong?",
          strerror(errno));
    return -1;
  }
  hs_reset(hs, now_ms, "start");
  return 0;
}

static int xt_poll_fd(short *events, long long now_ms) {
  (void)now_ms;
  if (!connected) return -1;
  *events = POLLIN;
  return xsw_fd();
}

/* Reads the mode Dom0 wrote: follows it, or says hello again if it is gone. */
static void read_mode(long long now_ms) {
  char mode[VALUE_BYTES], proto[VALUE_BYTES];
  if (xsw_read(mode_path, mode, sizeof mode) != 0) {
    if (errno == ENOENT && !xsw_lost()) {
      if (hs->answered) hs_reset(hs, now_ms, "memcoop/mode was removed");
      return;
    }
    lost(now_ms, "read of memcoop/mode");
    return;
  }
  int protocol = -1;
  if (xsw_read(protocol_path, proto, sizeof proto) == 0) {
    char *end;
    long v = strtol(proto, &end, 10);
    if (end != proto && *end == '\0' && v >= 0 && v < INT_MAX) protocol = (int)v;
  } else if (xsw_lost()) {
    lost(now_ms, "read of memcoop/protocol");
    return;
  }
  if (hs_answer(hs, mode, protocol) != 0) {
    if (!bad_mode_logged) logf_("memcoop/mode holds no known mode; waiting for Dom0 to write one");
    bad_mode_logged = 1;
  } else {
    bad_mode_logged = 0;
  }
}

static void xt_on_ready(short revents, long long now_ms) {
  (void)revents;
  if (connected && xsw_pump() != 0) lost(now_ms, "connection");
}

static void xt_service(long long now_ms) {
  if (!connected && now_ms >= reconnect_at) {
    if (connect_xs(now_ms) != 0) {
      if (!connect_failure_logged) logf_("cannot reconnect to xenstored yet (%s); retrying", strerror(errno));
      connect_failure_logged = 1;
      return;
    }
    connect_failure_logged = 0;
    logf_("reconnected to xenstored");
    hs_reset(hs, now_ms, "reconnected");
  }
  if (!connected) return;
  /* Watch events seen, here or inside a request: the watch fires once when set, then on each
   * change of memcoop/mode. */
  while (connected && xsw_take_event()) read_mode(now_ms);
  if (connected && hs_due(hs, now_ms)) {
    char hello[64];
    int n = hs_hello_text(hs, hello, sizeof hello);
    if (xsw_write(hello_path, hello, (size_t)n) != 0) {
      lost(now_ms, "write of the hello");
      return;
    }
    reconnect_ms = RECONNECT_FIRST_MS; /* a request went through: the connection works */
    hs_sent(hs, now_ms);
  }
}

static long long xt_deadline(void) {
  if (!connected) return reconnect_at;
  /* An event seen inside a request is handled at once. */
  return xsw_has_event() ? 0 : hs_deadline(hs);
}

static int xt_send_report(const char *text, size_t len, long long now_ms) {
  if (!connected) return -1;
  if (xsw_write(meminfo_path, text, len) != 0) {
    /* E2BIG or EACCES from the daemon leave the connection usable: drop the report. */
    if (xsw_lost()) lost(now_ms, "write of the report");
    else if (!refused_logged) logf_("XenStore refused the report (%s); dropping reports until it takes one", strerror(errno));
    refused_logged = !xsw_lost();
    return -1;
  }
  refused_logged = 0;
  return 0;
}

static void xt_stop(void) {
  xsw_close();
  connected = 0;
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
