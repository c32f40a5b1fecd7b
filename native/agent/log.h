/* One line per event on stderr, prefixed with the program's name (systemd's journal adds the
 * time). */
#ifndef MEMCOOP_AGENT_LOG_H
#define MEMCOOP_AGENT_LOG_H

#define AGENT_NAME "memcoop-agent"

void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
