/* virtio-serial: a line protocol on /dev/virtio-ports/<name>, held open for the agent's life
 * (a guest that reopens its port loses what the host sent meanwhile). Writes never block: with no
 * host connected a write would, so the message is dropped. A unix socket at the path (tests, and
 * the KVM side's own tests, stand in for the port that way) is connected to as a client and
 * reconnected when it closes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "transport.h"

/* The protocol's longest line is 128 bytes; a longer one from the host is skipped whole. */
#define LINE_MAX_BYTES 128
/* A report framed ("report\n" ... "end\n") is at most 2048 + 12 bytes; a hello 40. One message
 * may wait for the rest of a partial write; the next is dropped until it has gone. */
#define OUT_BUF_BYTES 4096

static const char *port_path;
static int fd = -1;
static int is_socket;
static struct handshake *hs;
static long long reconnect_at = LLONG_MAX;
static long long reconnect_ms = RECONNECT_FIRST_MS;
/* On a virtio port with no host connected, poll reports POLLHUP at once (and read returns 0):
 * the port is left out of poll for this long, so the loop does not spin; the host's first
 * "hello?" waits at most this long. */
#define PORT_HUP_RETRY_MS 1000
static long long hup_until;
static char in_buf[LINE_MAX_BYTES + 1];
static size_t in_len;
static int in_discarding;
static char out_buf[OUT_BUF_BYTES];
static size_t out_len, out_off;
static int unknown_logged;

static void lost(long long now_ms, const char *why) {
  if (fd >= 0) close(fd);
  fd = -1;
  in_len = 0;
  in_discarding = 0;
  out_len = out_off = 0;
  logf_("%s %s; reconnecting", port_path, why);
  reconnect_at = now_ms + reconnect_ms;
}

static int try_connect(long long now_ms, int quiet) {
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  snprintf(a.sun_path, sizeof a.sun_path, "%s", port_path);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
    int e = errno;
    if (s >= 0) close(s);
    if (!quiet) logf_("cannot connect to %s: %s; retrying", port_path, strerror(e));
    reconnect_at = now_ms + reconnect_ms;
    reconnect_ms = reconnect_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : reconnect_ms * 2;
    return -1;
  }
  fd = s;
  reconnect_at = LLONG_MAX;
  reconnect_ms = RECONNECT_FIRST_MS;
  logf_("connected to %s", port_path);
  hs_reset(hs, now_ms, "reconnected");
  return 0;
}

static int st_start(struct handshake *h, long long now_ms) {
  hs = h;
  struct stat st;
  if (stat(port_path, &st) != 0) {
    logf_("no virtio-serial port at %s (%s): is the QEMU virtserialport there?", port_path, strerror(errno));
    return -1;
  }
  is_socket = S_ISSOCK(st.st_mode);
  if (is_socket) {
    try_connect(now_ms, 0);
    hs_reset(hs, now_ms, "start");
    return 0;
  }
  fd = open(port_path, O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    logf_("cannot open %s: %s", port_path, strerror(errno));
    return -1;
  }
  hs_reset(hs, now_ms, "start");
  return 0;
}

/* Flushes what is left of a partial write; 0 when nothing is left. */
static int flush_out(long long now_ms) {
  while (out_off < out_len) {
    ssize_t n = is_socket ? send(fd, out_buf + out_off, out_len - out_off, MSG_NOSIGNAL)
                          : write(fd, out_buf + out_off, out_len - out_off);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
      if (is_socket) lost(now_ms, "closed");
      return -1;
    }
    out_off += (size_t)n;
  }
  out_len = out_off = 0;
  return 0;
}

/* Sends one whole message or nothing (a partial write is finished before anything else). */
static int send_msg(const char *msg, size_t len, long long now_ms) {
  if (fd < 0 || len > OUT_BUF_BYTES) return -1;
  if (flush_out(now_ms) != 0) return -1;
  ssize_t n;
  do {
    n = is_socket ? send(fd, msg, len, MSG_NOSIGNAL) : write(fd, msg, len);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && is_socket) lost(now_ms, "closed");
    return -1;
  }
  if ((size_t)n < len) {
    memcpy(out_buf, msg + n, len - (size_t)n);
    out_len = len - (size_t)n;
    out_off = 0;
  }
  return 0;
}

static void send_hello(long long now_ms) {
  char line[64];
  int n = snprintf(line, sizeof line, "hello ");
  n += hs_hello_text(hs, line + n, (int)sizeof line - n);
  line[n++] = '\n';
  send_msg(line, (size_t)n, now_ms);
  hs_sent(hs, now_ms); /* sent or dropped: retried with backoff either way */
}

/* "mode <m> protocol=<n>" or "hello?". */
static void on_line(const char *line, long long now_ms) {
  if (strcmp(line, "hello?") == 0) {
    hs_reset(hs, now_ms, "the host asked (hello?)");
    send_hello(now_ms);
    return;
  }
  char mode[16];
  int protocol = -1, used = 0;
  if (sscanf(line, "mode %15[a-z] protocol=%d%n", mode, &protocol, &used) == 2 && line[used] == '\0' &&
      hs_answer(hs, mode, protocol) == 0)
    return;
  if (!unknown_logged) logf_("ignoring a line from the host that is not \"mode <m> protocol=<n>\" or \"hello?\"");
  unknown_logged = 1;
}

static void on_bytes(const char *p, size_t n, long long now_ms) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '\n') {
      if (!in_discarding) {
        in_buf[in_len] = '\0';
        on_line(in_buf, now_ms);
      }
      in_len = 0;
      in_discarding = 0;
    } else if (in_len < LINE_MAX_BYTES) {
      in_buf[in_len++] = p[i];
    } else {
      in_discarding = 1;
    }
  }
}

static int st_poll_fd(short *events, long long now_ms) {
  if (fd < 0 || now_ms < hup_until) return -1;
  *events = POLLIN | (out_len ? POLLOUT : 0);
  return fd;
}

static void st_on_ready(short revents, long long now_ms) {
  if (revents & POLLOUT) flush_out(now_ms);
  if (fd < 0) return;
  if (revents & (POLLIN | POLLHUP | POLLERR)) {
    char buf[512];
    for (;;) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n > 0) {
        on_bytes(buf, (size_t)n, now_ms);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      /* 0 or an error: a closed socket, or a port with no host connected. */
      if (is_socket) {
        lost(now_ms, n == 0 ? "closed" : strerror(errno));
      } else {
        /* The port stays open; the host will send hello? when it connects. */
        hup_until = now_ms + PORT_HUP_RETRY_MS;
      }
      break;
    }
  }
}

static void st_service(long long now_ms) {
  if (hup_until && now_ms >= hup_until) hup_until = 0;
  if (fd < 0 && is_socket && now_ms >= reconnect_at) try_connect(now_ms, 1);
  if (fd >= 0 && hs_due(hs, now_ms)) send_hello(now_ms);
}

static long long st_deadline(void) {
  if (fd < 0) return is_socket ? reconnect_at : LLONG_MAX;
  long long d = hs_deadline(hs);
  if (hup_until && hup_until < d) d = hup_until;
  return d;
}

static int st_send_report(const char *text, size_t len, long long now_ms) {
  /* "report\n", the lines, "end\n", framed in one write. */
  static char framed[OUT_BUF_BYTES];
  if (len + 11 > sizeof framed) return -1;
  memcpy(framed, "report\n", 7);
  memcpy(framed + 7, text, len);
  memcpy(framed + 7 + len, "end\n", 4);
  return send_msg(framed, len + 11, now_ms);
}

static void st_stop(void) {
  if (fd >= 0) close(fd);
  fd = -1;
}

static const struct transport SERIAL = {
    .name = "virtio-serial",
    .start = st_start,
    .poll_fd = st_poll_fd,
    .on_ready = st_on_ready,
    .service = st_service,
    .deadline = st_deadline,
    .send_report = st_send_report,
    .stop = st_stop,
};

const struct transport *serial_transport(const char *path) {
  port_path = path;
  return &SERIAL;
}
