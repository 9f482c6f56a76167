/*
 * vfs_serve.c — answering calls on projected paths from the manifest.
 *
 * Metadata calls get exactly the statx record of the file that was
 * ingested (so stat, fstat, statx, readdir's d_ino and access all tell
 * one story, docs/vfs.md), following symlinks stored in the manifest as
 * the kernel would. Opens for reading go straight to the blob. Anything
 * the manifest cannot answer exactly goes to the real call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "rawsys.h"
#include "vfs_internal.h"

/* ---- the time-saved baseline ----
 *
 * What serving saves is the real call it replaces, which a VFS session
 * otherwise never makes. In runs of VRIFT_VFS_SHADOW_RUN of every
 * VRIFT_VFS_SHADOW_PERIOD served calls per thread (timing sessions only,
 * vrift_profile.h), the shim also makes the real call into a scratch
 * buffer and times it ("shadow samples"). The program always gets the
 * served answer: a projection's real metadata differs from the served
 * one by design (docs/vfs.md). */

_Static_assert((VRIFT_VFS_SHADOW_PERIOD & (VRIFT_VFS_SHADOW_PERIOD - 1)) == 0 &&
                   VRIFT_VFS_SHADOW_RUN <= VRIFT_VFS_SHADOW_PERIOD,
               "the shadow period is a power of two (a mask, no division)");

static VR_TLS uint32_t vr_shadow_tick;

#define SHADOW(op_misc, ctl, call)                                                        \
    do {                                                                                  \
        if ((VR_MODE(ctl) & VRIFT_MODE_TIME) &&                                           \
            (vr_shadow_tick++ & (VRIFT_VFS_SHADOW_PERIOD - 1u)) < VRIFT_VFS_SHADOW_RUN) { \
            int saved_ = errno;                                                           \
            uint64_t s0_ = vr_clock();                                                    \
            (void)(call);                                                                 \
            uint64_t ns_ = vr_elapsed_ns(s0_, vr_clock());                                \
            vr_add_misc(ctl, (enum vrift_misc)(op_misc), 1);                              \
            vr_add_misc(ctl, (enum vrift_misc)((op_misc) + 1), ns_);                      \
            errno = saved_;                                                               \
        }                                                                                 \
    } while (0)

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

static int shadow_misc(enum vrift_op op)
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

/* The one epilogue of every served call: count it (calls, errors, the
 * served class), the hot-path table, and its full cost, bookkeeping
 * included. Leaves errno as the call set it. */
static void served(enum vrift_op op, uint64_t ctl, uint64_t t0, int failed, int err, int dirfd, const char *path)
{
    int saved = errno;
    int misc = served_misc(op);
    vr_record_served(op, ctl, t0, failed, err, misc);
    uint64_t ns = (VR_MODE(ctl) & VRIFT_MODE_TIME) ? vr_elapsed_ns(t0, vr_clock()) : 0;
    vr_hot_after(ctl, op, dirfd, path, ns, failed);
    if ((VR_MODE(ctl) & VRIFT_MODE_TIME) && misc >= 0)
        vr_add_misc(ctl, (enum vrift_misc)(misc + 1), ns);
    errno = saved;
}

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

/* An entry that changed through the shim (copied out, chmod'ed, its
 * directory written to) is still the same file or directory: it keeps its
 * identity. Its metadata is then the real one, but (st_dev, st_ino) stay
 * the served ones, so no view sees a file's identity change when it is
 * first written (fts walks, editors and make compare them); a name that
 * is gone (renamed away, removed) is a new object and gets the real ones. */
static int changed(struct vr_proj *p, uint64_t hash)
{
    return (vr_dirty_flags(p, hash) & VR_DIRTY_DONE) != 0;
}

/* The entry a tracked fd refers to; *is_changed says whether to serve it
 * (0) or the real metadata under its identity (1). */
static const struct vrift_manifest_entry *fd_entry(int fd, int *is_changed)
{
    uint32_t v = vr_fd_lookup(fd);
    if (!v)
        return NULL;
    struct vr_proj *p = &vr_projs[vr_dec_proj(v)];
    const struct vrift_manifest_entry *e = &p->entries[vr_dec_idx(v)];
    if (vr_dirty_flags(p, e->path_hash) & VR_DIRTY_GONE)
        return NULL;
    *is_changed = changed(p, e->path_hash);
    return e;
}

static void keep_identity(struct stat *st, const struct vrift_statx *x)
{
    st->st_dev = makedev(x->stx_dev_major, x->stx_dev_minor);
    st->st_ino = x->stx_ino;
}

/* The real call for a changed entry, under the entry's identity; counted
 * like any call that went to the file system. */
static int real_stat_as(const struct vrift_manifest_entry *e, long r, struct stat *st, enum vrift_op op,
                        uint64_t ctl, uint64_t t0, int dirfd, const char *path, int *ret)
{
    int err = errno;
    if (r == 0)
        keep_identity(st, &e->st);
    *ret = (int)r;
    if (VR_MODE(ctl))
        vr_record_path_after(op, ctl, t0, r != 0, err, dirfd, path);
    errno = err;
    return 1;
}

static int follow_flags(int at_flags) { return (at_flags & AT_SYMLINK_NOFOLLOW) ? 0 : VR_FOLLOW; }

/* ---- metadata ---- */

int vr_vfs_fstat(int fd, struct stat *st, int *ret)
{
    if (!vr_vfs_count)
        return 0;
    uint64_t ctl = vr_control(), t0 = vr_start(ctl);
    int is_changed;
    const struct vrift_manifest_entry *e = fd_entry(fd, &is_changed);
    if (!e)
        return 0;
    if (is_changed)
        return real_stat_as(e, vr_syscall(SYS_fstat, fd, st), st, VRIFT_OP_FSTAT, ctl, t0, AT_FDCWD, NULL, ret);
    fill_stat(st, &e->st);
    *ret = 0;
    served(VRIFT_OP_FSTAT, ctl, t0, 0, 0, AT_FDCWD, NULL);
    struct stat scratch;
    SHADOW(VRIFT_MISC_VFS_SHADOW_CALLS_FSTAT, ctl, vr_syscall(SYS_fstat, fd, &scratch));
    return 1;
}

int vr_vfs_stat(int dirfd, const char *path, int flags, struct stat *st, enum vrift_op op, int *ret)
{
    if (!vr_vfs_count)
        return 0;
    if ((flags & AT_EMPTY_PATH) && path && !*path)
        return vr_vfs_fstat(dirfd, st, ret);
    uint64_t ctl = vr_control(), t0 = vr_start(ctl);
    struct vr_hit hit;
    if (!vr_lookup(dirfd, path, follow_flags(flags) | VR_DIRTY_OK, ctl, &hit))
        return 0;
    if (changed(&vr_projs[hit.pi], hit.hash))
        return real_stat_as(hit.e, vr_syscall(SYS_newfstatat, dirfd, path, st, flags & AT_SYMLINK_NOFOLLOW), st,
                            op, ctl, t0, dirfd, path, ret);
    fill_stat(st, &hit.e->st);
    *ret = 0;
    served(op, ctl, t0, 0, 0, dirfd, path);
    struct stat scratch;
    SHADOW(shadow_misc(op), ctl, vr_syscall(SYS_newfstatat, dirfd, path, &scratch, flags & AT_SYMLINK_NOFOLLOW));
    return 1;
}

int vr_vfs_statx(int dirfd, const char *path, int flags, unsigned mask, void *stx, int *ret)
{
    if (!vr_vfs_count)
        return 0;
    uint64_t ctl = vr_control(), t0 = vr_start(ctl);
    const struct vrift_manifest_entry *e;
    struct vr_hit hit;
    int is_changed = 0;
    if ((flags & AT_EMPTY_PATH) && path && !*path) {
        e = fd_entry(dirfd, &is_changed);
    } else {
        e = vr_lookup(dirfd, path, follow_flags(flags) | VR_DIRTY_OK, ctl, &hit) ? hit.e : NULL;
        is_changed = e && changed(&vr_projs[hit.pi], hit.hash);
    }
    if (!e)
        return 0;
    if (is_changed) {
        long r = vr_syscall(SYS_statx, dirfd, path, flags, mask, stx);
        int err = errno;
        if (r == 0) {
            struct statx *x = stx;
            x->stx_ino = e->st.stx_ino;
            x->stx_dev_major = e->st.stx_dev_major;
            x->stx_dev_minor = e->st.stx_dev_minor;
        }
        *ret = (int)r;
        if (VR_MODE(ctl))
            vr_record_path_after(VRIFT_OP_STATX, ctl, t0, r != 0, err, dirfd, path);
        errno = err;
        return 1;
    }
    /* the kernel may return more than asked; we return what it returned at ingest */
    memcpy(stx, &e->st, sizeof e->st);
    *ret = 0;
    served(VRIFT_OP_STATX, ctl, t0, 0, 0, dirfd, path);
    struct statx scratch;
    SHADOW(VRIFT_MISC_VFS_SHADOW_CALLS_STATX, ctl, vr_syscall(SYS_statx, dirfd, path, flags, mask, &scratch));
    return 1;
}

static int in_groups(gid_t g)
{
    gid_t groups[256];
    long n = vr_syscall(SYS_getgroups, 256, groups);
    for (long i = 0; i < n; i++)
        if (groups[i] == g)
            return 1;
    return 0;
}

static int access_ok(const struct vrift_statx *x, int mode, int flags)
{
    if (!(mode & (R_OK | W_OK | X_OK)))
        return 1;
    uid_t uid = (flags & AT_EACCESS) ? vr_euid : vr_uid;
    gid_t gid = (flags & AT_EACCESS) ? vr_egid : vr_gid;
    unsigned m = x->stx_mode;
    if (uid == 0)
        return !(mode & X_OK) || S_ISDIR(m) || (m & 0111);
    unsigned bits = uid == x->stx_uid                                     ? (m >> 6) & 7
                    : (gid == x->stx_gid || in_groups(x->stx_gid)) ? (m >> 3) & 7
                                                                    : m & 7;
    return ((mode & R_OK) ? bits & 4 : 1) && ((mode & W_OK) ? bits & 2 : 1) && ((mode & X_OK) ? bits & 1 : 1);
}

int vr_vfs_access(int dirfd, const char *path, int mode, int flags, int *ret)
{
    if (!vr_vfs_count)
        return 0;
    uint64_t ctl = vr_control(), t0 = vr_start(ctl);
    struct vr_hit hit;
    if (!vr_lookup(dirfd, path, follow_flags(flags), ctl, &hit))
        return 0;
    int ok = access_ok(&hit.e->st, mode, flags);
    *ret = ok ? 0 : -1;
    if (!ok)
        errno = EACCES;
    served(VRIFT_OP_ACCESS, ctl, t0, !ok, EACCES, dirfd, path);
    SHADOW(VRIFT_MISC_VFS_SHADOW_CALLS_ACCESS, ctl, vr_syscall(SYS_faccessat, dirfd, path, mode, flags));
    return 1;
}

int vr_vfs_readlink(int dirfd, const char *path, char *buf, size_t n, ssize_t *ret)
{
    if (!vr_vfs_count)
        return 0;
    uint64_t ctl = vr_control(), t0 = vr_start(ctl);
    struct vr_hit hit;
    if (!vr_lookup(dirfd, path, 0, ctl, &hit))
        return 0;
    int failed = hit.e->type != VRIFT_ENTRY_SYMLINK;
    if (failed) {
        *ret = -1;
        errno = EINVAL;
    } else {
        size_t len = hit.e->target_len < n ? hit.e->target_len : n;
        memcpy(buf, vr_projs[hit.pi].strings + hit.e->target_off, len);
        *ret = (ssize_t)len;
    }
    served(VRIFT_OP_READLINK, ctl, t0, failed, EINVAL, dirfd, path);
    char scratch[PATH_MAX];
    SHADOW(VRIFT_MISC_VFS_SHADOW_CALLS_READLINK, ctl,
           vr_syscall(SYS_readlinkat, dirfd, path, scratch, sizeof scratch));
    return 1;
}

/* ---- opening ---- */

/* The real open of a projected file or directory, tracked: fstat on the
 * fd serves its record (or, once it changed, keeps its identity), and
 * calls relative to a directory fd are served (also once the directory
 * has changed: its children may not have). */
static int open_tracked(int dirfd, const char *path, int flags, mode_t mode, const struct vr_hit *hit,
                        uint64_t ctl, uint64_t t0, int *ret)
{
    long fd = vr_syscall(SYS_openat, dirfd, path, flags, mode);
    int e = errno;
    if (fd >= 0)
        vr_track_fd((int)fd, hit->pi, hit->idx);
    *ret = (int)fd;
    if (VR_MODE(ctl))
        vr_record_path_after(VRIFT_OP_OPEN, ctl, t0, fd < 0, e, dirfd, path);
    errno = e;
    return 1;
}

int vr_vfs_open(int dirfd, const char *path, int flags, mode_t mode, int *ret)
{
    if (!vr_vfs_count)
        return 0;
    uint64_t ctl = vr_control(), t0 = vr_start(ctl);
    struct vr_hit hit;
    int follow = (flags & O_NOFOLLOW) ? 0 : VR_FOLLOW;
    if (vr_vfs_open_changes(flags)) {
        char redirect[PATH_MAX];
        int r = vr_vfs_before_change(dirfd, path, (flags & O_NOFOLLOW) != 0, !(flags & O_TRUNC), ctl, redirect);
        if (r == 0) {
            if (vr_lookup(dirfd, path, follow | VR_DIRTY_OK, 0, &hit) && hit.e->type == VRIFT_ENTRY_FILE)
                return open_tracked(dirfd, path, flags, mode, &hit, ctl, t0, ret); /* its private copy */
            if (flags & O_CREAT)
                vr_vfs_before_create(dirfd, path);
            return 0; /* not a projected file: the real open does the rest */
        }
        long fd = r < 0 ? -1 : vr_syscall(SYS_openat, AT_FDCWD, redirect, flags, mode);
        int e = errno;
        *ret = (int)fd;
        if (VR_MODE(ctl))
            vr_record_path_after(VRIFT_OP_OPEN, ctl, t0, fd < 0, e, dirfd, path);
        errno = e;
        return 1;
    }
    if (!vr_lookup(dirfd, path, follow | VR_DIRTY_OK, ctl, &hit))
        return 0;
    if (hit.e->type == VRIFT_ENTRY_DIR)
        return open_tracked(dirfd, path, flags, mode, &hit, ctl, t0, ret);
    struct vr_proj *p = &vr_projs[hit.pi];
    if (hit.e->type != VRIFT_ENTRY_FILE || (flags & (O_PATH | O_DIRECTORY)) || ((flags & O_CREAT) && (flags & O_EXCL)))
        return 0;
    if (vr_dirty_flags(p, hit.hash) & VR_DIRTY_DONE)
        return open_tracked(dirfd, path, flags, mode, &hit, ctl, t0, ret); /* changed: the real file */
    char blob[PATH_MAX];
    if (!vr_blob_path(p, hit.e, blob, sizeof blob))
        return 0;
    int saved = errno;
    long fd = vr_syscall(SYS_openat, AT_FDCWD, blob, flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW), 0);
    if (fd < 0) { /* blob missing: the projected file itself still has the content */
        if (VR_MODE(ctl))
            vr_add_misc(ctl, VRIFT_MISC_CAS_MISSES, 1);
        errno = saved;
        return open_tracked(dirfd, path, flags, mode, &hit, ctl, t0, ret);
    }
    vr_track_fd((int)fd, hit.pi, hit.idx);
    *ret = (int)fd;
    if (VR_MODE(ctl)) {
        vr_add_misc(ctl, VRIFT_MISC_CAS_HITS, 1);
        vr_record_served(VRIFT_OP_OPEN, ctl, t0, 0, 0, -1);
        vr_hot_after(ctl, VRIFT_OP_OPEN, dirfd, path, t0 ? vr_elapsed_ns(t0, vr_clock()) : 0, 0);
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
    if (strpbrk(mode, "wa+")) {
        char redirect[PATH_MAX];
        int r = vr_vfs_before_change(AT_FDCWD, path, 0, mode[0] != 'w', ctl, redirect);
        if (r == 0 && mode[0] != 'r')
            vr_vfs_before_create(AT_FDCWD, path);
        *handled = r != 0; /* a failed copy fails fopen with its errno */
        return r > 0 ? real(redirect, mode) : NULL;
    }
    struct vr_hit hit;
    if (!vr_lookup(AT_FDCWD, path, VR_FOLLOW, ctl, &hit) || hit.e->type != VRIFT_ENTRY_FILE)
        return NULL;
    char blob[PATH_MAX];
    if (!vr_blob_path(&vr_projs[hit.pi], hit.e, blob, sizeof blob))
        return NULL;
    int saved = errno;
    FILE *f = real(blob, mode);
    if (!f) {
        errno = saved;
        if (VR_MODE(ctl))
            vr_add_misc(ctl, VRIFT_MISC_CAS_MISSES, 1);
        return NULL;
    }
    vr_track_fd(fileno(f), hit.pi, hit.idx);
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
    struct vr_hit hit;
    if (vr_lookup(AT_FDCWD, path, VR_FOLLOW | VR_DIRTY_OK, 0, &hit) && hit.e->type == VRIFT_ENTRY_DIR) {
        vr_track_dir(d, vr_enc(hit.pi, hit.idx));
        vr_track_fd(dirfd(d), hit.pi, hit.idx);
    }
}

void vr_vfs_fdopendir(int fd, DIR *d)
{
    if (!vr_vfs_count || !d)
        return;
    uint32_t v = vr_fd_lookup(fd);
    if (v)
        vr_track_dir(d, v);
}

/* readdir reports inode numbers; make them the ones stat serves. */
void vr_vfs_fix_dirent(DIR *d, const char *name, ino_t *ino)
{
    uint32_t v = vr_dir_lookup(d);
    if (!v)
        return;
    struct vr_proj *p = &vr_projs[vr_dec_proj(v)];
    const struct vrift_manifest_entry *dir = &p->entries[vr_dec_idx(v)];
    const char *dp = vr_entry_path(p, dir);
    char rel[PATH_MAX];
    size_t n = dir->path_len, nl = strlen(name);
    if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) {
        if (name[1] == '.') { /* "..": the parent, unless we are at the root */
            if (n == 0)
                return;
            const char *slash = memrchr(dp, '/', n);
            n = slash ? (size_t)(slash - dp) : 0;
        }
        memcpy(rel, dp, n);
    } else {
        if (n + 1 + nl >= sizeof rel)
            return;
        memcpy(rel, dp, n);
        if (n)
            rel[n++] = '/';
        memcpy(rel + n, name, nl);
        n += nl;
    }
    uint64_t h = vr_hash_bytes(VR_PATH_SEED, rel, n);
    int64_t idx = vr_index_find(p, rel, n, h);
    if (idx >= 0 && !(vr_dirty_flags(p, h) & VR_DIRTY_GONE)) /* changed ones keep their identity too */
        *ino = p->entries[idx].st.stx_ino;
}
