/*
 * session.c — finding, creating and attaching the session file, the
 * session clock, and claiming this process image's slot.
 *
 * Everything here runs off the hot path: once in the constructor
 * (attach), once per process image at its first counted call (slot
 * claim), once per fork (forget the parent's slot). It uses raw
 * syscalls only, so it never re-enters a wrapper, keeps no fd open and
 * leaves errno as it found it. Any problem means: stay out of the way.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"
#include "vfs.h"

static const uint64_t vr_zero_word = 0;
const uint64_t *vr_control_word = &vr_zero_word;
struct vrift_header *vr_hdr;
struct vrift_counters *vr_counters;
uint32_t vr_counters_gen;
int vr_counters_shared;
int vr_use_tsc;
uint64_t vr_tsc_mult;
uint32_t vr_tsc_shift;

static uint32_t vr_claiming; /* 1 while some thread of this image claims a slot */
static VR_TLS int vr_claiming_here; /* this thread is the one claiming */
struct vrift_counters *vr_overflow_counters;

/* ---- raw syscalls: never through a wrapper ---- */

static long raw_openat(int dfd, const char *p, int flags, int mode)
{
    return syscall(SYS_openat, dfd, p, flags, mode);
}
static void raw_close(int fd) { syscall(SYS_close, fd); }

uint64_t vr_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the session clock ---- */

static int cpu_has_invariant_tsc(void)
{
#if defined(__x86_64__)
    unsigned a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000000u), "c"(0));
    if (a < 0x80000007u)
        return 0;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000007u), "c"(0));
    return (d >> 8) & 1;
#else
    return 0;
#endif
}

/* Measure TSC ticks against CLOCK_MONOTONIC over ~5 ms and express one
 * tick in ns as mult >> 32. Done once per session, by its creator. */
VR_EXPORT int vrift_shim_calibrate_clock(uint64_t *mult, uint32_t *shift)
{
    *mult = 0;
    *shift = 0;
#if defined(__x86_64__)
    if (!cpu_has_invariant_tsc())
        return VRIFT_CLOCK_MONOTONIC;
    uint64_t n0 = vr_monotonic_ns(), t0 = __builtin_ia32_rdtsc();
    uint64_t n1, t1;
    do {
        n1 = vr_monotonic_ns();
        t1 = __builtin_ia32_rdtsc();
    } while (n1 - n0 < 5000000u);
    if (t1 <= t0)
        return VRIFT_CLOCK_MONOTONIC;
    *shift = 32;
    *mult = (uint64_t)(((unsigned __int128)(n1 - n0) << 32) / (t1 - t0));
    return *mult ? VRIFT_CLOCK_TSC : VRIFT_CLOCK_MONOTONIC;
#else
    return VRIFT_CLOCK_MONOTONIC;
#endif
}

/* ---- where sessions live ---- */

/* $XDG_RUNTIME_DIR/vrift, else /tmp/vrift-<euid>; same rule as
 * vrift_profile.paths.run_dir(). */
static int run_dir(char *out, size_t len)
{
    const char *x = getenv("XDG_RUNTIME_DIR");
    int n;
    if (x && x[0] == '/')
        n = snprintf(out, len, "%s/vrift", x);
    else
        n = snprintf(out, len, "/tmp/vrift-%u", (unsigned)geteuid());
    return n > 0 && (size_t)n < len ? 0 : -1;
}

/* The current session is named by <run_dir>/current (one line: a path),
 * written by `vrift profile start`. */
static int current_session(char *out, size_t len)
{
    char dir[512], ptr[600];
    if (run_dir(dir, sizeof dir) != 0)
        return -1;
    struct stat st;
    if (syscall(SYS_lstat, dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077) != 0)
        return -1;
    snprintf(ptr, sizeof ptr, "%s/current", dir);
    long fd = raw_openat(AT_FDCWD, ptr, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    long n = syscall(SYS_read, (int)fd, out, len - 1);
    raw_close((int)fd);
    if (n <= 0)
        return -1;
    out[n] = '\0';
    char *nl = memchr(out, '\n', (size_t)n);
    if (nl)
        *nl = '\0';
    return out[0] == '/' ? 0 : -1;
}

/* ---- attaching ---- */

static int header_usable(const struct vrift_header *h, uint64_t size)
{
    if (h->pre.magic != VRIFT_MAGIC || h->pre.byte_order != VRIFT_BYTE_ORDER_MARK ||
        h->pre.major != VRIFT_VERSION_MAJOR || h->pre.header_len < sizeof(struct vrift_header))
        return 0;
    if (h->pre.file_size > size || h->op_count != VRIFT_OP_COUNT ||
        h->misc_count < VRIFT_MISC_COUNT || h->hist_buckets != VRIFT_HIST_BUCKETS ||
        h->slot_size < sizeof(struct vrift_slot) || h->slot_count == 0)
        return 0;
    uint64_t end = h->slots_offset + (uint64_t)h->slot_count * h->slot_size;
    return h->slots_offset >= h->pre.header_len && end >= h->slots_offset && end <= h->pre.file_size;
}

/* Create the file at `path` (it did not exist): reserve every byte up
 * front so a full disk fails here and not as SIGBUS later, lay it out,
 * publish it. Returns the mapping or NULL. */
static struct vrift_header *create_session(int fd, uint64_t *size_out)
{
    uint64_t size = vr_layout_file_size(VRIFT_DEFAULT_SLOT_COUNT);
    long rc = syscall(SYS_fallocate, fd, 0, 0, (long)size);
    if (rc != 0 && (errno == EOPNOTSUPP || errno == ENOSYS))
        rc = syscall(SYS_ftruncate, fd, (long)size);
    if (rc != 0)
        return NULL;
    void *p = (void *)syscall(SYS_mmap, NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return NULL;
    struct vrift_header *h = p;
    vr_layout_write(h, VRIFT_DEFAULT_SLOT_COUNT, "libvrift_shim");
    h->start_realtime_ns = realtime_ns();
    h->start_monotonic_ns = vr_monotonic_ns();
    h->creator_pid = (uint32_t)syscall(SYS_getpid);
    uint64_t mult;
    uint32_t shift;
    h->clock_source = (uint32_t)vrift_shim_calibrate_clock(&mult, &shift);
    h->clock_mult = mult;
    h->clock_shift = shift;
    __atomic_store_n(&h->pre.ready, 1, __ATOMIC_RELEASE);
    *size_out = size;
    return h;
}

static struct vrift_header *attach(const char *path, int may_create)
{
    uint64_t size = 0;
    struct vrift_header *h = NULL;
    long fd = raw_openat(AT_FDCWD, path, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0 && errno == ENOENT && may_create) {
        fd = raw_openat(AT_FDCWD, path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            h = create_session((int)fd, &size);
            if (!h) {
                syscall(SYS_unlink, path);
                raw_close((int)fd);
                return NULL;
            }
        } else if (errno == EEXIST) { /* lost the creation race: open theirs */
            fd = raw_openat(AT_FDCWD, path, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
        }
    }
    if (fd < 0)
        return NULL;
    if (!h) {
        struct stat st;
        if (syscall(SYS_fstat, (int)fd, &st) != 0 || !S_ISREG(st.st_mode) ||
            st.st_uid != geteuid() || (st.st_mode & 077) != 0 || st.st_nlink != 1 ||
            (uint64_t)st.st_size < sizeof(struct vrift_header)) {
            raw_close((int)fd);
            return NULL;
        }
        size = (uint64_t)st.st_size;
        void *p = (void *)syscall(SYS_mmap, NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, 0);
        if (p == MAP_FAILED) {
            raw_close((int)fd);
            return NULL;
        }
        h = p;
        /* A creator may still be filling it in: wait up to ~200 ms. */
        for (int i = 0; i < 2000 && !__atomic_load_n(&h->pre.ready, __ATOMIC_ACQUIRE); i++) {
            struct timespec ts = {0, 100000};
            syscall(SYS_nanosleep, &ts, NULL);
        }
    }
    raw_close((int)fd);
    if (!__atomic_load_n(&h->pre.ready, __ATOMIC_ACQUIRE) || !header_usable(h, size)) {
        syscall(SYS_munmap, h, size);
        return NULL;
    }
    return h;
}

/* ---- slots ---- */

static struct vrift_slot *slot_at(uint64_t idx)
{
    return (struct vrift_slot *)((char *)vr_hdr + vr_hdr->slots_offset + idx * vr_hdr->slot_size);
}

/* Take the next free slot (or the overflow slot when none is left). */
static struct vrift_counters *take_slot(struct vrift_header *h, uint32_t gen)
{
    uint64_t idx = __atomic_fetch_add(&h->slots_next, 1, __ATOMIC_RELAXED);
    if (idx == 0 || idx >= h->slot_count) {
        __atomic_fetch_add(&h->slots_overflowed, 1, __ATOMIC_RELAXED);
        vr_counters_shared = 1;
        return &slot_at(0)->counters;
    }
    struct vrift_slot *s = slot_at(idx);
    s->head.pid = (uint32_t)syscall(SYS_getpid);
    s->head.ppid = (uint32_t)syscall(SYS_getppid);
    s->head.reset_generation = gen;
    s->head.start_realtime_ns = realtime_ns();
    strncpy(s->head.comm, program_invocation_short_name, VRIFT_COMM_LEN - 1);
    __atomic_store_n(&s->head.state, VRIFT_SLOT_LIVE, __ATOMIC_RELEASE);
    vr_counters_shared = 0;
    return &s->counters;
}

/* A reset moved the generation on: zero our own slot, then mark it as
 * holding the new generation (readers ignore a slot of an older one, so
 * no reader ever sees half-zeroed counters as current). The overflow
 * slot is zeroed by the resetter itself. */
static void renew_slot(struct vrift_counters *c, uint32_t gen)
{
    if (!vr_counters_shared) {
        struct vrift_slot *s = (struct vrift_slot *)((char *)c - offsetof(struct vrift_slot, counters));
        volatile uint64_t *w = (volatile uint64_t *)c;
        for (size_t i = 0; i < sizeof *c / sizeof(uint64_t); i++)
            w[i] = 0;
        __atomic_store_n(&s->head.reset_generation, gen, __ATOMIC_RELEASE);
    }
}

/* First counted call of this process image (take a slot), or first one
 * after a reset (renew it). Another thread of the image racing us, or a
 * signal handler interrupting us, counts into the shared overflow slot
 * meanwhile, so nothing is lost. */
struct vrift_counters *vr_claim_slot(uint32_t gen)
{
    struct vrift_header *h = vr_hdr;
    if (!h)
        return NULL;
    while (__atomic_exchange_n(&vr_claiming, 1, __ATOMIC_ACQUIRE) != 0) {
        /* Another thread is claiming (a few syscalls): wait for it, so its
         * sibling threads count into the image's own slot. A signal handler
         * that interrupted the claim on this very thread cannot wait: it,
         * and a claim that takes unusually long, count into the overflow
         * slot (totals stay exact, attribution goes to "(overflow)"). */
        struct vrift_counters *c = __atomic_load_n(&vr_counters, __ATOMIC_ACQUIRE);
        if (c && vr_counters_gen == gen)
            return c;
        if (vr_claiming_here)
            return vr_overflow_counters;
        for (int spin = 0; __atomic_load_n(&vr_claiming, __ATOMIC_ACQUIRE); spin++) {
            if (spin > 1000000)
                return vr_overflow_counters;
#if defined(__x86_64__)
            __builtin_ia32_pause();
#endif
        }
    }
    vr_claiming_here = 1;
    int saved = errno;
    struct vrift_counters *c = __atomic_load_n(&vr_counters, __ATOMIC_ACQUIRE);
    if (c == NULL)
        c = take_slot(h, gen);
    else if (vr_counters_gen != gen)
        renew_slot(c, gen);
    vr_counters_gen = gen;
    __atomic_store_n(&vr_counters, c, __ATOMIC_RELEASE);
    vr_claiming_here = 0;
    __atomic_store_n(&vr_claiming, 0, __ATOMIC_RELEASE);
    errno = saved;
    return c;
}

/* fork() child: a new process image-to-be, with a copy of our state.
 * Forget the parent's slot; the first counted call claims a new one.
 * (vfork and posix_spawn children skip atfork handlers: they run in the
 * parent's memory and count into its slot until they exec.) */
static void forget_slot_in_child(void)
{
    vr_counters = NULL;
    vr_counters_shared = 0;
    vr_claiming = 0;
    vr_claiming_here = 0;
}

/* ---- constructor ---- */

static int env_flag(const char *v)
{
    if (!v || !*v)
        return -1;
    if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off"))
        return 0;
    return 1;
}

/* Counting is on with VRIFT_PROFILE=1, or VRIFT_PROFILE_PATH set and
 * VRIFT_PROFILE not 0. The file is VRIFT_PROFILE_PATH (created if
 * missing) or else the current session; without one we stay passive. */
__attribute__((constructor, cold, noinline)) static void vr_init(void)
{
    int saved = errno;
    const char *path = getenv("VRIFT_PROFILE_PATH");
    int flag = env_flag(getenv("VRIFT_PROFILE"));
    if (path && !*path)
        path = NULL;
    if (flag == 0 || (flag < 0 && !path))
        goto out;
    char cur[1024];
    int may_create = path != NULL;
    if (!path) {
        if (current_session(cur, sizeof cur) != 0)
            goto out;
        path = cur;
    }
    struct vrift_header *h = attach(path, may_create);
    if (!h)
        goto out;
    vr_use_tsc = h->clock_source == VRIFT_CLOCK_TSC && h->clock_mult && cpu_has_invariant_tsc();
    vr_tsc_mult = h->clock_mult;
    vr_tsc_shift = h->clock_shift;
    vr_hdr = h;
    vr_timing_init(h);
    vr_overflow_counters = &slot_at(0)->counters;
    pthread_atfork(NULL, NULL, forget_slot_in_child);
    __atomic_store_n(&vr_control_word, (const uint64_t *)(void *)&h->enabled, __ATOMIC_RELEASE);
out:
    /* Projections are served whether or not this process counts. */
    vr_vfs_init(getenv("VRIFT_VFS"));
    errno = saved;
}
