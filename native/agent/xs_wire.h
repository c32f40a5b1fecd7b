/* A minimal XenStore client speaking the wire protocol itself (xen/include/public/io/xs_wire.h):
 * one connection, one request at a time, static buffers, no threads. Over /dev/xen/xenbus in a
 * guest, or a xenstored unix socket (XENSTORED_PATH, as libxenstore reads it).
 *
 * Why not libxenstore: Debian's static libxenstore.a is built without threads, and in that mode
 * a watch event that arrives while a request waits for its reply fails the request (EINVAL) and
 * leaves the reply unread on the connection; the agent watches memcoop/mode while it writes
 * reports, so that happens. Here a watch event met while waiting is noted and the wait goes on. */
#ifndef MEMCOOP_AGENT_XS_WIRE_H
#define MEMCOOP_AGENT_XS_WIRE_H

#include <stddef.h>

/* Message types used (xs_wire.h's enum xsd_sockmsg_type). */
enum {
  XSW_READ = 2,
  XSW_WATCH = 4,
  XSW_WRITE = 11,
  XSW_WATCH_EVENT = 15,
  XSW_ERROR = 16,
};
/* XENSTORE_PAYLOAD_MAX in xs_wire.h. */
#define XSW_PAYLOAD_MAX 4096
/* A xenstored that has not answered a request in this long is taken as gone (it answers in
 * ~40 us here; 5 s allows a Dom0 under heavy load). */
#define XSW_REPLY_TIMEOUT_MS 5000

/* Opens the connection: XENSTORED_PATH's socket if set, else /dev/xen/xenbus, else
 * /proc/xen/xenbus (xenfs), else the default Dom0 socket. Returns 0, or -1 with errno. */
int xsw_open(void);
void xsw_close(void);
int xsw_fd(void);
/* Writes path = value. 0, or -1 with errno (the daemon's error, or why the connection failed:
 * then xsw_lost() is true). */
int xsw_write(const char *path, const char *value, size_t len);
/* Reads path into buf (NUL-terminated, at most cap - 1 bytes). 0, or -1 with errno (ENOENT: no
 * such node). */
int xsw_read(const char *path, char *buf, size_t cap);
int xsw_watch(const char *path, const char *token);
/* Reads what is there without blocking, noting watch events. 0, or -1 if the connection is gone. */
int xsw_pump(void);
/* A watch event was seen since the last call (clears it). */
int xsw_take_event(void);
/* The same, without clearing it. */
int xsw_has_event(void);
/* The connection failed (EOF, an I/O error, a reply timeout, a garbled message). */
int xsw_lost(void);

#endif
