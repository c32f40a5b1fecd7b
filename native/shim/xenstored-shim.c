/*
 * LD_PRELOAD shim that lets oxenstored and the C xenstored of Xen 4.17 serve clients on a unix
 * socket on a machine with no hypervisor (test fixture only; see docs/measurements.md section 1).
 *
 * What it fakes, and why each is needed:
 *  - setrlimit(RLIMIT_NOFILE): oxenstored asks for fs.nr_open; retried clamped to the hard limit.
 *  - xc_interface_open / xengnttab_open / xenevtchn_open: would open the /dev/xen devices and fail; they
 *    return dummy handles, and every call the daemons make with those handles is faked too (the
 *    real functions would dereference the dummy).
 *  - xenevtchn_fd: the read end of a pipe whose write end stays open, so it never becomes
 *    readable (no event channel ever fires).
 *  - open("/proc/xen/xsd_port") -> memfd holding "1"; open("/proc/xen/xsd_kva") -> zeroed 4 KiB
 *    memfd, mapped by the C xenstored as dom0's ring (it stays empty, so dom0 never speaks on it).
 *  - with MEMCOOP_SHIM_PARENT_PID set, the daemon dies with the process that started it
 *    (PR_SET_PDEATHSIG), so a test runner killed by a signal leaves no daemon behind.
 *  - xc_domain_getinfo: every ordinary domid exists, as on a host whose guests are running (the C
 *    xenstored asks while introducing dom0 and for every domid named in a permission list; a
 *    "no such domain" answer would make it refuse permissions naming a guest with ENOENT).
 * Built by src/dev/xenstored.ts (buildShim): gcc -shared -fPIC -O2 -o xenstored-shim.so xenstored-shim.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>
#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#define SHIM_PAGE_SIZE 4096        /* x86 page: the size of a xenstore ring interface */
#define SHIM_VIRQ_PORT 1           /* any nonzero port; distinct from the interdomain one */
#define SHIM_INTERDOMAIN_PORT 2

static char dummy_xc, dummy_gnt;
static int evtchn_pipe[2] = {-1, -1};

static void shim_log(const char *fmt, ...)
{
    if (!getenv("MEMCOOP_SHIM_DEBUG")) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("xenstored-shim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

__attribute__((constructor)) static void shim_init(void)
{
    const char *parent = getenv("MEMCOOP_SHIM_PARENT_PID");
    if (!parent) return;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != (pid_t)atoi(parent)) _exit(1); /* it died before prctl took effect */
}

/* ---- setrlimit ---- */
static int clamp_and_set(const struct rlimit *rl, int (*real)(int, const struct rlimit *), int res)
{
    int r = real(res, rl);
    if (r == 0 || res != RLIMIT_NOFILE || errno != EPERM) return r;
    struct rlimit cur, want = *rl;
    if (getrlimit(RLIMIT_NOFILE, &cur) != 0) return -1;
    if (want.rlim_max > cur.rlim_max) want.rlim_max = cur.rlim_max;
    if (want.rlim_cur > want.rlim_max) want.rlim_cur = want.rlim_max;
    shim_log("setrlimit(NOFILE) clamped to %llu", (unsigned long long)want.rlim_cur);
    return real(res, &want);
}

int setrlimit(__rlimit_resource_t res, const struct rlimit *rl)
{
    static int (*real)(int, const struct rlimit *);
    if (!real) real = (int (*)(int, const struct rlimit *))dlsym(RTLD_NEXT, "setrlimit");
    return clamp_and_set(rl, real, res);
}

int setrlimit64(__rlimit_resource_t res, const struct rlimit64 *rl)
{
    return setrlimit(res, (const struct rlimit *)rl); /* same layout on 64-bit */
}

/* ---- /proc/xen/xsd_port and xsd_kva ---- */
static int fake_proc_file(const char *path)
{
    if (strcmp(path, "/proc/xen/xsd_port") == 0) {
        int fd = memfd_create("xsd_port", 0);
        if (fd < 0) return -1;
        if (write(fd, "1", 1) != 1) { close(fd); return -1; }
        lseek(fd, 0, SEEK_SET);
        shim_log("open(%s) -> memfd", path);
        return fd;
    }
    if (strcmp(path, "/proc/xen/xsd_kva") == 0) {
        int fd = memfd_create("xsd_kva", 0);
        if (fd < 0) return -1;
        if (ftruncate(fd, SHIM_PAGE_SIZE) != 0) { close(fd); return -1; }
        shim_log("open(%s) -> zeroed memfd", path);
        return fd;
    }
    return -2;
}

#define DEFINE_OPEN(name)                                                        \
    int name(const char *path, int flags, ...)                                  \
    {                                                                            \
        static int (*real)(const char *, int, ...);                              \
        mode_t mode = 0;                                                         \
        if (flags & (O_CREAT | O_TMPFILE)) {                                     \
            va_list ap;                                                          \
            va_start(ap, flags);                                                 \
            mode = va_arg(ap, mode_t);                                           \
            va_end(ap);                                                          \
        }                                                                        \
        int fake = fake_proc_file(path);                                         \
        if (fake != -2) return fake;                                             \
        if (!real) real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, #name); \
        return real(path, flags, mode);                                          \
    }
DEFINE_OPEN(open)
DEFINE_OPEN(open64)

/* ---- libxenctrl ---- */
xc_interface *xc_interface_open(xentoollog_logger *l, xentoollog_logger *dl, unsigned flags)
{
    (void)l; (void)dl; (void)flags;
    shim_log("xc_interface_open -> dummy");
    return (xc_interface *)&dummy_xc;
}

int xc_interface_close(xc_interface *xch) { (void)xch; return 0; }

int xc_domain_getinfo(xc_interface *xch, uint32_t first, unsigned int max, xc_dominfo_t *info)
{
    (void)xch;
    if (first >= DOMID_FIRST_RESERVED || max == 0) return 0;
    memset(info, 0, sizeof(*info));
    info->domid = first;
    info->running = 1;
    return 1;
}

/* ---- libxengnttab ---- */
xengnttab_handle *xengnttab_open(xentoollog_logger *l, unsigned flags)
{
    (void)l; (void)flags;
    return (xengnttab_handle *)&dummy_gnt;
}
int xengnttab_close(xengnttab_handle *h) { (void)h; return 0; }
int xengnttab_set_max_grants(xengnttab_handle *h, uint32_t n) { (void)h; (void)n; return 0; }
void *xengnttab_map_grant_ref(xengnttab_handle *h, uint32_t domid, uint32_t ref, int prot)
{
    (void)h; (void)ref; (void)prot;
    shim_log("xengnttab_map_grant_ref(dom %u) refused", domid);
    errno = ENOSYS;
    return NULL;
}
int xengnttab_unmap(xengnttab_handle *h, void *addr, uint32_t count)
{
    (void)h; (void)addr; (void)count;
    return 0;
}

/* ---- libxenevtchn ---- */
struct xenevtchn_handle { int unused; };
static struct xenevtchn_handle dummy_evtchn;

xenevtchn_handle *xenevtchn_open(xentoollog_logger *l, unsigned flags)
{
    (void)l; (void)flags;
    if (evtchn_pipe[0] < 0 && pipe2(evtchn_pipe, O_CLOEXEC) != 0) return NULL;
    shim_log("xenevtchn_open -> dummy, fd %d", evtchn_pipe[0]);
    return &dummy_evtchn;
}
int xenevtchn_close(xenevtchn_handle *h) { (void)h; return 0; }
int xenevtchn_fd(xenevtchn_handle *h) { (void)h; return evtchn_pipe[0]; }
xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *h, unsigned int virq)
{
    (void)h; (void)virq;
    return SHIM_VIRQ_PORT;
}
xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *h, uint32_t domid,
                                                     evtchn_port_t remote)
{
    (void)h; (void)remote;
    if (domid != 0) { errno = ESRCH; return -1; }
    return SHIM_INTERDOMAIN_PORT;
}
int xenevtchn_unbind(xenevtchn_handle *h, evtchn_port_t p) { (void)h; (void)p; return 0; }
int xenevtchn_notify(xenevtchn_handle *h, evtchn_port_t p) { (void)h; (void)p; return 0; }
int xenevtchn_unmask(xenevtchn_handle *h, evtchn_port_t p) { (void)h; (void)p; return 0; }
xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *h)
{
    (void)h;
    errno = EAGAIN;
    return -1;
}
