/*
 * lifetime.c — what a slot keeps of its process image's life (format
 * 1.5, struct vrift_life): the command line and working directory at the
 * slot claim, the end time and exit status wherever they can be seen.
 *
 * Cost rules (docs/shim.md, "Per-exec cost"): nothing here may add a
 * page fault or a syscall per process that is not measured and listed
 * in benchmarks/RESULTS.md. So:
 *  - argv is not copied by the constructor (most of it would be copied
 *    for nothing in processes that never count): it only notes where the
 *    kernel put the strings. The kernel lays argv out as one run of
 *    NUL-terminated strings (what /proc/PID/cmdline shows), so the claim
 *    copies that run: it is the command line as executed even after
 *    getopt has permuted the argv[] pointers.
 *  - the working directory is one getcwd syscall at the claim, written
 *    by the kernel straight into the slot.
 *  - the end is recorded by an on_exit handler (the only exit hook glibc
 *    gives the status to), registered once by the constructor, and by
 *    _exit/_Exit wrappers; a parent's wait wrapper records a child that
 *    a signal killed (it could record nothing itself). The last timed
 *    call's clock (vr_record_as) stands for the end of an image that
 *    nobody saw end.
 * Everything at exit is raw syscalls and plain stores: async-signal-safe,
 * errno untouched, the exit status and stdio flushing left as they were.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rawsys.h"
#include "shim.h"

/* Where the kernel put argv's strings (set by the constructor). */
static const char *vr_args;
static uint32_t vr_args_len;
static uint32_t vr_argc;

void vr_life_note_args(int argc, char **argv)
{
    if (argc <= 0 || argc > (1 << 20) || !argv || !argv[0] || !argv[argc - 1])
        return;
    const char *last = argv[argc - 1];
    uintptr_t end = (uintptr_t)last + __builtin_strlen(last) + 1;
    if (end <= (uintptr_t)argv[0] || end - (uintptr_t)argv[0] > (1u << 26))
        return; /* not the kernel's layout (a loader rewrote argv): leave it unknown */
    vr_args = argv[0];
    vr_args_len = (uint32_t)(end - (uintptr_t)argv[0]);
    vr_argc = (uint32_t)argc;
}

static uint64_t realtime_now(void)
{
    struct timespec ts;
    if (SYS2(SYS_clock_gettime, CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The session clock without the vDSO (whose data page a process may not
 * have touched yet: a page fault dearer than the syscall). */
static uint64_t session_clock_now(void)
{
#if defined(__x86_64__) || defined(__i386__)
    if (vr_use_tsc)
        return __builtin_ia32_rdtsc();
#endif
    struct timespec ts;
    if (SYS2(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t vr_life_realtime_now(void)
{
    return realtime_now();
}

uint64_t vr_life_clock_now(void)
{
    return session_clock_now();
}

/* A long working directory keeps its tail, which tells builds apart. */
static __attribute__((noinline, cold)) void long_cwd(struct vrift_life *l)
{
    char buf[4096];
    long n = SYS2(SYS_getcwd, buf, sizeof buf);
    if (n <= 1)
        return;
    size_t len = (size_t)n - 1, keep = VRIFT_CWD_LEN - 4;
    __builtin_memcpy(l->cwd, "...", 3);
    __builtin_memcpy(l->cwd + 3, buf + len - keep, keep);
    l->cwd[VRIFT_CWD_LEN - 1] = '\0';
    l->cwd_len = (uint32_t)len;
}

static void note_cwd(struct vrift_life *l)
{
    /* getcwd returns the length with its NUL; -ERANGE when it does not fit */
    long n = SYS2(SYS_getcwd, l->cwd, VRIFT_CWD_LEN);
    if (n > 1)
        l->cwd_len = (uint32_t)(n - 1);
    else if (n == -ERANGE)
        long_cwd(l);
}

/* The TSC when this image began: its constructor, or the fork. The slot
 * is claimed at the first counted call, maybe much later; its start time
 * is moved back to this instant, so that a parent's span holds its
 * children's. One instruction, no syscall. */
static uint64_t vr_began_tsc;

void vr_life_mark_start(void)
{
#if defined(__x86_64__) || defined(__i386__)
    vr_began_tsc = __builtin_ia32_rdtsc();
#endif
}

void vr_life_claim(struct vrift_slot *s)
{
    struct vrift_life *l = &s->life;
    l->start_clock = session_clock_now();
#if defined(__x86_64__) || defined(__i386__)
    uint64_t began = vr_began_tsc;
    if (vr_use_tsc && began && began <= l->start_clock) {
        uint64_t back = (uint64_t)(((unsigned __int128)(l->start_clock - began) * vr_tsc_mult) >> vr_tsc_shift);
        if (back < s->head.start_realtime_ns) {
            s->head.start_realtime_ns -= back;
            l->start_clock = began; /* the pair (start_clock, start_realtime_ns) is one instant */
        }
    }
#endif
    if (vr_args) {
        uint32_t n = vr_args_len < VRIFT_CMDLINE_LEN ? vr_args_len : VRIFT_CMDLINE_LEN;
        __builtin_memcpy(l->cmdline, vr_args, n);
        l->cmdline_len = vr_args_len;
        l->argc = vr_argc;
    }
    note_cwd(l);
}

/* This image's slot, if the calling process owns it: a vfork child (or a
 * posix_spawn child) runs in its parent's memory and must not end the
 * parent's slot when it calls _exit. */
static struct vrift_slot *own_slot(void)
{
    struct vrift_counters *c = __atomic_load_n(&vr_counters, __ATOMIC_ACQUIRE);
    if (!c)
        return NULL;
    struct vrift_slot *s = (struct vrift_slot *)((char *)c - offsetof(struct vrift_slot, counters));
    if (s->head.pid != (uint32_t)SYS0(SYS_getpid))
        return NULL;
    return s;
}

static void record_exit(int code)
{
    struct vrift_slot *s = own_slot();
    if (!s)
        return;
    s->life.end_realtime_ns = realtime_now();
    s->life.status = (code & 0xff) << 8; /* as wait() will report it */
    __atomic_store_n(&s->life.status_from, VRIFT_STATUS_SELF, __ATOMIC_RELEASE);
}

/* Registered by the constructor before the program's own exit handlers
 * exist, so it runs after all of them (and after the libraries'
 * destructors); only the stdio flush and _exit follow it. */
static void on_exit_handler(int status, void *arg)
{
    (void)arg;
    int saved = errno;
    record_exit(status);
    errno = saved;
}

void vr_life_attach(void)
{
    on_exit(on_exit_handler, NULL);
}

/* ---- _exit and _Exit: the program ends itself without exit handlers ----
 * Both are glibc's exit_group system call, made here directly: resolving
 * the real one would call dlsym, which a vfork child (running in its
 * parent's memory, while the parent's other threads run on) must not. */

void vr_life_before_end(void)
{
    if (vrift_loader_audit && own_slot())
        vr_loader_account_audit(vr_control());
}

static __attribute__((noreturn)) void end_now(int status)
{
    if (VR_UNLIKELY(vr_hdr != NULL)) {
        vr_life_before_end();
        record_exit(status);
    }
    for (;;) {
        SYS1(SYS_exit_group, status);
        SYS1(SYS_exit, status);
    }
}

VR_EXPORT void _exit(int status)
{
    end_now(status);
}

VR_EXPORT void _Exit(int status)
{
    end_now(status);
}

/* ---- ghosts: programs that run unseen (1.6) ----
 * A static binary, a set-ID program or one whose environment drops vrift
 * counts nothing, but its parent can still say when it ran: whoever starts
 * it claims a slot for it (the ghost: life.unseen set, no counters), and
 * the parent's wait records its end and status there. */

static struct vrift_slot *slot_index(struct vrift_header *h, uint64_t i)
{
    return (struct vrift_slot *)((char *)h + h->slots_offset + i * h->slot_size);
}

/* Take the ring's entries for `pid` off (a newer process has that pid now);
 * the newest one's slot index, 0 if there was none. */
static uint32_t ring_take(struct vrift_header *h, uint32_t pid)
{
    uint64_t n = __atomic_load_n(&h->ghosts_started, __ATOMIC_ACQUIRE);
    uint32_t newest = 0;
    for (uint64_t k = 0; k < VRIFT_GHOST_RING && k < n; k++) {
        uint64_t *at = &h->ghosts[(n - 1 - k) % VRIFT_GHOST_RING];
        uint64_t e = __atomic_load_n(at, __ATOMIC_ACQUIRE);
        if ((uint32_t)(e >> 32) == pid && __atomic_compare_exchange_n(at, &e, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED) &&
            !newest)
            newest = (uint32_t)e;
    }
    return newest;
}

/* A ghost slot whose end nobody has recorded yet. */
static int open_ghost(const struct vrift_slot *s)
{
    return __atomic_load_n(&s->head.state, __ATOMIC_ACQUIRE) == VRIFT_SLOT_LIVE && s->life.unseen &&
           __atomic_load_n(&s->life.status_from, __ATOMIC_ACQUIRE) == VRIFT_STATUS_UNKNOWN &&
           !__atomic_load_n(&s->life.end_realtime_ns, __ATOMIC_ACQUIRE);
}

uint32_t vr_ghost_begin(uint32_t pid, uint32_t ppid, const char *path, char *const argv[], long hot,
                        uint64_t start_realtime_ns, uint64_t start_clock)
{
    struct vrift_header *h = vr_hdr;
    uint32_t idx;
    struct vrift_slot *s = h ? vr_fresh_slot(&idx) : NULL;
    if (!s)
        return 0;
    if (__atomic_load_n(&h->ghosts_started, __ATOMIC_RELAXED))
        ring_take(h, pid); /* an older ghost with this pid is dead: its pid is reused */
    s->head.pid = pid;
    s->head.ppid = ppid;
    s->head.start_realtime_ns = start_realtime_ns ? start_realtime_ns : realtime_now();
    s->head.reset_generation = VR_GEN(vr_control());
    const char *base = path;
    for (const char *c = path; c && *c; c++)
        if (*c == '/' && c[1])
            base = c + 1;
    for (size_t i = 0; base && base[i] && base[i] != '/' && i < VRIFT_COMM_LEN - 1; i++)
        s->head.comm[i] = base[i];
    struct vrift_life *l = &s->life;
    l->start_clock = start_clock ? start_clock : session_clock_now();
    uint32_t argc = 0, len = 0;
    for (; argv && argv[argc] && argc < 65536; argc++)
        for (const char *a = argv[argc];; a++) {
            if (len < VRIFT_CMDLINE_LEN)
                l->cmdline[len] = *a;
            len++;
            if (!*a)
                break;
        }
    l->argc = argc;
    l->cmdline_len = len;
    note_cwd(l);
    l->unseen = hot >= 0 ? (uint32_t)hot + 1 : VRIFT_GHOST_NO_ENTRY;
    __atomic_store_n(&s->head.state, VRIFT_SLOT_LIVE, __ATOMIC_RELEASE);
    uint64_t n = __atomic_fetch_add(&h->ghosts_started, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&h->ghosts[n % VRIFT_GHOST_RING], (uint64_t)pid << 32 | idx, __ATOMIC_RELEASE);
    return idx;
}

void vr_ghost_cancel(uint32_t idx)
{
    if (idx && vr_hdr)
        __atomic_store_n(&slot_index(vr_hdr, idx)->head.state, VRIFT_SLOT_FREE, __ATOMIC_RELEASE);
}

/* When this process began, in CLOCK_REALTIME ns (its fork: an exec keeps
 * it), from /proc/self/stat's starttime (clock ticks since boot, 100 a
 * second); 0 if unknown. */
static uint64_t process_began_realtime(void)
{
    char buf[1024];
    long fd = SYS4(SYS_openat, AT_FDCWD, "/proc/self/stat", O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    long n = SYS3(SYS_read, (int)fd, buf, sizeof buf - 1);
    SYS1(SYS_close, (int)fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = NULL;
    for (char *c = buf; *c; c++) /* after the last ')': the command name may hold any byte */
        if (*c == ')')
            p = c + 1;
    /* fields after ')' start with 3 (state); starttime is field 22 */
    for (int field = 2; p && *p && field < 22; p++)
        if (*p == ' ')
            field++;
    if (!p || *p < '0' || *p > '9')
        return 0;
    uint64_t ticks = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        ticks = ticks * 10 + (uint64_t)(*p - '0');
    struct timespec boot;
    if (SYS2(SYS_clock_gettime, CLOCK_BOOTTIME, &boot) != 0)
        return 0;
    uint64_t since_boot = (uint64_t)boot.tv_sec * 1000000000u + (uint64_t)boot.tv_nsec;
    uint64_t began = ticks * 10000000u;
    uint64_t now = realtime_now();
    return began <= since_boot && since_boot - began <= now ? now - (since_boot - began) : 0;
}

void vr_ghost_successor(int exec)
{
    struct vrift_header *h = vr_hdr;
    if (!h || !__atomic_load_n(&h->ghosts_started, __ATOMIC_RELAXED))
        return;
    uint32_t newest = ring_take(h, (uint32_t)SYS0(SYS_getpid));
    if (!exec || newest == 0 || newest >= h->slot_count)
        return;
    /* The newest one was claimed for this very process if it began no later
     * (give or take the 10 ms of starttime's ticks): it exec'd this image. */
    struct vrift_slot *s = slot_index(h, newest);
    if (!open_ghost(s))
        return;
    uint64_t began = process_began_realtime();
    if (began && began > s->head.start_realtime_ns + 10000000u)
        return; /* a newer process: the ghost's own end was never seen */
    /* ended by exec: its end, no status (readers: end_by "exec") */
    __atomic_store_n(&s->life.end_realtime_ns, realtime_now(), __ATOMIC_RELEASE);
}

/* The reaped child `pid` was a ghost of ours (newest first in the list):
 * record its end. 0 if it was not. */
static __attribute__((noinline, cold)) int ghost_reaped(struct vrift_header *h, uint64_t n, pid_t pid, int status)
{
    uint32_t me = (uint32_t)SYS0(SYS_getpid);
    for (uint64_t k = 0; k < VRIFT_GHOST_RING && k < n; k++) {
        uint64_t e = __atomic_load_n(&h->ghosts[(n - 1 - k) % VRIFT_GHOST_RING], __ATOMIC_ACQUIRE);
        uint64_t idx = (uint32_t)e;
        if ((uint32_t)(e >> 32) != (uint32_t)pid || idx == 0 || idx >= h->slot_count)
            continue;
        struct vrift_slot *s = slot_index(h, idx);
        if (!open_ghost(s) || s->head.pid != (uint32_t)pid || s->head.ppid != me)
            continue; /* not ours, recorded already, or it exec'd a seen program */
        s->life.end_realtime_ns = realtime_now();
        s->life.status = status;
        __atomic_store_n(&s->life.status_from, VRIFT_STATUS_PARENT, __ATOMIC_RELEASE);
        return 1;
    }
    return 0;
}

/* ---- a parent's wait: record a ghost's end, or a child that a signal killed ---- */

/* At most this many slots are searched, newest first, for the child's. */
#define VR_REAP_SCAN 4096

/* The child's newest image (an exec'd child has one per program; the
 * last one is what ended) is the newest live image slot with its pid;
 * it must name us as its parent, or the pid belongs to someone else. */
static __attribute__((noinline, cold)) void record_killed(pid_t pid, int status)
{
    struct vrift_header *h = vr_hdr;
    uint64_t next = __atomic_load_n(&h->slots_next, __ATOMIC_RELAXED);
    if (next > h->slot_count)
        next = h->slot_count;
    uint32_t me = (uint32_t)SYS0(SYS_getpid);
    for (uint64_t i = next, steps = 0; i-- > 1 && steps < VR_REAP_SCAN; steps++) {
        struct vrift_slot *s = slot_index(h, i);
        if (__atomic_load_n(&s->head.state, __ATOMIC_ACQUIRE) != VRIFT_SLOT_LIVE ||
            s->head.pid != (uint32_t)pid || s->head.owner_slot != 0)
            continue;
        if (s->head.ppid != me)
            return;
        s->life.end_realtime_ns = realtime_now();
        s->life.status = status;
        __atomic_store_n(&s->life.status_from, VRIFT_STATUS_PARENT, __ATOMIC_RELEASE);
        return;
    }
}

/* A wait returned `pid` with `status`: if it was a ghost, its end; if a
 * signal killed it, its end and status in its slot. */
static inline void reaped(pid_t pid, const int *status)
{
    struct vrift_header *h = vr_hdr;
    if (VR_LIKELY(h == NULL) || pid <= 0 || !status || !(WIFEXITED(*status) || WIFSIGNALED(*status)))
        return;
    uint64_t ghosts = __atomic_load_n(&h->ghosts_started, __ATOMIC_RELAXED);
    if (VR_UNLIKELY(ghosts != 0) && ghost_reaped(h, ghosts, pid, *status))
        return;
    if (WIFSIGNALED(*status))
        record_killed(pid, *status);
}

static void *vr_real_wait, *vr_real_waitpid, *vr_real_wait3, *vr_real_wait4, *vr_real_waitid;

/* No real function (only while dlsym re-enters us): the raw syscall. */
VR_EXPORT pid_t waitpid(pid_t pid, int *status, int options)
{
    __typeof__(&waitpid) real = (__typeof__(&waitpid))vr_resolve(&vr_real_waitpid, "waitpid");
    pid_t r = real ? real(pid, status, options)
                   : (pid_t)vr_syscall(SYS_wait4, pid, status, options, NULL);
    reaped(r, status);
    return r;
}

VR_EXPORT pid_t wait(int *status)
{
    __typeof__(&wait) real = (__typeof__(&wait))vr_resolve(&vr_real_wait, "wait");
    pid_t r = real ? real(status) : (pid_t)vr_syscall(SYS_wait4, -1, status, 0, NULL);
    reaped(r, status);
    return r;
}

VR_EXPORT pid_t wait3(int *status, int options, struct rusage *ru)
{
    __typeof__(&wait3) real = (__typeof__(&wait3))vr_resolve(&vr_real_wait3, "wait3");
    pid_t r = real ? real(status, options, ru) : (pid_t)vr_syscall(SYS_wait4, -1, status, options, ru);
    reaped(r, status);
    return r;
}

VR_EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
    __typeof__(&wait4) real = (__typeof__(&wait4))vr_resolve(&vr_real_wait4, "wait4");
    pid_t r = real ? real(pid, status, options, ru) : (pid_t)vr_syscall(SYS_wait4, pid, status, options, ru);
    reaped(r, status);
    return r;
}

VR_EXPORT int waitid(idtype_t type, id_t id, siginfo_t *info, int options)
{
    __typeof__(&waitid) real = (__typeof__(&waitid))vr_resolve(&vr_real_waitid, "waitid");
    int r = real ? real(type, id, info, options) : (int)vr_syscall(SYS_waitid, type, id, info, options, NULL);
    if (r == 0 && info && info->si_pid > 0) {
        int status = -1; /* neither exited nor signaled: stopped, continued */
        if (info->si_code == CLD_KILLED || info->si_code == CLD_DUMPED)
            status = (info->si_status & 0x7f) | (info->si_code == CLD_DUMPED ? 0x80 : 0);
        else if (info->si_code == CLD_EXITED)
            status = (info->si_status & 0xff) << 8;
        if (status != -1)
            reaped(info->si_pid, &status);
    }
    return r;
}
