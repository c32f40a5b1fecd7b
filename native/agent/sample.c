#include "sample.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* /proc/meminfo is ~1.5 KB on Linux 6.x, /proc/vmstat ~5 KB (about 170 lines), the pressure file
 * about 110 bytes. A file larger than its buffer is cut; its cut last line counts as truncated. */
#define MEMINFO_BUF_BYTES (16 * 1024)
#define VMSTAT_BUF_BYTES (32 * 1024)
#define PRESSURE_BUF_BYTES 1024

static char meminfo_buf[MEMINFO_BUF_BYTES];
static char vmstat_buf[VMSTAT_BUF_BYTES];
static char pressure_buf[PRESSURE_BUF_BYTES];

/* Reads a whole file (at most cap bytes); returns its length, or -errno. */
static long read_file(const char *path, char *buf, long cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  long len = 0;
  while (len < cap) {
    ssize_t n = read(fd, buf + len, (size_t)(cap - len));
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return -e;
    }
    if (n == 0) break;
    len += n;
  }
  close(fd);
  return len;
}

/* Parses a decimal without sign; returns the end, or NULL if there are no digits or it overflows. */
static const char *parse_u64(const char *p, const char *end, uint64_t *out) {
  uint64_t v = 0;
  const char *start = p;
  while (p < end && *p >= '0' && *p <= '9') {
    uint64_t d = (uint64_t)(*p - '0');
    if (v > (UINT64_MAX - d) / 10) return NULL;
    v = v * 10 + d;
    p++;
  }
  if (p == start) return NULL;
  *out = v;
  return p;
}

/* Dom0's parser takes JavaScript numbers: a value above 2^53 - 1 is refused there, so here too. */
#define MAX_SAFE_VALUE ((UINT64_C(1) << 53) - 1)

static int find_field(enum source src, const char *key, long keylen) {
  for (int f = 0; f < F_COUNT; f++) {
    if (FIELDS[f].source != src) continue;
    if ((long)strlen(FIELDS[f].key) == keylen && memcmp(FIELDS[f].key, key, (size_t)keylen) == 0) return f;
  }
  return -1;
}

static void set_field(struct sample *s, int f, int ok, uint64_t v) {
  if (s->present & FIELD_BIT(f)) ok = 0; /* a key twice: neither copy is trusted */
  if (s->unreadable & FIELD_BIT(f)) return;
  if (ok && v <= MAX_SAFE_VALUE) {
    s->present |= FIELD_BIT(f);
    s->value[f] = v;
  } else {
    s->present &= ~FIELD_BIT(f);
    s->unreadable |= FIELD_BIT(f);
    s->value[f] = 0;
  }
}

/* Walks text line by line; a last line without its newline comes back with whole = 0. */
struct lines {
  const char *p, *end;
};

static int next_line(struct lines *it, const char **line, const char **lend, int *whole) {
  if (it->p >= it->end) return 0;
  const char *nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
  *line = it->p;
  *whole = nl != NULL;
  *lend = nl ? nl : it->end;
  it->p = *lend + 1;
  return 1;
}

#define FOR_EACH_LINE(text, len, line, lend, whole)   \
  const char *line, *lend;                            \
  int whole;                                          \
  for (struct lines it_ = {(text), (text) + (len)}; next_line(&it_, &line, &lend, &whole);)

/* meminfo: "Key:<spaces><digits> kB" (the fields read all carry kB). */
void parse_meminfo(const char *text, long len, struct sample *s) {
  FOR_EACH_LINE(text, len, line, lend, whole) {
    const char *colon = memchr(line, ':', (size_t)(lend - line));
    if (!colon) continue; /* not attributable to a field */
    int f = find_field(SRC_MEMINFO, line, colon - line);
    if (f < 0) continue;
    const char *p = colon + 1;
    while (p < lend && (*p == ' ' || *p == '\t')) p++;
    uint64_t v = 0;
    int ok = p > colon + 1 && whole;
    if (ok) p = parse_u64(p, lend, &v);
    ok = ok && p && lend - p == 3 && memcmp(p, " kB", 3) == 0;
    set_field(s, f, ok, v);
  }
}

/* vmstat: "key<space><digits>". */
void parse_vmstat(const char *text, long len, struct sample *s) {
  FOR_EACH_LINE(text, len, line, lend, whole) {
    const char *sp = memchr(line, ' ', (size_t)(lend - line));
    if (!sp) continue;
    int f = find_field(SRC_VMSTAT, line, sp - line);
    if (f < 0) continue;
    uint64_t v = 0;
    const char *p = whole ? parse_u64(sp + 1, lend, &v) : NULL;
    set_field(s, f, p && p == lend, v);
  }
}

/* avg10 is "%lu.%02lu" (per cent): returned in hundredths. */
static const char *parse_centi(const char *p, const char *end, uint64_t *out) {
  uint64_t whole = 0, frac = 0;
  p = parse_u64(p, end, &whole);
  if (!p || p + 3 > end || *p != '.' || p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9') return NULL;
  frac = (uint64_t)(p[1] - '0') * 10 + (uint64_t)(p[2] - '0');
  if (whole > MAX_SAFE_VALUE / 100) return NULL;
  *out = whole * 100 + frac;
  return p + 3;
}

/* pressure: "some avg10=0.00 avg60=0.00 avg300=0.00 total=0" and the same for "full". */
void parse_pressure(const char *text, long len, struct sample *s) {
  FOR_EACH_LINE(text, len, line, lend, whole) {
    int avg_f, total_f;
    if (lend - line >= 5 && memcmp(line, "some ", 5) == 0) {
      avg_f = F_PSI_SOME_AVG10;
      total_f = F_PSI_SOME_TOTAL;
    } else if (lend - line >= 5 && memcmp(line, "full ", 5) == 0) {
      avg_f = F_PSI_FULL_AVG10;
      total_f = F_PSI_FULL_TOTAL;
    } else {
      continue;
    }
    uint64_t avg = 0, total = 0;
    int avg_ok = 0, total_ok = 0;
    const char *p = line + 5;
    while (p < lend && whole) {
      const char *sp = memchr(p, ' ', (size_t)(lend - p));
      const char *wend = sp ? sp : lend;
      if (wend - p > 6 && memcmp(p, "avg10=", 6) == 0) {
        const char *q = parse_centi(p + 6, wend, &avg);
        avg_ok = q == wend;
      } else if (wend - p > 6 && memcmp(p, "total=", 6) == 0) {
        const char *q = parse_u64(p + 6, wend, &total);
        total_ok = q == wend;
      }
      p = wend + 1;
    }
    set_field(s, avg_f, avg_ok, avg);
    set_field(s, total_f, total_ok, total);
  }
}

void sample_read(const struct sources *src, struct sample *s) {
  memset(s, 0, sizeof *s);
  static char *const bufs[SRC_COUNT] = {meminfo_buf, vmstat_buf, pressure_buf};
  static const long caps[SRC_COUNT] = {MEMINFO_BUF_BYTES, VMSTAT_BUF_BYTES, PRESSURE_BUF_BYTES};
  for (int i = 0; i < SRC_COUNT; i++) {
    long n = read_file(src->path[i], bufs[i], caps[i]);
    if (n < 0) {
      s->source_errno[i] = (int)-n;
      continue;
    }
    if (i == SRC_MEMINFO) parse_meminfo(bufs[i], n, s);
    else if (i == SRC_VMSTAT) parse_vmstat(bufs[i], n, s);
    else parse_pressure(bufs[i], n, s);
  }
}
