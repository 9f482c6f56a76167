/*
 * vfs.c — serving projected trees from their manifests.
 *
 * A projection is a real tree of hardlinks to CAS blobs (vrift mount).
 * Under its root the shim answers metadata calls from the mapped
 * manifest — with exactly the statx record of the file that was ingested,
 * so stat, fstat, statx, readdir's d_ino and access all tell the same
 * story — and opens files for reading straight from their blob. Anything
 * it cannot answer exactly (a path with "..", a symlink to follow, a path
 * changed since the mount) goes to the real file system.
 *
 * Lookup: prefix check -> bloom filter -> open-addressing index -> path
 * compare -> shared dirty table. Before a write touches a projected file
 * it is copied out of the store (copy-on-write) and marked dirty in a
 * table every process of every session shares, so nobody serves it stale.
 *
 * Process-local state is small and lock-free; configuration comes from
 * VRIFT_VFS (set by `vrift run --vfs`), read once in the constructor.
 */
#define _GNU_SOURCE
#include "vfs.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "vrift_manifest.h"

_Static_assert(sizeof(struct vrift_statx) == sizeof(struct statx), "manifest statx is the kernel's");
_Static_assert(sizeof(struct vrift_manifest_entry) == 320, "manifest entry layout");

#define VR_MAX_PROJ 4
#define DIRTY_MAGIC 0x59545249445256ull
#define DIRTY_HEADER 64
#define DIRTY_DONE (1ull << 63)
#define DIRTY_FAILED (1ull << 62)
#define DIRTY_FLAGS (DIRTY_DONE | DIRTY_FAILED)
#define DIRTY_PROBES 64

struct vr_proj {
    char root[PATH_MAX];
    size_t root_len;
    char store[PATH_MAX]; /* store root: blobs live in store/blobs/ab/cdef... */
    size_t store_len;
    uint64_t id;
    const struct vrift_manifest_header *m;
    const struct vrift_manifest_entry *entries;
    const uint32_t *index;
    const uint64_t *bloom;
    const char *strings;
    uint64_t *dirty;      /* slots */
    uint64_t *all_dirty;  /* set when the table is full: serve nothing */
    uint64_t dirty_slots;
};

int vr_vfs_count;
static struct vr_proj projs[VR_MAX_PROJ];
static uid_t vr_uid, vr_euid;
static gid_t vr_gid, vr_egid;

/* ---- tracking: fds and DIR streams opened on projected paths ---- */

#define VR_FD_MAX 65536
#define VR_DIR_SLOTS 512
static uint32_t fd_ent[VR_FD_MAX]; /* ((proj << 28) | entry) + 1, 0 = untracked */
static struct {
    DIR *d;
    uint32_t ent;
} dir_tab[VR_DIR_SLOTS];

static inline uint32_t enc(int pi, uint32_t idx) { return (((uint32_t)pi << 28) | idx) + 1; }
static inline int dec_proj(uint32_t v) { return (int)((v - 1) >> 28); }
static inline uint32_t dec_idx(uint32_t v) { return (v - 1) & 0x0FFFFFFFu; }

static void track_fd(int fd, int pi, uint32_t idx)
{
    if (fd >= 0 && fd < VR_FD_MAX)
        __atomic_store_n(&fd_ent[fd], enc(pi, idx), __ATOMIC_RELAXED);
}

static uint32_t fd_lookup(int fd)
{
    return (fd >= 0 && fd < VR_FD_MAX) ? __atomic_load_n(&fd_ent[fd], __ATOMIC_RELAXED) : 0;
}

void vr_vfs_close(int fd)
{
    if (fd >= 0 && fd < VR_FD_MAX)
        __atomic_store_n(&fd_ent[fd], 0, __ATOMIC_RELAXED);
}

void vr_vfs_close_range(unsigned first, unsigned last)
{
    for (unsigned fd = first; fd <= last && fd < VR_FD_MAX; fd++)
        fd_ent[fd] = 0;
}

void vr_vfs_dup(int oldfd, int newfd)
{
    if (newfd >= 0 && newfd < VR_FD_MAX)
        __atomic_store_n(&fd_ent[newfd], fd_lookup(oldfd), __ATOMIC_RELAXED);
}

static size_t dir_slot(DIR *d) { return ((uintptr_t)d >> 4) % VR_DIR_SLOTS; }

static void track_dir(DIR *d, uint32_t ent)
{
    size_t s = dir_slot(d);
    for (size_t i = 0; i < VR_DIR_SLOTS; i++) {
        size_t k = (s + i) % VR_DIR_SLOTS;
        DIR *expect = NULL;
        if (dir_tab[k].d == d ||
            __atomic_compare_exchange_n(&dir_tab[k].d, &expect, d, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            __atomic_store_n(&dir_tab[k].ent, ent, __ATOMIC_RELEASE);
            return;
        }
    }
}

static uint32_t dir_lookup(DIR *d)
{
    size_t s = dir_slot(d);
    for (size_t i = 0; i < VR_DIR_SLOTS; i++) {
        size_t k = (s + i) % VR_DIR_SLOTS;
        DIR *cur = __atomic_load_n(&dir_tab[k].d, __ATOMIC_ACQUIRE);
        if (cur == d)
            return __atomic_load_n(&dir_tab[k].ent, __ATOMIC_ACQUIRE);
        if (cur == NULL)
            return 0;
    }
    return 0;
}

void vr_vfs_closedir(DIR *d)
{
    size_t s = dir_slot(d);
    for (size_t i = 0; i < VR_DIR_SLOTS; i++) {
        size_t k = (s + i) % VR_DIR_SLOTS;
        if (dir_tab[k].d == d) {
            /* keep the key (probe chains stay intact), drop the meaning */
            __atomic_store_n(&dir_tab[k].ent, 0, __ATOMIC_RELEASE);
            return;
        }
        if (dir_tab[k].d == NULL)
            return;
    }
}

/* ---- attaching (constructor only) ---- */

static void *map_file(const char *path, int writable, size_t *size)
{
    long fd = syscall(SYS_openat, AT_FDCWD, path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    struct stat st;
    void *p = MAP_FAILED;
    if (syscall(SYS_fstat, (int)fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        p = (void *)syscall(SYS_mmap, NULL, (size_t)st.st_size,
                            PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, (int)fd, 0);
    syscall(SYS_close, (int)fd);
    if (p == MAP_FAILED)
        return NULL;
    *size = (size_t)st.st_size;
    return p;
}

static int manifest_ok(const struct vrift_manifest_header *h, size_t size)
{
    if (size < sizeof *h || h->magic != VRIFT_MANIFEST_MAGIC || h->byte_order != VRIFT_BYTE_ORDER_MARK ||
        h->major != VRIFT_MANIFEST_MAJOR || h->header_len < sizeof *h || h->file_size != size)
        return 0;
    uint64_t n = h->entry_count, slots = h->index_slots, bits = h->bloom_bits;
    if (slots < n || (slots & (slots - 1)) || bits < 64 || (bits & (bits - 1)) || n >= (1u << 28))
        return 0;
    return h->entries_offset >= h->header_len &&
           h->entries_offset + n * sizeof(struct vrift_manifest_entry) <= h->index_offset &&
           h->index_offset + 4 * slots <= h->bloom_offset && h->bloom_offset + bits / 8 <= h->strings_offset &&
           h->strings_offset + h->strings_size == h->file_size;
}

/* One projection descriptor (projections/ID.proj): root, manifest, dirty table. */
static int attach_projection(const char *desc, struct vr_proj *p)
{
    char text[3 * PATH_MAX];
    long fd = syscall(SYS_openat, AT_FDCWD, desc, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    long n = syscall(SYS_read, (int)fd, text, sizeof text - 1);
    syscall(SYS_close, (int)fd);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    char *lines[3];
    char *s = text;
    for (int i = 0; i < 3; i++) {
        char *nl = strchr(s, '\n');
        if (!nl)
            return 0;
        *nl = '\0';
        lines[i] = s;
        s = nl + 1;
    }
    size_t rl = strlen(lines[0]);
    if (lines[0][0] != '/' || rl >= PATH_MAX || rl < 2)
        return 0;
    memcpy(p->root, lines[0], rl + 1);
    p->root_len = rl;
    /* the store root: the manifest lives in <store>/manifests/NAME.vmf */
    char mpath[PATH_MAX];
    size_t ml = strlen(lines[1]);
    if (ml >= PATH_MAX)
        return 0;
    memcpy(mpath, lines[1], ml + 1);
    char *slash = strrchr(lines[1], '/');
    if (!slash)
        return 0;
    *slash = '\0';
    slash = strrchr(lines[1], '/');
    if (!slash || strcmp(slash, "/manifests") != 0)
        return 0;
    p->store_len = (size_t)(slash - lines[1]);
    memcpy(p->store, lines[1], p->store_len);
    p->store[p->store_len] = '\0';
    size_t msize = 0, dsize = 0;
    const struct vrift_manifest_header *m = map_file(mpath, 0, &msize);
    if (!m)
        return 0;
    if (!manifest_ok(m, msize)) {
        syscall(SYS_munmap, (void *)m, msize);
        return 0;
    }
    uint64_t *dirty = map_file(lines[2], 1, &dsize);
    if (!dirty || dsize < DIRTY_HEADER || dirty[0] != DIRTY_MAGIC ||
        DIRTY_HEADER + dirty[1] * 8 > dsize || dirty[1] == 0 || (dirty[1] & (dirty[1] - 1))) {
        if (dirty)
            syscall(SYS_munmap, dirty, dsize);
        syscall(SYS_munmap, (void *)m, msize);
        return 0;
    }
    const char *base = (const char *)m;
    p->m = m;
    p->entries = (const struct vrift_manifest_entry *)(base + m->entries_offset);
    p->index = (const uint32_t *)(base + m->index_offset);
    p->bloom = (const uint64_t *)(base + m->bloom_offset);
    p->strings = base + m->strings_offset;
    p->dirty_slots = dirty[1];
    p->all_dirty = &dirty[2];
    p->dirty = (uint64_t *)((char *)dirty + DIRTY_HEADER);
    p->id = vr_hash_bytes(VR_PATH_SEED, p->root, p->root_len);
    return 1;
}

/* Record the projection in the session once (disk figures are per
 * projection, not per process). */
static void register_in_session(const struct vr_proj *p)
{
    struct vrift_header *h = vr_hdr;
    if (!h || h->pre.minor < 2 || h->pre.header_len < sizeof *h)
        return;
    for (int i = 0; i < VRIFT_MAX_PROJECTIONS; i++) {
        uint64_t expect = 0;
        struct vrift_session_projection *s = &h->vfs_projections[i];
        if (__atomic_load_n(&s->id, __ATOMIC_ACQUIRE) == p->id)
            return;
        if (__atomic_compare_exchange_n(&s->id, &expect, p->id, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            s->original_bytes = p->m->original_bytes;
            s->unique_bytes = p->m->unique_bytes;
            return;
        }
        if (expect == p->id)
            return;
    }
}

void vr_vfs_init(const char *spec)
{
    if (!spec || !*spec)
        return;
    char buf[4 * PATH_MAX];
    size_t len = strlen(spec);
    if (len >= sizeof buf)
        return;
    memcpy(buf, spec, len + 1);
    int n = 0;
    for (char *tok = strtok(buf, ":"); tok && n < VR_MAX_PROJ; tok = strtok(NULL, ":"))
        if (attach_projection(tok, &projs[n]))
            n++;
    vr_uid = (uid_t)syscall(SYS_getuid);
    vr_euid = (uid_t)syscall(SYS_geteuid);
    vr_gid = (gid_t)syscall(SYS_getgid);
    vr_egid = (gid_t)syscall(SYS_getegid);
    for (int i = 0; i < n; i++)
        register_in_session(&projs[i]);
    __atomic_store_n(&vr_vfs_count, n, __ATOMIC_RELEASE);
}

/* ---- the dirty table ---- */

static inline uint64_t dirty_key(uint64_t h) { return (h | 1) & ~DIRTY_FLAGS; }

/* 0: clean; 1: changed (never serve); 2: a copy-on-write failed (serve, retry) */
static int dirty_state(struct vr_proj *p, uint64_t h)
{
    if (__atomic_load_n(p->all_dirty, __ATOMIC_ACQUIRE))
        return 1;
    uint64_t key = dirty_key(h), mask = p->dirty_slots - 1;
    for (uint64_t i = 0; i < DIRTY_PROBES; i++) {
        uint64_t *slot = &p->dirty[(key + i) & mask];
        uint64_t v = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
        if (v == 0)
            return 0;
        if ((v & ~DIRTY_FLAGS) != key)
            continue;
        /* another process is copying it: wait (bounded) for it to finish */
        for (int w = 0; w < 2000 && !(v & DIRTY_FLAGS); w++) {
            struct timespec ts = {0, 500000};
            syscall(SYS_nanosleep, &ts, NULL);
            v = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
        }
        return (v & DIRTY_FAILED) ? 2 : 1;
    }
    return 0;
}

/* Claim `h` for a copy (returns the slot, NULL if already changed or
 * the table is full) or, with done = 1, just mark it changed. */
static uint64_t *dirty_claim(struct vr_proj *p, uint64_t h, int done)
{
    uint64_t key = dirty_key(h), mask = p->dirty_slots - 1;
    uint64_t want = done ? key | DIRTY_DONE : key;
    for (uint64_t i = 0; i < DIRTY_PROBES; i++) {
        uint64_t *slot = &p->dirty[(key + i) & mask];
        uint64_t v = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
        if (v == 0 && __atomic_compare_exchange_n(slot, &v, want, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return slot;
        if ((v & ~DIRTY_FLAGS) != key)
            continue;
        if ((v & DIRTY_FAILED) && __atomic_compare_exchange_n(slot, &v, want, 0, __ATOMIC_ACQ_REL,
                                                              __ATOMIC_ACQUIRE))
            return slot; /* retry a failed copy */
        if (done && !(v & DIRTY_DONE))
            __atomic_store_n(slot, key | DIRTY_DONE, __ATOMIC_RELEASE);
        return NULL;
    }
    __atomic_store_n(p->all_dirty, 1, __ATOMIC_RELEASE); /* full: stop serving this projection */
    return NULL;
}

/* ---- resolving a (dirfd, path) to a projection-relative path ---- */

static const char *entry_path(const struct vr_proj *p, const struct vrift_manifest_entry *e);
static int64_t index_find(const struct vr_proj *p, const char *rel, size_t n, uint64_t h);

/* Normalise `in` (len n) into out: drop "." and empty components, and
 * resolve ".." lexically only where that is exact: when the component it
 * removes is a real directory of the manifest (not a symlink). Refuse a
 * trailing "/", ".." above the root, or ".." after an unknown component. */
static int normalise(const struct vr_proj *p, const char *in, size_t n, char *out, size_t cap,
                     size_t *out_len)
{
    size_t o = 0;
    if (n && in[n - 1] == '/')
        return 0;
    for (size_t i = 0; i < n;) {
        while (i < n && in[i] == '/')
            i++;
        size_t j = i;
        while (j < n && in[j] != '/')
            j++;
        size_t c = j - i;
        if (c == 0 || (c == 1 && in[i] == '.')) {
            i = j;
            continue;
        }
        if (c == 2 && in[i] == '.' && in[i + 1] == '.') {
            if (o == 0)
                return 0;
            int64_t idx = index_find(p, out, o, vr_hash_bytes(VR_PATH_SEED, out, o));
            if (idx < 0 || p->entries[idx].type != VRIFT_ENTRY_DIR)
                return 0;
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--; /* the separator */
            i = j;
            continue;
        }
        if (o + c + 2 > cap)
            return 0;
        if (o)
            out[o++] = '/';
        memcpy(out + o, in + i, c);
        o += c;
        i = j;
    }
    out[o] = '\0';
    *out_len = o;
    return 1;
}

static const char *entry_path(const struct vr_proj *p, const struct vrift_manifest_entry *e)
{
    return p->strings + e->path_off;
}

/* Which projection, if any, `path` (relative to dirfd) lies in; `rel`
 * receives the normalised path below its root. */
static int resolve(int dirfd, const char *path, char *rel, size_t *rel_len)
{
    char tmp[2 * PATH_MAX];
    if (!path || !*path)
        return -1;
    size_t plen = strnlen(path, PATH_MAX + 1);
    if (plen > PATH_MAX)
        return -1;
    if (path[0] != '/' && dirfd != AT_FDCWD) {
        uint32_t v = fd_lookup(dirfd);
        if (!v)
            return -1;
        int pi = dec_proj(v);
        const struct vr_proj *p = &projs[pi];
        const struct vrift_manifest_entry *d = &p->entries[dec_idx(v)];
        if (d->type != VRIFT_ENTRY_DIR || d->path_len + 1 + plen >= sizeof tmp)
            return -1;
        memcpy(tmp, entry_path(p, d), d->path_len);
        size_t o = d->path_len;
        tmp[o++] = '/';
        memcpy(tmp + o, path, plen);
        return normalise(p, tmp, o + plen, rel, PATH_MAX, rel_len) ? pi : -1;
    }
    const char *abs = path;
    size_t alen = plen;
    if (path[0] != '/') {
        size_t clen;
        const char *cwd = vr_cwd(&clen);
        if (!cwd || clen + 1 + plen >= sizeof tmp)
            return -1;
        memcpy(tmp, cwd, clen);
        tmp[clen] = '/';
        memcpy(tmp + clen + 1, path, plen);
        abs = tmp;
        alen = clen + 1 + plen;
    }
    for (int pi = 0; pi < vr_vfs_count; pi++) {
        const struct vr_proj *p = &projs[pi];
        if (alen < p->root_len || memcmp(abs, p->root, p->root_len) != 0)
            continue;
        if (alen > p->root_len && abs[p->root_len] != '/')
            continue;
        return normalise(p, abs + p->root_len, alen - p->root_len, rel, PATH_MAX, rel_len) ? pi : -1;
    }
    return -1;
}

static int bloom_has(const struct vr_proj *p, uint64_t h)
{
    uint64_t bits = p->m->bloom_bits, h2 = (h >> 32) | 1;
    for (uint64_t i = 0; i < VRIFT_BLOOM_HASHES; i++) {
        uint64_t b = (h + i * h2) & (bits - 1);
        if (!(p->bloom[b >> 6] & (1ull << (b & 63))))
            return 0;
    }
    return 1;
}

/* The manifest is untrusted: an entry whose strings lie outside the
 * string table is treated as absent (checked on use, not at attach, so
 * attaching costs nothing per exec whatever the manifest's size). */
static int entry_ok(const struct vr_proj *p, const struct vrift_manifest_entry *e)
{
    uint64_t size = p->m->strings_size;
    if ((uint64_t)e->path_off + e->path_len >= size)
        return 0;
    return e->type != VRIFT_ENTRY_SYMLINK || (uint64_t)e->target_off + e->target_len < size;
}

static int64_t index_find(const struct vr_proj *p, const char *rel, size_t n, uint64_t h)
{
    uint64_t mask = p->m->index_slots - 1;
    for (uint64_t i = 0; i <= mask; i++) {
        uint32_t v = p->index[(h + i) & mask];
        if (v == 0 || v > p->m->entry_count)
            return -1;
        const struct vrift_manifest_entry *e = &p->entries[v - 1];
        if (e->path_hash == h && e->path_len == n && entry_ok(p, e) && memcmp(entry_path(p, e), rel, n) == 0)
            return v - 1;
    }
    return -1;
}

struct hit {
    int pi;
    uint32_t idx;
    uint64_t hash;
    const struct vrift_manifest_entry *e;
    char rel[PATH_MAX];
    size_t rel_len;
};

/* The full lookup, counting bloom rejects, manifest hits and misses
 * (when `ctl` counts). Returns 1 with *out filled for a servable path. */
static int lookup(int dirfd, const char *path, uint64_t ctl, struct hit *out)
{
    int pi = resolve(dirfd, path, out->rel, &out->rel_len);
    if (pi < 0)
        return 0;
    struct vr_proj *p = &projs[pi];
    uint64_t h = vr_hash_bytes(VR_PATH_SEED, out->rel, out->rel_len);
    if (!bloom_has(p, h)) {
        if (VR_MODE(ctl))
            vr_add_misc(ctl, VRIFT_MISC_BLOOM_REJECTS, 1);
        return 0;
    }
    int64_t idx = index_find(p, out->rel, out->rel_len, h);
    if (idx < 0) {
        if (VR_MODE(ctl))
            vr_add_misc(ctl, VRIFT_MISC_MANIFEST_MISSES, 1);
        return 0;
    }
    if (dirty_state(p, h) == 1)
        return 0;
    if (VR_MODE(ctl))
        vr_add_misc(ctl, VRIFT_MISC_MANIFEST_HITS, 1);
    out->pi = pi;
    out->idx = (uint32_t)idx;
    out->hash = h;
    out->e = &p->entries[idx];
    return 1;
}

/* The entry a tracked fd refers to, if it is still clean. */
static const struct vrift_manifest_entry *fd_entry(int fd)
{
    uint32_t v = fd_lookup(fd);
    if (!v)
        return NULL;
    struct vr_proj *p = &projs[dec_proj(v)];
    const struct vrift_manifest_entry *e = &p->entries[dec_idx(v)];
    return dirty_state(p, e->path_hash) == 1 ? NULL : e;
}

/* ---- serving metadata ---- */

static void fill_stat(struct stat *st, const struct vrift_statx *x)
{
    memset(st, 0, sizeof *st);
    st->st_dev = makedev(x->stx_dev_major, x->stx_dev_minor);
    st->st_ino = x->stx_ino;
    st->st_mode = x->stx_mode;
    st->st_nlink = x->stx_nlink;
    st->st_uid = x->stx_uid;
    st->st_gid = x->stx_gid;
    st->st_rdev = makedev(x->stx_rdev_major, x->stx_rdev_minor);
    st->st_size = (off_t)x->stx_size;
    st->st_blksize = x->stx_blksize;
    st->st_blocks = (blkcnt_t)x->stx_blocks;
    st->st_atim.tv_sec = x->stx_atime.tv_sec;
    st->st_atim.tv_nsec = x->stx_atime.tv_nsec;
    st->st_mtim.tv_sec = x->stx_mtime.tv_sec;
    st->st_mtim.tv_nsec = x->stx_mtime.tv_nsec;
    st->st_ctim.tv_sec = x->stx_ctime.tv_sec;
    st->st_ctim.tv_nsec = x->stx_ctime.tv_nsec;
}

static int served_misc(enum vrift_op op)
{
    switch (op) {
    case VRIFT_OP_STAT: return VRIFT_MISC_VFS_SERVED_CALLS_STAT;
    case VRIFT_OP_LSTAT: return VRIFT_MISC_VFS_SERVED_CALLS_LSTAT;
    case VRIFT_OP_FSTAT: return VRIFT_MISC_VFS_SERVED_CALLS_FSTAT;
    case VRIFT_OP_STATX: return VRIFT_MISC_VFS_SERVED_CALLS_STATX;
    case VRIFT_OP_ACCESS: return VRIFT_MISC_VFS_SERVED_CALLS_ACCESS;
    case VRIFT_OP_READLINK: return VRIFT_MISC_VFS_SERVED_CALLS_READLINK;
    default: return -1;
    }
}

/* ---- the time-saved baseline ----
 *
 * What serving saves is the real call it replaces, which a VFS session
 * otherwise never makes. In runs of 48 of every 4096 served calls per
 * thread (timing sessions only), the shim also makes the real call into
 * a scratch buffer and times it ("shadow samples"). The program always
 * gets the served answer: a projection's real metadata differs from the
 * served one by design (docs/vfs.md). */

static VR_TLS uint32_t vr_shadow_tick;

#define SHADOW(op_misc, ctl, call)                                             \
    do {                                                                       \
        if ((VR_MODE(ctl) & VRIFT_MODE_TIME) && (vr_shadow_tick++ & 4095u) < 48u) { \
            int saved_ = errno;                                                \
            uint64_t s0_ = vr_clock();                                         \
            (void)(call);                                                      \
            uint64_t ns_ = vr_elapsed_ns(s0_, vr_clock());                     \
            vr_add_misc(ctl, (enum vrift_misc)(op_misc), 1);                   \
            vr_add_misc(ctl, (enum vrift_misc)((op_misc) + 1), ns_);           \
            errno = saved_;                                                    \
        }                                                                      \
    } while (0)

/* End of a served call: its full cost, bookkeeping included. */
static void served_done(uint64_t ctl, uint64_t t0, int served_calls_misc)
{
    if ((VR_MODE(ctl) & VRIFT_MODE_TIME) && served_calls_misc >= 0)
        vr_add_misc(ctl, (enum vrift_misc)(served_calls_misc + 1), vr_elapsed_ns(t0, vr_clock()));
}

static int shadow_misc_of(enum vrift_op op)
{
    switch (op) {
    case VRIFT_OP_STAT: return VRIFT_MISC_VFS_SHADOW_CALLS_STAT;
    case VRIFT_OP_LSTAT: return VRIFT_MISC_VFS_SHADOW_CALLS_LSTAT;
    case VRIFT_OP_FSTAT: return VRIFT_MISC_VFS_SHADOW_CALLS_FSTAT;
    case VRIFT_OP_STATX: return VRIFT_MISC_VFS_SHADOW_CALLS_STATX;
    case VRIFT_OP_ACCESS: return VRIFT_MISC_VFS_SHADOW_CALLS_ACCESS;
    case VRIFT_OP_READLINK: return VRIFT_MISC_VFS_SHADOW_CALLS_READLINK;
    default: return -1;
    }
}

int vr_vfs_fstat(int fd, struct stat *st, int *ret)
{
    if (!vr_vfs_count)
        return 0;
    uint64_t ctl = vr_control(), t0 = vr_start(ctl);
    const struct vrift_manifest_entry *e = fd_entry(fd);
    if (!e)
        return 0;
    fill_stat(st, &e->st);
    *ret = 0;
    vr_record_served(VRIFT_OP_FSTAT, ctl, t0, 0, 0, served_misc(VRIFT_OP_FSTAT));
    served_done(ctl, t0, served_misc(VRIFT_OP_FSTAT));
    struct stat scratch;
    SHADOW(VRIFT_MISC_VFS_SHADOW_CALLS_FSTAT, ctl, syscall(SYS_fstat, fd, &scratch));
    return 1;
}

int vr_vfs_stat(int dirfd, const char *path, int flags, struct stat *st, enum vrift_op op, int *ret)
{
    if (!vr_vfs_count)
        return 0;
    if ((flags & AT_EMPTY_PATH) && path && !*path)
        return vr_vfs_fstat(dirfd, st, ret);
    uint64_t ctl = vr_control(), t0 = vr_start(ctl);
    struct hit hit;
    if (!lookup(dirfd, path, ctl, &hit))
        return 0;
    if (hit.e->type == VRIFT_ENTRY_SYMLINK && !(flags & AT_SYMLINK_NOFOLLOW))
        return 0; /* following it is the kernel's job */
    fill_stat(st, &hit.e->st);
    *ret = 0;
    vr_record_served(op, ctl, t0, 0, 0, served_misc(op));
    vr_hot_if(ctl, op, dirfd, path, 0);
    served_done(ctl, t0, served_misc(op));
    struct stat scratch;
    SHADOW(shadow_misc_of(op), ctl, syscall(SYS_newfstatat, dirfd, path, &scratch, flags & AT_SYMLINK_NOFOLLOW));
    return 1;
}

int vr_vfs_statx(int dirfd, const char *path, int flags, unsigned mask, void *stx, int *ret)
{
    (void)mask; /* the kernel may return more than asked; we return what it returned at ingest */
    if (!vr_vfs_count)
        return 0;
    uint64_t ctl = vr_control(), t0 = vr_start(ctl);
    const struct vrift_manifest_entry *e;
    struct hit hit;
    if ((flags & AT_EMPTY_PATH) && path && !*path) {
        e = fd_entry(dirfd);
    } else {
        e = lookup(dirfd, path, ctl, &hit) ? hit.e : NULL;
        if (e && e->type == VRIFT_ENTRY_SYMLINK && !(flags & AT_SYMLINK_NOFOLLOW))
            return 0;
    }
    if (!e)
        return 0;
    memcpy(stx, &e->st, sizeof e->st);
    *ret = 0;
    vr_record_served(VRIFT_OP_STATX, ctl, t0, 0, 0, served_misc(VRIFT_OP_STATX));
    vr_hot_if(ctl, VRIFT_OP_STATX, dirfd, path, 0);
    served_done(ctl, t0, served_misc(VRIFT_OP_STATX));
    struct statx scratch;
    SHADOW(VRIFT_MISC_VFS_SHADOW_CALLS_STATX, ctl, syscall(SYS_statx, dirfd, path, flags, mask, &scratch));
    return 1;
}

static int in_groups(gid_t g)
{
    gid_t groups[256];
    long n = syscall(SYS_getgroups, 256, groups);
    for (long i = 0; i < n; i++)
        if (groups[i] == g)
            return 1;
    return 0;
}

int vr_vfs_access(int dirfd, const char *path, int mode, int flags, int *ret)
{
    if (!vr_vfs_count)
        return 0;
    uint64_t ctl = vr_control(), t0 = vr_start(ctl);
    struct hit hit;
    if (!lookup(dirfd, path, ctl, &hit))
        return 0;
    const struct vrift_statx *x = &hit.e->st;
    if (hit.e->type == VRIFT_ENTRY_SYMLINK && !(flags & AT_SYMLINK_NOFOLLOW))
        return 0;
    int ok = 1;
    if (mode & (R_OK | W_OK | X_OK)) {
        uid_t uid = (flags & AT_EACCESS) ? vr_euid : vr_uid;
        gid_t gid = (flags & AT_EACCESS) ? vr_egid : vr_gid;
        unsigned m = x->stx_mode;
        if (uid == 0) {
            ok = !(mode & X_OK) || S_ISDIR(m) || (m & 0111);
        } else {
            unsigned bits = uid == x->stx_uid ? (m >> 6) & 7
                            : (gid == x->stx_gid || in_groups(x->stx_gid)) ? (m >> 3) & 7
                                                                            : m & 7;
            ok = ((mode & R_OK) ? bits & 4 : 1) && ((mode & W_OK) ? bits & 2 : 1) &&
                 ((mode & X_OK) ? bits & 1 : 1);
        }
    }
    *ret = ok ? 0 : -1;
    if (!ok)
        errno = EACCES;
    vr_record_served(VRIFT_OP_ACCESS, ctl, t0, !ok, EACCES, served_misc(VRIFT_OP_ACCESS));
    vr_hot_if(ctl, VRIFT_OP_ACCESS, dirfd, path, 0);
    served_done(ctl, t0, served_misc(VRIFT_OP_ACCESS));
    SHADOW(VRIFT_MISC_VFS_SHADOW_CALLS_ACCESS, ctl, syscall(SYS_faccessat, dirfd, path, mode, flags));
    if (!ok)
        errno = EACCES;
    return 1;
}

int vr_vfs_readlink(int dirfd, const char *path, char *buf, size_t n, ssize_t *ret)
{
    if (!vr_vfs_count)
        return 0;
    uint64_t ctl = vr_control(), t0 = vr_start(ctl);
    struct hit hit;
    if (!lookup(dirfd, path, ctl, &hit))
        return 0;
    int failed = hit.e->type != VRIFT_ENTRY_SYMLINK;
    if (failed) {
        *ret = -1;
        errno = EINVAL;
    } else {
        size_t len = hit.e->target_len < n ? hit.e->target_len : n;
        memcpy(buf, projs[hit.pi].strings + hit.e->target_off, len);
        *ret = (ssize_t)len;
    }
    vr_record_served(VRIFT_OP_READLINK, ctl, t0, failed, EINVAL, served_misc(VRIFT_OP_READLINK));
    vr_hot_if(ctl, VRIFT_OP_READLINK, dirfd, path, 0);
    served_done(ctl, t0, served_misc(VRIFT_OP_READLINK));
    char scratch[PATH_MAX];
    SHADOW(VRIFT_MISC_VFS_SHADOW_CALLS_READLINK, ctl, syscall(SYS_readlinkat, dirfd, path, scratch, sizeof scratch));
    if (failed)
        errno = EINVAL;
    return 1;
}

/* ---- opening: from the blob, or copy-on-write ---- */

static int blob_path(const struct vr_proj *p, const struct vrift_manifest_entry *e, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    if (p->store_len + 8 + 2 * VRIFT_BLOB_HASH_LEN + 2 >= cap)
        return 0;
    memcpy(out, p->store, p->store_len);
    size_t o = p->store_len;
    memcpy(out + o, "/blobs/", 7);
    o += 7;
    for (int i = 0; i < VRIFT_BLOB_HASH_LEN; i++) {
        out[o++] = hex[e->blob[i] >> 4];
        out[o++] = hex[e->blob[i] & 15];
        if (i == 0)
            out[o++] = '/';
    }
    out[o] = '\0';
    return 1;
}

static int abs_path(const struct vr_proj *p, const char *rel, size_t rel_len, char *out, size_t cap)
{
    if (p->root_len + 1 + rel_len + 1 > cap)
        return 0;
    memcpy(out, p->root, p->root_len);
    size_t o = p->root_len;
    if (rel_len) {
        out[o++] = '/';
        memcpy(out + o, rel, rel_len);
        o += rel_len;
    }
    out[o] = '\0';
    return 1;
}

static void mark_parent_dirty(struct vr_proj *p, const char *rel, size_t rel_len)
{
    const char *slash = memrchr(rel, '/', rel_len);
    size_t plen = slash ? (size_t)(slash - rel) : 0;
    dirty_claim(p, vr_hash_bytes(VR_PATH_SEED, rel, plen), 1);
}

/* Copy a projected file out of the store so it can change. Returns 0 on
 * success (or when it was already copied), -1 with errno on failure. */
static int cow(struct hit *hit, uint64_t ctl)
{
    struct vr_proj *p = &projs[hit->pi];
    const struct vrift_manifest_entry *e = hit->e;
    uint64_t *slot = dirty_claim(p, hit->hash, 0);
    if (!slot)
        return 0; /* already changed (or being changed) by someone: it is a real file now */
    char dst[PATH_MAX], tmp[PATH_MAX], src[PATH_MAX];
    int saved = errno, err = 0;
    long in = -1, out = -1;
    uint64_t copied = 0;
    if (!abs_path(p, hit->rel, hit->rel_len, dst, sizeof dst) ||
        snprintf(tmp, sizeof tmp, "%s.vrift-cow.%ld", dst, (long)syscall(SYS_getpid)) >= (int)sizeof tmp) {
        err = ENAMETOOLONG;
        goto fail;
    }
    in = blob_path(p, e, src, sizeof src) ? syscall(SYS_openat, AT_FDCWD, src, O_RDONLY | O_CLOEXEC, 0) : -1;
    if (in < 0) /* blob gone: the projected file is the same content */
        in = syscall(SYS_openat, AT_FDCWD, dst, O_RDONLY | O_CLOEXEC, 0);
    if (in < 0) {
        err = errno;
        goto fail;
    }
    out = syscall(SYS_openat, AT_FDCWD, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        err = errno;
        goto fail;
    }
    for (;;) {
        long n = syscall(SYS_copy_file_range, (int)in, NULL, (int)out, NULL, 1 << 20, 0);
        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
            char buf[65536];
            n = syscall(SYS_read, (int)in, buf, sizeof buf);
            if (n > 0 && syscall(SYS_write, (int)out, buf, n) != n)
                n = -1;
        }
        if (n < 0) {
            err = errno;
            goto fail;
        }
        if (n == 0)
            break;
        copied += (uint64_t)n;
    }
    if (syscall(SYS_fchmod, (int)out, e->st.stx_mode & 07777) != 0 ||
        syscall(SYS_rename, tmp, dst) != 0) {
        err = errno;
        goto fail;
    }
    syscall(SYS_close, (int)in);
    syscall(SYS_close, (int)out);
    __atomic_store_n(slot, dirty_key(hit->hash) | DIRTY_DONE, __ATOMIC_RELEASE);
    mark_parent_dirty(p, hit->rel, hit->rel_len);
    if (VR_MODE(ctl)) {
        vr_add_misc(ctl, VRIFT_MISC_COW_COPIES, 1);
        vr_add_misc(ctl, VRIFT_MISC_COW_BYTES, copied);
    }
    errno = saved;
    return 0;
fail:
    if (in >= 0)
        syscall(SYS_close, (int)in);
    if (out >= 0) {
        syscall(SYS_close, (int)out);
        syscall(SYS_unlink, tmp);
    }
    __atomic_store_n(slot, dirty_key(hit->hash) | DIRTY_FAILED, __ATOMIC_RELEASE);
    errno = err;
    return -1;
}

static int wants_write(int flags)
{
    return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

int vr_vfs_open(int dirfd, const char *path, int flags, mode_t mode, int *ret)
{
    if (!vr_vfs_count)
        return 0;
    uint64_t ctl = vr_control(), t0 = vr_start(ctl);
    struct hit hit;
    if (!lookup(dirfd, path, ctl, &hit))
        return 0;
    if (hit.e->type == VRIFT_ENTRY_DIR) {
        long fd = syscall(SYS_openat, dirfd, path, flags, mode);
        int e = errno;
        if (fd >= 0)
            track_fd((int)fd, hit.pi, hit.idx);
        *ret = (int)fd;
        if (VR_MODE(ctl))
            vr_record_path(VRIFT_OP_OPEN, ctl, t0, fd < 0, e, dirfd, path);
        errno = e;
        return 1;
    }
    if (hit.e->type != VRIFT_ENTRY_FILE || ((flags & O_CREAT) && (flags & O_EXCL)))
        return 0;
    if (wants_write(flags)) {
        if (cow(&hit, ctl) != 0) {
            *ret = -1;
            int e = errno;
            if (VR_MODE(ctl))
                vr_record_path(VRIFT_OP_OPEN, ctl, t0, 1, e, dirfd, path);
            errno = e;
            return 1;
        }
        return 0; /* now a private file: the real open does the rest */
    }
    char blob[PATH_MAX];
    if (!blob_path(&projs[hit.pi], hit.e, blob, sizeof blob))
        return 0;
    int saved = errno;
    long fd = syscall(SYS_openat, AT_FDCWD, blob, flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW), 0);
    if (fd < 0) {
        errno = saved;
        if (VR_MODE(ctl))
            vr_add_misc(ctl, VRIFT_MISC_CAS_MISSES, 1);
        return 0; /* blob missing: the projected file itself still has the content */
    }
    track_fd((int)fd, hit.pi, hit.idx);
    *ret = (int)fd;
    if (VR_MODE(ctl)) {
        vr_add_misc(ctl, VRIFT_MISC_CAS_HITS, 1);
        vr_record_served(VRIFT_OP_OPEN, ctl, t0, 0, 0, -1);
        vr_hot_if(ctl, VRIFT_OP_OPEN, dirfd, path, 0);
    }
    return 1;
}

FILE *vr_vfs_fopen(const char *path, const char *mode, FILE *(*real)(const char *, const char *),
                   int *handled)
{
    *handled = 0;
    if (!vr_vfs_count || !mode)
        return NULL;
    uint64_t ctl = vr_control(), t0 = vr_start(ctl);
    struct hit hit;
    if (!lookup(AT_FDCWD, path, ctl, &hit) || hit.e->type != VRIFT_ENTRY_FILE)
        return NULL;
    if (strpbrk(mode, "wa+")) {
        if (cow(&hit, ctl) != 0) {
            *handled = 1;
            return NULL;
        }
        return NULL;
    }
    char blob[PATH_MAX];
    if (!blob_path(&projs[hit.pi], hit.e, blob, sizeof blob))
        return NULL;
    int saved = errno;
    FILE *f = real(blob, mode);
    if (!f) {
        errno = saved;
        if (VR_MODE(ctl))
            vr_add_misc(ctl, VRIFT_MISC_CAS_MISSES, 1);
        return NULL;
    }
    track_fd(fileno(f), hit.pi, hit.idx);
    *handled = 1;
    if (VR_MODE(ctl)) {
        vr_add_misc(ctl, VRIFT_MISC_CAS_HITS, 1);
        vr_record_served(VRIFT_OP_OPEN, ctl, t0, 0, 0, -1);
    }
    return f;
}

/* ---- directories ---- */

void vr_vfs_opendir(const char *path, DIR *d)
{
    if (!vr_vfs_count || !d)
        return;
    struct hit hit;
    if (lookup(AT_FDCWD, path, 0, &hit) && hit.e->type == VRIFT_ENTRY_DIR) {
        track_dir(d, enc(hit.pi, hit.idx));
        track_fd(dirfd(d), hit.pi, hit.idx);
    }
}

void vr_vfs_fdopendir(int fd, DIR *d)
{
    if (!vr_vfs_count || !d)
        return;
    uint32_t v = fd_lookup(fd);
    if (v)
        track_dir(d, v);
}

/* readdir reports inode numbers; make them the ones stat serves. */
void vr_vfs_fix_dirent(DIR *d, const char *name, ino_t *ino)
{
    uint32_t v = dir_lookup(d);
    if (!v)
        return;
    struct vr_proj *p = &projs[dec_proj(v)];
    const struct vrift_manifest_entry *dir = &p->entries[dec_idx(v)];
    char rel[PATH_MAX];
    size_t n = dir->path_len, nl = strlen(name);
    if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) {
        if (name[1] == '\0') {
            memcpy(rel, entry_path(p, dir), n);
        } else { /* "..": the parent, unless we are at the root */
            if (n == 0)
                return;
            const char *slash = memrchr(entry_path(p, dir), '/', n);
            n = slash ? (size_t)(slash - entry_path(p, dir)) : 0;
            memcpy(rel, entry_path(p, dir), n);
        }
    } else {
        if (n + 1 + nl >= sizeof rel)
            return;
        memcpy(rel, entry_path(p, dir), n);
        if (n)
            rel[n++] = '/';
        memcpy(rel + n, name, nl);
        n += nl;
    }
    uint64_t h = vr_hash_bytes(VR_PATH_SEED, rel, n);
    int64_t idx = index_find(p, rel, n, h);
    if (idx >= 0 && dirty_state(p, h) != 1)
        *ino = p->entries[idx].st.stx_ino;
}

/* ---- changes ---- */

void vr_vfs_before_inode_change(int dirfd, const char *path, int nofollow)
{
    if (!vr_vfs_count)
        return;
    uint64_t ctl = vr_control();
    struct hit hit;
    if (!lookup(dirfd, path, 0, &hit))
        return;
    if (hit.e->type == VRIFT_ENTRY_FILE)
        cow(&hit, ctl);
    else if (hit.e->type != VRIFT_ENTRY_SYMLINK || nofollow)
        dirty_claim(&projs[hit.pi], hit.hash, 1); /* a dir or link of its own: just stop serving it */
}

void vr_vfs_before_fd_inode_change(int fd)
{
    uint32_t v = fd_lookup(fd);
    if (!v)
        return;
    struct vr_proj *p = &projs[dec_proj(v)];
    const struct vrift_manifest_entry *e = &p->entries[dec_idx(v)];
    char abs[PATH_MAX];
    if (abs_path(p, entry_path(p, e), e->path_len, abs, sizeof abs))
        vr_vfs_before_inode_change(AT_FDCWD, abs, 1);
}

void vr_vfs_before_name_change(int dirfd, const char *path)
{
    if (!vr_vfs_count)
        return;
    char rel[PATH_MAX];
    size_t n;
    int pi = resolve(dirfd, path, rel, &n);
    if (pi < 0)
        return;
    struct vr_proj *p = &projs[pi];
    dirty_claim(p, vr_hash_bytes(VR_PATH_SEED, rel, n), 1);
    mark_parent_dirty(p, rel, n);
}

/* For tests: the path hash the manifest writer must reproduce. */
VR_EXPORT uint64_t vrift_shim_path_hash(const char *p, size_t n)
{
    return vr_hash_bytes(VR_PATH_SEED, p, n);
}
