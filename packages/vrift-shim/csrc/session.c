/*
 * session.c — finding, creating and attaching the session file, the
 * session clock, and claiming this process image's slot.
 *
 * Everything here runs off the hot path: once in the constructor
 * (attach), once per process image at its first counted call (slot
 * claim), once per fork (forget the parent's slot). It uses raw
 * syscalls only, so it never re-enters a wrapper, keeps no fd open and
 * leaves errno as it found it. Any problem means: stay out of the way.
 *
 * It runs in every process of a build, so it is written to touch as few
 * pages as possible (docs/shim.md, "Per-exec cost"): each first touch of
 * a page is a page fault, 1-6 us on the VM we measured on, more than
 * everything else attach does. Hence inline syscalls instead of libc's
 * (geteuid, syscall), our own environment scan instead of getenv and
 * strcasecmp, no snprintf or strncpy, no cpuid (a trap to the
 * hypervisor, 4-14 us each), the session header read with pread and its
 * page first touched by a write (no fault-around), and the slot's start
 * time read with the clock_gettime syscall (not the vDSO's data page).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rawsys.h"
#include "shim.h"
#include "vfs.h"

static const uint64_t vr_zero_word = 0;
const uint64_t *vr_control_word = &vr_zero_word;
struct vrift_header *vr_hdr;
int vr_attached;
struct vrift_counters *vr_counters;
static uint32_t vr_image_slot; /* vr_counters' slot index */
VR_TLS struct vrift_counters *vr_row;
VR_TLS uint32_t vr_row_gen;
int vr_use_tsc;
uint64_t vr_tsc_mult;
uint32_t vr_tsc_shift;

static uint32_t vr_claiming; /* 1 while some thread of this image takes a slot */
static VR_TLS int vr_claiming_here; /* this thread is claiming its row */
struct vrift_counters *vr_overflow_counters;

extern char **environ;

/* mmap/munmap are wrapped (counted) by this library: never call them. */
static void *raw_mmap_shared(int fd, uint64_t size)
{
    long p = vr_sys(SYS_mmap, 0, (long)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    return p < 0 && p > -4096 ? MAP_FAILED : (void *)p;
}
static void raw_munmap(void *p, uint64_t size) { SYS2(SYS_munmap, p, size); }

static long raw_openat(int dfd, const char *p, int flags, int mode)
{
    return SYS4(SYS_openat, dfd, p, flags, mode);
}
static void raw_close(int fd) { SYS1(SYS_close, fd); }

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

/* The same through the syscall: once per process image (the slot's start
 * time), where the vDSO would first touch its data page (a page fault,
 * dearer than the syscall). */
static uint64_t realtime_ns_syscall(void)
{
    struct timespec ts;
    if (SYS2(SYS_clock_gettime, CLOCK_REALTIME, &ts) != 0)
        return realtime_ns();
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
 * tick in ns as mult >> 32. Done once per session, by its creator, which
 * alone checks the TSC with cpuid: attaching processes trust the header
 * (cpuid traps to the hypervisor in a VM, 4-14 us per instruction). */
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

/* ---- the environment, read without libc ---- */

/* The value of `name` (first match, as getenv), or NULL. */
static const char *env_value(const char *name)
{
    for (char **e = environ; e && *e; e++) {
        const char *s = *e, *n = name;
        while (*n && *s == *n) {
            s++;
            n++;
        }
        if (!*n && *s == '=')
            return s + 1;
    }
    return NULL;
}

/* `v` equals the lower-case word `w`, ignoring ASCII case. */
static int word_is(const char *v, const char *w)
{
    for (; *w; v++, w++)
        if ((*v | 0x20) != *w)
            return 0;
    return *v == '\0';
}

/* Append `s` at out[*n], keeping room for the terminator; -1 if too long. */
static int put(char *out, size_t len, size_t *n, const char *s)
{
    for (; *s; s++) {
        if (*n + 1 >= len)
            return -1;
        out[(*n)++] = *s;
    }
    out[*n] = '\0';
    return 0;
}

static int put_uint(char *out, size_t len, size_t *n, unsigned v)
{
    char d[12];
    int k = 0;
    do
        d[k++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    char r[12];
    for (int i = 0; i < k; i++)
        r[i] = d[k - 1 - i];
    r[k] = '\0';
    return put(out, len, n, r);
}

/* ---- where sessions live ---- */

/* $XDG_RUNTIME_DIR/vrift, else /tmp/vrift-<euid>; same rule as
 * vrift_profile.paths.run_dir(). Its length goes to *n. */
static int run_dir(char *out, size_t len, size_t *n, unsigned euid)
{
    const char *x = env_value("XDG_RUNTIME_DIR");
    *n = 0;
    if (x && x[0] == '/')
        return put(out, len, n, x) || put(out, len, n, "/vrift") ? -1 : 0;
    return put(out, len, n, "/tmp/vrift-") || put_uint(out, len, n, euid) ? -1 : 0;
}

/* The current session is named by <run_dir>/current (one line: a path),
 * written by `vrift profile start`. */
static int current_session(char *out, size_t len, unsigned euid)
{
    char ptr[600];
    size_t n0;
    if (run_dir(ptr, sizeof ptr, &n0, euid) != 0)
        return -1;
    struct stat st;
    if (SYS4(SYS_newfstatat, AT_FDCWD, ptr, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) ||
        st.st_uid != euid || (st.st_mode & 077) != 0)
        return -1;
    if (put(ptr, sizeof ptr, &n0, "/current") != 0)
        return -1;
    long fd = raw_openat(AT_FDCWD, ptr, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    long n = SYS3(SYS_read, (int)fd, out, len - 1);
    raw_close((int)fd);
    if (n <= 0)
        return -1;
    out[n] = '\0';
    for (long i = 0; i < n; i++)
        if (out[i] == '\n') {
            out[i] = '\0';
            break;
        }
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

/* Reserve disk blocks for [off, off + len) of the session file: 0 when
 * reserved (or when the file system cannot reserve: then, as everywhere on
 * it, a write may allocate), -1 when the disk refused (full). */
static int reserve(int fd, uint64_t off, uint64_t len)
{
    long rc = SYS4(SYS_fallocate, fd, 0, (long)off, (long)len);
    return rc == 0 || rc == -EOPNOTSUPP || rc == -ENOSYS ? 0 : -1;
}

/* Create the file at `path` (it did not exist): lay out its full size,
 * reserve the blocks of what is written from the start (header, the
 * first chunk of slots, the hot-path table) so a full disk fails here and
 * not as SIGBUS later (later slot chunks: reserve_chunk), lay it out,
 * publish it. Returns the mapping or NULL. */
static struct vrift_header *create_session(int fd, uint64_t *size_out)
{
    uint64_t size = vr_layout_file_size(VRIFT_DEFAULT_SLOT_COUNT), slots_end, hot_start;
    vr_layout_reserved(VRIFT_DEFAULT_SLOT_COUNT, &slots_end, &hot_start);
    if (SYS2(SYS_ftruncate, fd, (long)size) != 0 || reserve(fd, 0, slots_end) != 0 ||
        reserve(fd, hot_start, size - hot_start) != 0)
        return NULL;
    void *p = raw_mmap_shared(fd, size);
    if (p == MAP_FAILED)
        return NULL;
    struct vrift_header *h = p;
    vr_layout_write(h, VRIFT_DEFAULT_SLOT_COUNT, "libvrift_shim");
    h->start_realtime_ns = realtime_ns();
    h->start_monotonic_ns = vr_monotonic_ns();
    h->creator_pid = (uint32_t)SYS0(SYS_getpid);
    uint64_t mult;
    uint32_t shift;
    h->clock_source = (uint32_t)vrift_shim_calibrate_clock(&mult, &shift);
    h->clock_mult = mult;
    h->clock_shift = shift;
    __atomic_store_n(&h->pre.ready, 1, __ATOMIC_RELEASE);
    *size_out = size;
    return h;
}

/* Check the header through a copy read with pread, before mapping: a
 * first read through the mapping would be a read fault, and the kernel
 * maps up to 16 neighbouring cached pages on a read fault ("fault-around":
 * the field table and other processes' slots), each of which costs again
 * when the process exits. 0 when the file is a ready, usable session. */
static int header_ready(int fd, uint64_t size)
{
    struct vrift_header copy;
    /* A creator may still be filling it in: wait up to ~200 ms. */
    for (int i = 0;; i++) {
        if (SYS4(SYS_pread64, fd, &copy, sizeof copy, 0) != (long)sizeof copy)
            return -1;
        if (copy.pre.ready)
            break;
        if (i >= 2000)
            return -1;
        struct timespec ts = {0, 100000};
        SYS2(SYS_nanosleep, &ts, NULL);
    }
    return header_usable(&copy, size) ? 0 : -1;
}

/* The attached file, to reserve more slots in later (reserve_chunk): its
 * absolute path and identity. */
static char vr_session_path[1024];
static uint64_t vr_session_dev, vr_session_ino;

static void remember_session(const char *path, uint64_t dev, uint64_t ino)
{
    size_t n = 0;
    if (path[0] != '/') {
        long len = SYS2(SYS_getcwd, vr_session_path, sizeof vr_session_path - 1);
        if (len <= 1)
            return;
        n = (size_t)len - 1; /* the syscall counts the NUL */
        vr_session_path[n++] = '/';
    }
    for (size_t i = 0; path[i]; i++) {
        if (n >= sizeof vr_session_path - 1) {
            vr_session_path[0] = '\0'; /* too long: no more chunks (the overflow slot) */
            return;
        }
        vr_session_path[n++] = path[i];
    }
    vr_session_path[n] = '\0';
    vr_session_dev = dev;
    vr_session_ino = ino;
}

static struct vrift_header *attach(const char *path, int may_create, unsigned euid)
{
    uint64_t size = 0;
    struct vrift_header *h = NULL;
    struct stat st;
    long fd = raw_openat(AT_FDCWD, path, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd == -ENOENT && may_create) {
        fd = raw_openat(AT_FDCWD, path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            h = create_session((int)fd, &size);
            if (!h) {
                SYS1(SYS_unlink, path);
                raw_close((int)fd);
                return NULL;
            }
        } else if (fd == -EEXIST) { /* lost the creation race: open theirs */
            fd = raw_openat(AT_FDCWD, path, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
        }
    }
    if (fd < 0)
        return NULL;
    if (h) { /* created here */
        if (SYS2(SYS_fstat, (int)fd, &st) != 0)
            st.st_dev = st.st_ino = 0;
    } else {
        if (SYS2(SYS_fstat, (int)fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != euid ||
            (st.st_mode & 077) != 0 || st.st_nlink != 1 ||
            (uint64_t)st.st_size < sizeof(struct vrift_header) || header_ready((int)fd, (uint64_t)st.st_size) != 0) {
            raw_close((int)fd);
            return NULL;
        }
        size = (uint64_t)st.st_size;
        void *p = raw_mmap_shared((int)fd, size);
        if (p == MAP_FAILED) {
            raw_close((int)fd);
            return NULL;
        }
        h = p;
        /* The header page's first touch is a write (adding 0 changes
         * nothing): a write fault maps that one page, writable, where a
         * read fault would fault-around and, on a file system that tracks
         * dirty pages (ext4), the slot claim would fault once more to make
         * it writable. The page holds data the creator wrote, so it has its
         * blocks: no SIGBUS on a full disk. */
        __atomic_fetch_add(&h->slots_next, 0, __ATOMIC_RELAXED);
    }
    remember_session(path, st.st_dev, st.st_ino);
    raw_close((int)fd);
    if (!__atomic_load_n(&h->pre.ready, __ATOMIC_ACQUIRE) || !header_usable(h, size)) {
        raw_munmap(h, size);
        return NULL;
    }
    return h;
}

/* ---- slots ---- */

static struct vrift_slot *slot_at(uint64_t idx)
{
    return (struct vrift_slot *)((char *)vr_hdr + vr_hdr->slots_offset + idx * vr_hdr->slot_size);
}

/* Slot idx lies past slots_ready: reserve its chunk's blocks (reopening
 * the file, checked to be the one attached), then move slots_ready on if
 * the chunk joins the reserved run. 0 if the disk refused, or the file is
 * gone: the caller counts in the overflow slot instead of writing where a
 * full disk would raise SIGBUS. Once per chunk of VRIFT_SLOT_CHUNK slots
 * (two processes racing for one chunk both reserve it: harmless). */
static int reserve_chunk(struct vrift_header *h, uint64_t idx)
{
    if (!vr_session_path[0])
        return 0;
    uint64_t first = idx / VRIFT_SLOT_CHUNK * VRIFT_SLOT_CHUNK;
    uint64_t end = first + VRIFT_SLOT_CHUNK < h->slot_count ? first + VRIFT_SLOT_CHUNK : h->slot_count;
    long fd = raw_openat(AT_FDCWD, vr_session_path, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct stat st;
    int ok = SYS2(SYS_fstat, (int)fd, &st) == 0 && st.st_dev == vr_session_dev && st.st_ino == vr_session_ino &&
             reserve((int)fd, h->slots_offset + first * h->slot_size, (end - first) * h->slot_size) == 0;
    raw_close((int)fd);
    if (!ok)
        return 0;
    uint64_t ready = __atomic_load_n(&h->slots_ready, __ATOMIC_RELAXED);
    while (ready >= first && ready < end &&
           !__atomic_compare_exchange_n(&h->slots_ready, &ready, end, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
    }
    return 1;
}

struct vrift_slot *vr_fresh_slot(uint32_t *idx_out)
{
    struct vrift_header *h = vr_hdr;
    uint64_t idx = __atomic_fetch_add(&h->slots_next, 1, __ATOMIC_RELAXED);
    if (idx == 0 || idx >= h->slot_count)
        return NULL;
    if (idx >= __atomic_load_n(&h->slots_ready, __ATOMIC_ACQUIRE) && !reserve_chunk(h, idx))
        return NULL;
    *idx_out = (uint32_t)idx;
    return slot_at(idx);
}

/* Take the next free slot for this image (owner 0) or for a thread of
 * it (owner: the image's slot index); NULL when none is left. A thread
 * row repeats its image's identity, so that no reader has to chase the
 * owner to name it. */
static struct vrift_slot *take_slot(uint32_t gen, uint32_t owner, uint32_t *idx_out)
{
    uint32_t idx;
    struct vrift_slot *s = vr_fresh_slot(&idx);
    if (!s)
        return NULL;
    if (owner) {
        const struct vrift_slot *img = slot_at(owner);
        s->head.pid = img->head.pid;
        s->head.ppid = img->head.ppid;
        s->head.start_realtime_ns = img->head.start_realtime_ns;
        __builtin_memcpy(s->head.comm, img->head.comm, VRIFT_COMM_LEN);
        s->head.tid = (uint32_t)SYS0(SYS_gettid);
    } else {
        s->head.pid = (uint32_t)SYS0(SYS_getpid);
        s->head.ppid = (uint32_t)SYS0(SYS_getppid);
        s->head.start_realtime_ns = realtime_ns_syscall();
        const char *comm = program_invocation_short_name;
        for (size_t i = 0; comm && comm[i] && i < VRIFT_COMM_LEN - 1; i++)
            s->head.comm[i] = comm[i];
        vr_life_claim(s); /* 1.5: command line, cwd (lifetime.c) */
    }
    s->head.owner_slot = owner;
    s->head.reset_generation = gen;
    if (!owner)
        vr_loader_claimed(&s->counters);
    __atomic_store_n(&s->head.state, VRIFT_SLOT_LIVE, __ATOMIC_RELEASE);
    *idx_out = (uint32_t)idx;
    return s;
}

/* A reset moved the generation on: zero this thread's row, then mark it
 * as holding the new generation (readers ignore a row of an older one,
 * so no reader ever sees half-zeroed counters as current). The overflow
 * slot is zeroed by the resetter itself. */
static void renew_row(struct vrift_counters *c, uint32_t gen)
{
    if (c == vr_overflow_counters)
        return;
    struct vrift_slot *s = (struct vrift_slot *)((char *)c - offsetof(struct vrift_slot, counters));
    volatile uint64_t *w = (volatile uint64_t *)c;
    for (size_t i = 0; i < sizeof *c / sizeof(uint64_t); i++)
        w[i] = 0;
    __atomic_store_n(&s->head.reset_generation, gen, __ATOMIC_RELEASE);
}

/* This thread's first counted call (take its row: the image's slot if
 * no thread of the image has one yet, else a thread row), or its first
 * one after a reset (renew the row). A signal handler that interrupts
 * the claim on this thread, and a thread that finds no free slot or
 * waits unusually long for a sibling's claim, count into the shared
 * overflow slot: totals stay exact, attribution goes to "(overflow)". */
struct vrift_counters *vr_claim_row(uint32_t gen)
{
    struct vrift_header *h = vr_hdr;
    if (!h)
        return NULL;
    if (vr_claiming_here)
        return vr_overflow_counters;
    vr_claiming_here = 1;
    int saved = errno;
    struct vrift_counters *c = vr_row;
    if (c != NULL) {
        renew_row(c, gen);
        goto done;
    }
    /* Taking the image's slot and thread rows is serialised (a few
     * syscalls), so that an image never gets two slots. */
    for (int spin = 0; __atomic_exchange_n(&vr_claiming, 1, __ATOMIC_ACQUIRE) != 0; spin++) {
        if (spin > 1000000) {
            vr_claiming_here = 0;
            errno = saved;
            return vr_overflow_counters; /* not kept: the next call tries again */
        }
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
    }
    uint32_t idx = 0;
    struct vrift_slot *s = take_slot(gen, vr_counters ? vr_image_slot : 0, &idx);
    if (s && !vr_counters) {
        vr_image_slot = idx;
        __atomic_store_n(&vr_counters, &s->counters, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&vr_claiming, 0, __ATOMIC_RELEASE);
    if (s) {
        c = &s->counters;
    } else {
        __atomic_fetch_add(&h->slots_overflowed, 1, __ATOMIC_RELAXED);
        c = vr_overflow_counters;
    }
    vr_row = c;
done:
    vr_row_gen = gen;
    vr_claiming_here = 0;
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
    vr_image_slot = 0;
    vr_row = NULL; /* the child's only thread is the one that forked */
    vr_claiming = 0;
    vr_claiming_here = 0;
    vr_life_mark_start(); /* 1.5: a new image begins (lifetime.c) */
    vr_ghost_successor(0); /* 1.6: a ghost listed with this pid is dead */
}

/* ---- constructor ---- */

#if defined(__GLIBC__)
/* pthread_atfork is a static stub (libc_nonshared.a) that calls this with
 * our DSO handle (so that dlclose unregisters the handler). Calling it
 * ourselves leaves the stub out: it would sit at the far end of the code,
 * on a page no other startup code touches (one more page fault). */
extern int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void),
                             void *dso_handle);
extern void *__dso_handle __attribute__((weak, visibility("hidden")));
#define vr_atfork_child(fn) __register_atfork(NULL, NULL, (fn), &__dso_handle ? __dso_handle : NULL)
#else
#define vr_atfork_child(fn) pthread_atfork(NULL, NULL, (fn))
#endif

/* DT_FINI (build_shim.py links with -Wl,-fini=vr_fini): the default,
 * _fini, is an empty function at the far end of the code, which would
 * cost every process a page fault at exit just to run it. */
VR_HIDDEN __attribute__((cold)) void vr_fini(void);
void vr_fini(void)
{
    if (VR_UNLIKELY(vr_loader_pending())) /* what the last dlopen loaded */
        vr_loader_account(vr_control(), 0);
}

int vr_env_flag(const char *v)
{
    if (!v || !*v)
        return -1;
    if ((v[0] == '0' && !v[1]) || word_is(v, "false") || word_is(v, "no") || word_is(v, "off"))
        return 0;
    return 1;
}

/* Counting is on with VRIFT_PROFILE=1, or VRIFT_PROFILE_PATH set and
 * VRIFT_PROFILE not 0. The file is VRIFT_PROFILE_PATH (created if
 * missing) or else the current session; without one we stay passive. */
__attribute__((constructor, cold, noinline)) static void vr_init(int argc, char **argv, char **envp)
{
    (void)envp;
    int saved = errno;
    vr_life_mark_start(); /* 1.5: the image begins (lifetime.c) */
    const char *path = env_value("VRIFT_PROFILE_PATH");
    int flag = vr_env_flag(env_value("VRIFT_PROFILE"));
    if (path && !*path)
        path = NULL;
    if (flag == 0 || (flag < 0 && !path))
        goto out;
    char cur[1024];
    int may_create = path != NULL;
    unsigned euid = (unsigned)SYS0(SYS_geteuid);
    if (!path) {
        if (current_session(cur, sizeof cur, euid) != 0)
            goto out;
        path = cur;
    }
    struct vrift_header *h = attach(path, may_create, euid);
    if (!h)
        goto out;
    /* The session's creator checked the TSC (cpuid) when it calibrated. */
    vr_use_tsc = h->clock_source == VRIFT_CLOCK_TSC && h->clock_mult && h->clock_shift < 64;
    vr_tsc_mult = h->clock_mult;
    vr_tsc_shift = h->clock_shift;
    vr_hdr = h;
    vr_timing_init(h);
    vr_overflow_counters = &slot_at(0)->counters;
    vr_atfork_child(forget_slot_in_child);
    vr_stdio_init();
    vr_loader_attach();
#if defined(__GLIBC__)
    /* glibc passes (argc, argv, envp) to constructors; others pass nothing */
    vr_life_note_args(argc, argv);
    vr_life_attach();
#else
    (void)argc;
    (void)argv;
#endif
    __atomic_store_n(&vr_control_word, (const uint64_t *)(void *)&h->enabled, __ATOMIC_RELEASE);
    vr_ghost_successor(1); /* 1.6: did a program run unseen exec this one? */
out:
    /* Projections are served whether or not this process counts (and
     * without one, its code is not even called: it may sit on a page
     * this process has not touched). */
    {
        const char *vfs = env_value("VRIFT_VFS");
        if (vfs && *vfs)
            vr_vfs_init(vfs);
    }
    vr_attached = vr_hdr != NULL || __atomic_load_n(&vr_vfs_count, __ATOMIC_RELAXED) != 0;
    errno = saved;
}
