/*
 * hotpaths.c — the shared table of hot paths: every distinct path each
 * command of the session names, with its calls, errors, time and
 * operations (so a flame graph can be rooted at the command).
 *
 * Lock-free and shared by all processes: an entry is claimed by a CAS of
 * its 64-bit path hash into an empty slot (linear probing, at most
 * VRIFT_HOT_MAX_PROBE steps); the claimer copies the path into a bump-
 * allocated arena and publishes its offset last. Counters are locked
 * adds. When no entry is in reach, the call is counted in hot_dropped,
 * never silently lost. Relative paths are recorded under the process's
 * working directory (cached; chdir/fchdir invalidate it); paths relative
 * to a directory fd cannot be named cheaply and count in hot_unresolved.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rawsys.h"
#include "shim.h"

/* ---- the working directory, cached per process ---- */

static char vr_cwd_buf[PATH_MAX];
static uint32_t vr_cwd_len;
static uint64_t vr_cwd_hash;
static int vr_cwd_state; /* 0 unknown, 1 computing, 2 valid */

void vr_cwd_changed(void)
{
    __atomic_store_n(&vr_cwd_state, 0, __ATOMIC_RELEASE);
}

static int cwd_ready(void);

const char *vr_cwd(size_t *len)
{
    if (!cwd_ready())
        return NULL;
    *len = vr_cwd_len;
    return vr_cwd_buf;
}

#define hash_bytes vr_hash_bytes

#define ABS_SEED 0x243F6A8885A308D3ull

/* This image's command, as a hash seed (computed once per image; a fork
 * child keeps its parent's program name, an exec starts afresh). */
static uint64_t vr_comm_seed;

static uint64_t comm_seed(void)
{
    uint64_t s = __atomic_load_n(&vr_comm_seed, __ATOMIC_RELAXED);
    if (VR_UNLIKELY(s == 0)) {
        const char *c = program_invocation_short_name;
        size_t n = strnlen(c, VRIFT_HOT_COMM_LEN - 1);
        s = hash_bytes(0x13198A2E03707344ull, c, n);
        __atomic_store_n(&vr_comm_seed, s, __ATOMIC_RELAXED);
    }
    return s;
}

static int cwd_ready(void)
{
    int st = __atomic_load_n(&vr_cwd_state, __ATOMIC_ACQUIRE);
    if (st == 2)
        return 1;
    if (st == 1)
        return 0;
    int expect = 0;
    if (!__atomic_compare_exchange_n(&vr_cwd_state, &expect, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return 0;
    int saved = errno;
    long n = vr_syscall(SYS_getcwd, vr_cwd_buf, sizeof vr_cwd_buf);
    errno = saved;
    if (n <= 1 || vr_cwd_buf[0] != '/') {
        __atomic_store_n(&vr_cwd_state, 0, __ATOMIC_RELEASE);
        return 0;
    }
    vr_cwd_len = (uint32_t)strlen(vr_cwd_buf);
    vr_cwd_hash = hash_bytes(ABS_SEED, vr_cwd_buf, vr_cwd_len);
    __atomic_store_n(&vr_cwd_state, 2, __ATOMIC_RELEASE);
    return 1;
}

/* ---- the table ---- */

static void store_path(struct vrift_header *h, struct vrift_hot_entry *e, const char *rel,
                       size_t rel_len, int relative)
{
    size_t len = relative ? vr_cwd_len + 1 + rel_len : rel_len;
    strncpy(e->comm, program_invocation_short_name, VRIFT_HOT_COMM_LEN - 1);
    uint64_t off = __atomic_fetch_add(&h->hot_arena_used, len + 1, __ATOMIC_RELAXED);
    if (off + len + 1 > h->hot_arena_size || len > UINT32_MAX)
        return; /* arena full: counts kept, path shown as unknown */
    char *dst = (char *)h + h->hot_arena_offset + off;
    if (relative) {
        memcpy(dst, vr_cwd_buf, vr_cwd_len);
        dst[vr_cwd_len] = '/';
        memcpy(dst + vr_cwd_len + 1, rel, rel_len);
    } else {
        memcpy(dst, rel, rel_len);
    }
    dst[len] = '\0';
    e->path_len = (uint32_t)len;
    __atomic_store_n(&e->path_off, (uint32_t)off, __ATOMIC_RELEASE);
}

/* The entry of `path` (relative to the working directory when
 * `relative`) under `hash`: found or claimed within VRIFT_HOT_MAX_PROBE
 * steps; NULL when none is in reach. */
static struct vrift_hot_entry *entry_for(struct vrift_header *h, uint64_t hash, const char *path, size_t len,
                                         int relative)
{
    struct vrift_hot_entry *table = (struct vrift_hot_entry *)((char *)h + h->hot_offset);
    uint32_t mask = h->hot_count - 1;
    for (uint32_t i = 0; i < VRIFT_HOT_MAX_PROBE; i++) {
        struct vrift_hot_entry *e = &table[(hash + i) & mask];
        uint64_t cur = __atomic_load_n(&e->hash, __ATOMIC_RELAXED);
        if (cur == 0) {
            uint64_t expect = 0;
            if (__atomic_compare_exchange_n(&e->hash, &expect, hash, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_RELAXED))
                store_path(h, e, path, len, relative);
            else
                cur = expect;
            if (cur != 0 && cur != hash)
                continue;
        } else if (cur != hash) {
            continue;
        }
        return e;
    }
    return NULL;
}

/* The hash of (command, path), or 0 when the path cannot be named. */
static uint64_t path_hash(struct vrift_header *h, int dirfd, const char *path, size_t len, int relative,
                          uint64_t kind_seed)
{
    uint64_t seed = ABS_SEED;
    if (relative) {
        if (dirfd != AT_FDCWD || !cwd_ready()) {
            __atomic_fetch_add(&h->hot_unresolved, 1, __ATOMIC_RELAXED);
            return 0;
        }
        seed = vr_cwd_hash;
    }
    return hash_bytes(seed ^ comm_seed() ^ kind_seed, path, len);
}

/* "./x" and "x" name the same file, whatever the directory: one entry
 * (lexically only: "a/../x" may not be "x" through a symlink). */
static const char *without_dot_slash(const char *path)
{
    const char *p = path;
    while (p[0] == '.' && p[1] == '/') {
        p += 2;
        while (*p == '/')
            p++;
    }
    return *p ? p : path;
}

void vr_hot_record(uint64_t ctl, enum vrift_op op, int dirfd, const char *path, uint64_t ns, int failed,
                   uint64_t weight)
{
    struct vrift_header *h = vr_hdr;
    if (!h || !h->hot_count || !path)
        return;
    path = without_dot_slash(path);
    size_t len = strlen(path);
    if (len == 0)
        return;
    int relative = path[0] != '/';
    uint64_t hash = path_hash(h, dirfd, path, len, relative, 0);
    if (!hash)
        return;
    struct vrift_hot_entry *e = entry_for(h, hash, path, len, relative);
    if (!e) {
        __atomic_fetch_add(&h->hot_dropped, 1, __ATOMIC_RELAXED);
        return;
    }
    __atomic_fetch_add(&e->calls, weight, __ATOMIC_RELAXED);
    if (VR_MODE(ctl) & VRIFT_MODE_TIME)
        __atomic_fetch_add(&e->latency_ns, ns * weight, __ATOMIC_RELAXED);
    if (failed)
        __atomic_fetch_add(&e->errors, weight, __ATOMIC_RELAXED);
    uint64_t bit = 1ull << op;
    if (!(__atomic_load_n(&e->ops, __ATOMIC_RELAXED) & bit))
        __atomic_fetch_or(&e->ops, bit, __ATOMIC_RELAXED);
}

/* Unseen programs live in the same table under a hash of their own (a
 * program run unseen and the same path named by calls are two entries). */
#define UNSEEN_SEED 0x452821E638D01377ull

long vr_hot_note_unseen(int dirfd, const char *path, uint64_t why)
{
    struct vrift_header *h = vr_hdr;
    if (path)
        path = without_dot_slash(path);
    size_t len = path ? strlen(path) : 0;
    if (!h || !h->hot_count || len == 0)
        return -1;
    int relative = path[0] != '/';
    uint64_t hash = path_hash(h, dirfd, path, len, relative, UNSEEN_SEED);
    struct vrift_hot_entry *e = hash ? entry_for(h, hash, path, len, relative) : NULL;
    if (!e)
        return -1; /* still counted in the session's unseen_* counters */
    __atomic_fetch_add(&e->calls, 1, __ATOMIC_RELAXED);
    uint64_t bits = VRIFT_HOT_UNSEEN | why;
    if ((__atomic_load_n(&e->ops, __ATOMIC_RELAXED) & bits) != bits)
        __atomic_fetch_or(&e->ops, bits, __ATOMIC_RELAXED);
    return e - (struct vrift_hot_entry *)((char *)h + h->hot_offset);
}

void vr_hot_unnote_unseen(long hot)
{
    struct vrift_header *h = vr_hdr;
    if (!h || hot < 0 || (uint64_t)hot >= h->hot_count)
        return;
    struct vrift_hot_entry *e = (struct vrift_hot_entry *)((char *)h + h->hot_offset) + hot;
    if (__atomic_load_n(&e->calls, __ATOMIC_RELAXED))
        __atomic_fetch_sub(&e->calls, 1, __ATOMIC_RELAXED);
}
