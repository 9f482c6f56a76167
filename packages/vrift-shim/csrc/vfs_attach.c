/*
 * vfs_attach.c — attaching the projections a process serves.
 *
 * `vrift run --vfs DEST` names projection descriptors in VRIFT_VFS; the
 * constructor reads each (projections/ID.proj: root, pinned manifest
 * version, dirty table, store root), maps the manifest read-only and the
 * dirty table shared, and records the projection once in the session
 * (disk figures are per projection, not per process). Raw syscalls only:
 * this runs before anything else in the process may be trusted.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rawsys.h"
#include "vfs_internal.h"

_Static_assert(sizeof(struct vrift_statx) == sizeof(struct statx), "manifest statx is the kernel's");
_Static_assert(sizeof(struct vrift_manifest_entry) == 320, "manifest entry layout");

_Static_assert(sizeof(struct vrift_dirty_header) == 64, "dirty entries start on a cache line");

int vr_vfs_count;
struct vr_proj vr_projs[VR_MAX_PROJ];
uid_t vr_uid, vr_euid;
gid_t vr_gid, vr_egid;

static void *map_file(const char *path, int writable, size_t *size)
{
    long fd = vr_syscall(SYS_openat, AT_FDCWD, path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    struct stat st;
    void *p = MAP_FAILED;
    if (vr_syscall(SYS_fstat, (int)fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        p = (void *)vr_syscall(SYS_mmap, NULL, (size_t)st.st_size,
                            PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, (int)fd, 0);
    vr_syscall(SYS_close, (int)fd);
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

static int copy_line(char *dst, size_t *len, const char *src, int absolute)
{
    size_t n = strlen(src);
    if (n >= PATH_MAX || n < 2 || (absolute && src[0] != '/'))
        return 0;
    memcpy(dst, src, n + 1);
    if (len)
        *len = n;
    return 1;
}

/* Read the lines of a descriptor the shim uses (root, manifest, dirty
 * table, store root: enum vrift_proj_line) into `text`, pointed to by lines[]. */
static int read_descriptor(const char *desc, char *text, size_t cap, char *lines[VRIFT_PROJ_SHIM_LINES])
{
    long fd = vr_syscall(SYS_openat, AT_FDCWD, desc, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    long n = vr_syscall(SYS_read, (int)fd, text, cap - 1);
    vr_syscall(SYS_close, (int)fd);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    char *s = text;
    for (int i = 0; i < VRIFT_PROJ_SHIM_LINES; i++) {
        char *nl = strchr(s, '\n');
        if (!nl)
            return 0;
        *nl = '\0';
        lines[i] = s;
        s = nl + 1;
    }
    return 1;
}

/* Map a dirty table into p's dirty fields; its size in *size. */
static int map_dirty(const char *path, struct vr_proj *p, size_t *size)
{
    struct vrift_dirty_header *h = map_file(path, 1, size);
    if (!h)
        return 0;
    uint64_t slots = *size < sizeof *h ? 0 : h->slots;
    if (slots == 0 || h->magic != VRIFT_DIRTY_MAGIC || (slots & (slots - 1)) ||
        slots > (*size - sizeof *h) / sizeof(uint64_t)) {
        vr_syscall(SYS_munmap, h, *size);
        return 0;
    }
    p->dirty_head = h;
    p->dirty_slots = slots;
    p->dirty = (uint64_t *)(h + 1);
    return 1;
}

/* The registry directory (where the descriptors live), for projections
 * this process does not serve but may still write into. */
static char registry[PATH_MAX];

/* 0: unusable; 1: attached (p->m == NULL: protect-only, when the manifest
 * or the dirty table is missing or damaged — nothing is served from it,
 * but its store stays protected: the object rule needs only the store). */
static int attach_projection(const char *desc, struct vr_proj *p)
{
    char text[5 * PATH_MAX];
    char *lines[VRIFT_PROJ_SHIM_LINES];
    if (!read_descriptor(desc, text, sizeof text, lines))
        return 0;
    if (!copy_line(p->root, &p->root_len, lines[VRIFT_PROJ_LINE_ROOT], 1) ||
        !copy_line(p->store, &p->store_len, lines[VRIFT_PROJ_LINE_STORE], 1))
        return 0;
    p->m = NULL;
    size_t msize = 0, dsize = 0;
    const struct vrift_manifest_header *m = map_file(lines[VRIFT_PROJ_LINE_MANIFEST], 0, &msize);
    if (!m)
        return 1;
    if (!manifest_ok(m, msize) || !map_dirty(lines[VRIFT_PROJ_LINE_DIRTY], p, &dsize)) {
        vr_syscall(SYS_munmap, (void *)m, msize);
        return 1;
    }
    const char *base = (const char *)m;
    p->m = m;
    p->entries = (const struct vrift_manifest_entry *)(base + m->entries_offset);
    p->index = (const uint32_t *)(base + m->index_offset);
    p->bloom = (const uint64_t *)(base + m->bloom_offset);
    p->strings = base + m->strings_offset;
    p->id = vr_hash_bytes(VR_PATH_SEED, p->root, p->root_len);
    const char *slash = strrchr(desc, '/');
    if (slash && !registry[0] && (size_t)(slash - desc) < sizeof registry)
        memcpy(registry, desc, (size_t)(slash - desc));
    return 1;
}

/* A copy-on-write at `where`, in a projection this process does not serve
 * (a write from `run --vfs A` into projection B of the same store):
 * attach B for the moment, so the copy gets B's ingested metadata and B's
 * dirty table marks it (B never serves it stale). Rare (only on such a
 * copy), so it may scan the registry. */
int vr_attach_other(const char *where, size_t wl, struct vr_proj *out)
{
    if (!registry[0])
        return 0;
    long dfd = vr_syscall(SYS_openat, AT_FDCWD, registry, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (dfd < 0)
        return 0;
    char buf[4096], desc[PATH_MAX], text[5 * PATH_MAX];
    size_t rl = strlen(registry);
    long n;
    int found = 0;
    while (!found && (n = vr_syscall(SYS_getdents64, (int)dfd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n && !found;) {
            struct vr_dirent64 {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *d = (struct vr_dirent64 *)(buf + off);
            off += d->reclen;
            size_t nl = strlen(d->name);
            char *lines[VRIFT_PROJ_SHIM_LINES];
            if (nl < 6 || strcmp(d->name + nl - 5, ".proj") != 0 || rl + 1 + nl >= sizeof desc)
                continue;
            memcpy(desc, registry, rl);
            desc[rl] = '/';
            memcpy(desc + rl + 1, d->name, nl + 1);
            if (!read_descriptor(desc, text, sizeof text, lines))
                continue;
            const char *root = lines[VRIFT_PROJ_LINE_ROOT];
            size_t root_len = strlen(root);
            if (wl > root_len && memcmp(where, root, root_len) == 0 && where[root_len] == '/')
                found = attach_projection(desc, out) && out->m;
        }
    }
    vr_syscall(SYS_close, (int)dfd);
    return found;
}

void vr_detach(struct vr_proj *p)
{
    vr_syscall(SYS_munmap, p->dirty_head, sizeof *p->dirty_head + p->dirty_slots * sizeof(uint64_t));
    vr_syscall(SYS_munmap, (void *)p->m, p->m->file_size);
}

/* Record the projection in the session once (disk figures are per
 * projection, not per process). */
static void register_in_session(const struct vr_proj *p)
{
    struct vrift_header *h = vr_hdr;
    if (!h || !p->m || !__atomic_load_n(&h->enabled, __ATOMIC_RELAXED) || h->pre.minor < 2 ||
        h->pre.header_len < sizeof *h)
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
    char *save = NULL;
    for (char *tok = strtok_r(buf, ":", &save); tok && n < VR_MAX_PROJ; tok = strtok_r(NULL, ":", &save))
        if (attach_projection(tok, &vr_projs[n]))
            n++;
    vr_uid = (uid_t)vr_syscall(SYS_getuid);
    vr_euid = (uid_t)vr_syscall(SYS_geteuid);
    vr_gid = (gid_t)vr_syscall(SYS_getgid);
    vr_egid = (gid_t)vr_syscall(SYS_getegid);
    for (int i = 0; i < n; i++)
        register_in_session(&vr_projs[i]);
    if (n) { /* every call timed: the time-saved estimate compares served and real calls */
        vr_sampled_ops = 0;
        vr_sample_mask = 0;
    }
    __atomic_store_n(&vr_vfs_count, n, __ATOMIC_RELEASE);
}
