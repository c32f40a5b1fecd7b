#include "xs_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define XENBUS_DEVICE "/dev/xen/xenbus"
/* Older kernels, and guests without devtmpfs: the same device through xenfs. */
#define XENBUS_PROC "/proc/xen/xenbus"
/* libxenstore's default socket in Dom0 (xs_daemon_socket: XENSTORED_RUNDIR "/socket"). */
#define DEFAULT_SOCKET "/run/xenstored/socket"

struct xsd_sockmsg {
  uint32_t type, req_id, tx_id, len;
};

static int fd = -1;
static int lost;
static int event_seen;
static uint32_t next_req_id;
/* Bytes received and not yet consumed: at most one whole message and the start of the next. */
static unsigned char in_buf[2 * (sizeof(struct xsd_sockmsg) + XSW_PAYLOAD_MAX)];
static size_t in_len;
static unsigned char out_buf[sizeof(struct xsd_sockmsg) + XSW_PAYLOAD_MAX];

static const struct {
  int num;
  const char *name;
} ERRORS[] = {{EINVAL, "EINVAL"}, {EACCES, "EACCES"}, {EEXIST, "EEXIST"}, {EISDIR, "EISDIR"},
              {ENOENT, "ENOENT"}, {ENOMEM, "ENOMEM"}, {ENOSPC, "ENOSPC"}, {EIO, "EIO"},
              {ENOTEMPTY, "ENOTEMPTY"}, {ENOSYS, "ENOSYS"}, {EROFS, "EROFS"}, {EBUSY, "EBUSY"},
              {EAGAIN, "EAGAIN"}, {EISCONN, "EISCONN"}, {E2BIG, "E2BIG"}, {EPERM, "EPERM"}};

static long long mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail_lost(int e) {
  lost = 1;
  errno = e;
  return -1;
}

static int open_socket(const char *path) {
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof a.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(a.sun_path, path, strlen(path) + 1);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
    int e = errno;
    close(s);
    errno = e;
    return -1;
  }
  return s;
}

int xsw_open(void) {
  xsw_close();
  const char *env = getenv("XENSTORED_PATH");
  struct stat st;
  if (env && *env) fd = open_socket(env);
  else if (stat(XENBUS_DEVICE, &st) == 0) fd = open(XENBUS_DEVICE, O_RDWR | O_CLOEXEC);
  else if (stat(XENBUS_PROC, &st) == 0) fd = open(XENBUS_PROC, O_RDWR | O_CLOEXEC);
  else fd = open_socket(DEFAULT_SOCKET);
  if (fd < 0) return -1;
  lost = 0;
  in_len = 0;
  event_seen = 0;
  return 0;
}

void xsw_close(void) {
  if (fd >= 0) close(fd);
  fd = -1;
  in_len = 0;
}

int xsw_fd(void) { return fd; }
int xsw_lost(void) { return lost || fd < 0; }

int xsw_has_event(void) { return event_seen; }

int xsw_take_event(void) {
  int e = event_seen;
  event_seen = 0;
  return e;
}

/* One whole message at the start of in_buf? Its header, else NULL (-1 in *bad if garbled). */
static const struct xsd_sockmsg *whole_msg(int *bad) {
  *bad = 0;
  if (in_len < sizeof(struct xsd_sockmsg)) return NULL;
  const struct xsd_sockmsg *h = (const struct xsd_sockmsg *)in_buf;
  if (h->len > XSW_PAYLOAD_MAX) {
    *bad = 1;
    return NULL;
  }
  return in_len >= sizeof *h + h->len ? h : NULL;
}

static void consume(const struct xsd_sockmsg *h) {
  size_t n = sizeof *h + h->len;
  memmove(in_buf, in_buf + n, in_len - n);
  in_len -= n;
}

/* Reads once (waiting up to timeout_ms; 0: not at all). 1 read something, 0 nothing, -1 lost. */
static int fill(int timeout_ms) {
  if (in_len == sizeof in_buf) return fail_lost(EPROTO); /* cannot happen: messages are consumed whole */
  struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
  int n = poll(&p, 1, timeout_ms);
  if (n < 0) return errno == EINTR ? 0 : fail_lost(errno);
  if (n == 0) return 0;
  ssize_t r = read(fd, in_buf + in_len, sizeof in_buf - in_len);
  if (r < 0) return errno == EINTR || errno == EAGAIN ? 0 : fail_lost(errno);
  if (r == 0) return fail_lost(ECONNRESET);
  in_len += (size_t)r;
  return 1;
}

/* Consumes the watch events at the head of in_buf; returns the first other message, or NULL. */
static const struct xsd_sockmsg *skip_events(void) {
  for (;;) {
    int bad;
    const struct xsd_sockmsg *h = whole_msg(&bad);
    if (bad) {
      fail_lost(EPROTO);
      return NULL;
    }
    if (!h) return NULL;
    if (h->type != XSW_WATCH_EVENT) return h;
    event_seen = 1;
    consume(h);
  }
}

int xsw_pump(void) {
  if (xsw_lost()) return -1;
  for (;;) {
    /* With no request waiting, anything but a watch event is out of turn. */
    if (skip_events()) return fail_lost(EPROTO);
    if (lost) return -1;
    int r = fill(0);
    if (r < 0) return -1;
    if (r == 0) return 0;
  }
}

/* Sends one request and waits for its reply; the reply's payload is copied into reply. */
static int request(uint32_t type, const char *a, size_t alen, const char *b, size_t blen, char *reply, size_t cap,
                   size_t *got) {
  if (xsw_lost()) {
    errno = ENOTCONN;
    return -1;
  }
  struct xsd_sockmsg h = {type, ++next_req_id, 0, (uint32_t)(alen + blen)};
  if (alen + blen > XSW_PAYLOAD_MAX) {
    errno = E2BIG;
    return -1;
  }
  memcpy(out_buf, &h, sizeof h);
  memcpy(out_buf + sizeof h, a, alen);
  if (blen) memcpy(out_buf + sizeof h + alen, b, blen);
  /* One write: /dev/xen/xenbus takes a message per write. */
  size_t total = sizeof h + alen + blen, off = 0;
  while (off < total) {
    ssize_t w = write(fd, out_buf + off, total - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return fail_lost(errno);
    }
    off += (size_t)w;
  }
  long long deadline = mono_ms() + XSW_REPLY_TIMEOUT_MS;
  for (;;) {
    const struct xsd_sockmsg *r = skip_events();
    if (lost) return -1;
    if (r) {
      if (r->req_id != h.req_id) return fail_lost(EPROTO);
      const char *payload = (const char *)(r + 1);
      int err = 0;
      if (r->type == XSW_ERROR) {
        err = EIO;
        for (size_t i = 0; i < sizeof ERRORS / sizeof ERRORS[0]; i++)
          if (strncmp(payload, ERRORS[i].name, r->len) == 0 && strlen(ERRORS[i].name) + 1 == r->len) err = ERRORS[i].num;
      } else if (r->type != type) {
        return fail_lost(EPROTO);
      } else if (reply) {
        size_t n = r->len < cap - 1 ? r->len : cap - 1;
        memcpy(reply, payload, n);
        reply[n] = '\0';
        if (got) *got = n;
      }
      consume(r);
      if (err) {
        errno = err;
        return -1;
      }
      return 0;
    }
    long long left = deadline - mono_ms();
    if (left <= 0) return fail_lost(ETIMEDOUT);
    if (fill((int)left) < 0) return -1;
  }
}

int xsw_write(const char *path, const char *value, size_t len) {
  return request(XSW_WRITE, path, strlen(path) + 1, value, len, NULL, 0, NULL);
}

int xsw_read(const char *path, char *buf, size_t cap) {
  return request(XSW_READ, path, strlen(path) + 1, NULL, 0, buf, cap, NULL);
}

int xsw_watch(const char *path, const char *token) {
  /* path\0token\0 */
  return request(XSW_WATCH, path, strlen(path) + 1, token, strlen(token) + 1, NULL, 0, NULL);
}
