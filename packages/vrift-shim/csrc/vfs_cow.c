/*
 * vfs_cow.c — the object rule: no call made through the shim changes a
 * store blob.
 *
 * Whether a change needs a copy is decided by the object the call would
 * reach, never by how its path is spelled: before any call that changes
 * an inode (open for writing or O_TRUNC, truncate, chmod, chown, utimes,
 * xattrs, link's source, rename's source) the shim asks the kernel what
 * (dirfd, path) reaches — through symlinks, "..", directory fds, earlier
 * renames and extra hard links — and if that inode is a store blob
 * (regular, on the store's device, sealed mtime: vrift_manifest.h), it
 * copies the blob to a private file at the place the program reaches,
 * atomically (copy to a temporary name, rename over). The copy carries
 * the ingested metadata when that place is a projected path, so nothing
 * a program sees changes but the inode. A path inside the store itself
 * is refused with EROFS. Calls on an fd that refers to a blob are made
 * by path on the private copy instead.
 *
 * Name changes (unlink, rename, mkdir, rmdir, symlink, link's target)
 * change no inode: they mark the names in the dirty table so they are
 * never served stale, and a renamed or removed name hides its subtree.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "rawsys.h"
#include "vfs_internal.h"

int vr_vfs_open_changes(int flags)
{
    if (flags & O_PATH)
        return 0;
    if ((flags & O_CREAT) && (flags & O_EXCL))
        return 0; /* nothing exists there, or the open fails */
    return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

static dev_t store_dev(struct vr_proj *p)
{
    dev_t d = __atomic_load_n(&p->store_dev, __ATOMIC_RELAXED);
    if (!d) {
        char blobs[PATH_MAX];
        struct stat st;
        if (p->store_len + 7 >= sizeof blobs)
            return 0;
        memcpy(blobs, p->store, p->store_len);
        memcpy(blobs + p->store_len, "/blobs", 7);
        if (vr_syscall(SYS_newfstatat, AT_FDCWD, blobs, &st, 0) != 0)
            return 0;
        d = st.st_dev;
        __atomic_store_n(&p->store_dev, d, __ATOMIC_RELAXED);
    }
    return d;
}

static int on_a_store_device(const struct stat *st)
{
    for (int pi = 0; pi < vr_vfs_count; pi++)
        if (st->st_dev == store_dev(&vr_projs[pi]))
            return 1;
    return 0;
}

/* Is this inode the blob of manifest entry e (whatever its seal says)? */
static int is_entry_blob(const struct vr_proj *p, const struct vrift_manifest_entry *e, const struct stat *st)
{
    char blob[PATH_MAX];
    struct stat b;
    return e->type == VRIFT_ENTRY_FILE && vr_blob_path(p, e, blob, sizeof blob) &&
           vr_syscall(SYS_newfstatat, AT_FDCWD, blob, &b, AT_SYMLINK_NOFOLLOW) == 0 && b.st_ino == st->st_ino &&
           b.st_dev == st->st_dev;
}

/* Is this inode a store blob? Sealed (the cheap test, wherever the program
 * reached it), or — a blob whose seal was lost (touched, copied without
 * times) — the very inode of the blob the manifest names for the entry
 * the program reached (`hit`, when it reached a projected path). */
static int is_blob(const struct stat *st, const struct vr_hit *hit)
{
    if (!S_ISREG(st->st_mode) || !on_a_store_device(st))
        return 0;
    if (st->st_mtim.tv_sec == VRIFT_BLOB_SEAL_SEC && st->st_mtim.tv_nsec == 0)
        return 1;
    return hit && st->st_nlink > 1 && is_entry_blob(&vr_projs[hit->pi], hit->e, st);
}

static int in_store(const char *where, size_t len)
{
    for (int pi = 0; pi < vr_vfs_count; pi++) {
        const struct vr_proj *p = &vr_projs[pi];
        if (len > p->store_len && memcmp(where, p->store, p->store_len) == 0 && where[p->store_len] == '/')
            return 1;
    }
    return 0;
}

/* Where (dirfd, path) lands, as the kernel walks it. */
static int reached_path(int dirfd, const char *path, int nofollow, char *out, size_t cap)
{
    long o = vr_syscall(SYS_openat, dirfd, path, O_PATH | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0), 0);
    if (o < 0)
        return 0;
    int ok = vr_fd_path((int)o, out, cap);
    vr_syscall(SYS_close, (int)o);
    return ok;
}

static int copy_data(int in, int out, uint64_t *copied)
{
    for (;;) {
        long n = vr_syscall(SYS_copy_file_range, in, NULL, out, NULL, 1 << 20, 0);
        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
            char buf[65536];
            n = vr_syscall(SYS_read, in, buf, sizeof buf);
            if (n > 0 && vr_syscall(SYS_write, out, buf, n) != n)
                n = -1;
        }
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        *copied += (uint64_t)n;
    }
}

static int copy_out(const char *where, size_t wl, struct vr_proj *p, const struct stat *blob, int keep_data,
                    uint64_t ctl);

#define STALE_COPY_SEC 10

/* One copy of a path at a time, across processes and threads: the
 * temporary file itself is the lock (O_EXCL). A second writer waits until
 * the first has renamed it over the blob link (then there is nothing left
 * to copy: -2), or until it looks abandoned (not written for 10 s: its
 * copier died) and takes over. Returns the temporary's fd, or -1/errno. */
static long lock_copy(const char *tmp, const char *where, const struct stat *blob)
{
    for (;;) {
        long fd = vr_syscall(SYS_openat, AT_FDCWD, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
        struct stat w, t;
        if (vr_syscall(SYS_newfstatat, AT_FDCWD, where, &w, AT_SYMLINK_NOFOLLOW) == 0 &&
            (w.st_ino != blob->st_ino || w.st_dev != blob->st_dev))
            return -2;
        if (vr_syscall(SYS_newfstatat, AT_FDCWD, tmp, &t, AT_SYMLINK_NOFOLLOW) == 0) {
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            if (now.tv_sec - t.st_mtim.tv_sec > STALE_COPY_SEC)
                vr_syscall(SYS_unlink, tmp);
        }
        struct timespec pause = {0, 1000000};
        vr_syscall(SYS_nanosleep, &pause, NULL);
    }
}

/* Replace the blob hard link at `where` by a private copy (of its data
 * unless the call truncates it anyway). 0 or -1/errno. */
static int break_link(const char *where, const struct stat *blob, int keep_data, uint64_t ctl)
{
    size_t wl = strlen(where);
    if (in_store(where, wl)) {
        errno = EROFS; /* the store itself: never written through the shim */
        return -1;
    }
    int pi = vr_projection_of(where, wl);
    if (pi >= 0)
        return copy_out(where, wl, &vr_projs[pi], blob, keep_data, ctl);
    struct vr_proj other; /* another projection of the store, or none */
    if (!vr_attach_other(where, wl, &other))
        return copy_out(where, wl, NULL, blob, keep_data, ctl);
    int r = copy_out(where, wl, &other, blob, keep_data, ctl);
    int e = errno;
    vr_detach(&other);
    errno = e;
    return r;
}

/* The copy itself; p: the projection `where` lies in, if any. */
static int copy_out(const char *where, size_t wl, struct vr_proj *p, const struct stat *blob, int keep_data,
                    uint64_t ctl)
{
    /* A projected path: its ingested metadata goes on the copy, and the
     * dirty table serialises copies of it across processes. */
    const struct vrift_manifest_entry *e = NULL;
    uint64_t *slot = NULL, h = 0;
    const char *rel = "";
    size_t rel_len = 0;
    if (p) {
        rel = where + p->root_len + (wl > p->root_len);
        rel_len = wl - (size_t)(rel - where);
        h = vr_hash_bytes(VR_PATH_SEED, rel, rel_len);
        int64_t idx = vr_index_find(p, rel, rel_len, h);
        if (idx >= 0 && p->entries[idx].type == VRIFT_ENTRY_FILE)
            e = &p->entries[idx];
        slot = vr_dirty_claim(p, h, 0); /* readers wait while the copy runs */
    }
    char tmp[PATH_MAX];
    int err = 0;
    long in = -1, out = -1;
    uint64_t copied = 0;
    struct stat now;
    static const char suffix[] = ".vrift-cow";
    if (wl + sizeof suffix >= sizeof tmp) {
        err = ENAMETOOLONG;
        goto fail;
    }
    memcpy(tmp, where, wl);
    memcpy(tmp + wl, suffix, sizeof suffix);
    /* The copy's temporary name and rename move the directory's times;
     * put them back, so the directory looks as it did (its listing is
     * the same) and stays served. */
    char dir[PATH_MAX];
    struct stat dir_st;
    const char *slash = memrchr(where, '/', wl);
    size_t dl = slash ? (size_t)(slash - where) : 0;
    int have_dir = dl > 0 && dl < sizeof dir;
    if (have_dir) {
        memcpy(dir, where, dl);
        dir[dl] = '\0';
        have_dir = vr_syscall(SYS_newfstatat, AT_FDCWD, dir, &dir_st, 0) == 0;
    }
    out = lock_copy(tmp, where, blob);
    if (out == -2) { /* another process made it private meanwhile */
        if (slot)
            __atomic_store_n(slot, vr_dirty_key(h) | VR_DIRTY_DONE, __ATOMIC_RELEASE);
        return 0;
    }
    if (out < 0) {
        err = errno;
        goto fail_unlocked;
    }
    in = vr_syscall(SYS_openat, AT_FDCWD, where, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (in < 0) {
        err = errno;
        goto fail;
    }
    if (vr_syscall(SYS_fstat, (int)in, &now) != 0 || now.st_ino != blob->st_ino || now.st_dev != blob->st_dev) {
        /* someone else already made it private */
        vr_syscall(SYS_close, (int)in);
        vr_syscall(SYS_close, (int)out);
        vr_syscall(SYS_unlink, tmp);
        if (slot)
            __atomic_store_n(slot, vr_dirty_key(h) | VR_DIRTY_DONE, __ATOMIC_RELEASE);
        return 0;
    }
    if (keep_data && copy_data((int)in, (int)out, &copied) != 0) {
        err = errno;
        goto fail;
    }
    unsigned mode = e ? e->st.stx_mode & 07777 : blob->st_mode & 07777;
    if (vr_syscall(SYS_fchmod, (int)out, mode) != 0) {
        err = errno;
        goto fail;
    }
    if (e) {
        if (vr_euid == 0)
            (void)vr_syscall(SYS_fchown, (int)out, e->st.stx_uid, e->st.stx_gid);
        struct timespec t[2] = {{e->st.stx_atime.tv_sec, e->st.stx_atime.tv_nsec},
                                {e->st.stx_mtime.tv_sec, e->st.stx_mtime.tv_nsec}};
        (void)vr_syscall(SYS_utimensat, (int)out, NULL, t, 0);
    }
    if (vr_syscall(SYS_rename, tmp, where) != 0) {
        err = errno;
        goto fail;
    }
    vr_syscall(SYS_close, (int)in);
    vr_syscall(SYS_close, (int)out);
    if (have_dir) {
        struct timespec t[2] = {dir_st.st_atim, dir_st.st_mtim};
        (void)vr_syscall(SYS_utimensat, AT_FDCWD, dir, t, 0);
    }
    if (p) {
        if (slot)
            __atomic_store_n(slot, vr_dirty_key(h) | VR_DIRTY_DONE, __ATOMIC_RELEASE);
        else
            vr_dirty_claim(p, h, VR_DIRTY_DONE);
    }
    if (VR_MODE(ctl)) {
        vr_add_misc(ctl, VRIFT_MISC_COW_COPIES, 1);
        vr_add_misc(ctl, VRIFT_MISC_COW_BYTES, copied);
    }
    return 0;
fail:
    if (in >= 0)
        vr_syscall(SYS_close, (int)in);
    if (out >= 0) {
        vr_syscall(SYS_close, (int)out);
        vr_syscall(SYS_unlink, tmp);
    }
fail_unlocked:
    if (slot)
        __atomic_store_n(slot, vr_dirty_key(h) | VR_DIRTY_FAILED, __ATOMIC_RELEASE);
    errno = err;
    return -1;
}

/* The fd number N of "/proc/self/fd/N", "/dev/fd/N",
 * "/proc/thread-self/fd/N" or "/proc/PID/fd/N" with our own PID; -1 else. */
static int magic_fd(const char *path)
{
    char own[40] = "/proc/";
    size_t ol = 6 + vr_put_uint(own + 6, (unsigned long)vr_syscall(SYS_getpid));
    memcpy(own + ol, "/fd/", 5);
    const char *const prefixes[] = {"/proc/self/fd/", "/dev/fd/", "/proc/thread-self/fd/", own};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(path, prefixes[i], n) != 0 || !path[n])
            continue;
        long fd = 0;
        for (const char *c = path + n; *c; c++) {
            if (*c < '0' || *c > '9' || fd > 1 << 24)
                return -1;
            fd = fd * 10 + (*c - '0');
        }
        return (int)fd;
    }
    return -1;
}

/* The projected path a tracked fd was opened as. */
static int tracked_path(uint32_t v, char *out, size_t cap)
{
    struct vr_proj *p = &vr_projs[vr_dec_proj(v)];
    const struct vrift_manifest_entry *e = &p->entries[vr_dec_idx(v)];
    return vr_abs_path(p, vr_entry_path(p, e), e->path_len, out, cap);
}

int vr_vfs_before_change(int dirfd, const char *path, int nofollow, int keep_data, uint64_t ctl, char *redirect)
{
    if (!vr_vfs_count || !path)
        return 0;
    int saved = errno, at = nofollow ? AT_SYMLINK_NOFOLLOW : 0;
    struct stat st, again;
    struct vr_hit hit;
    if (vr_syscall(SYS_newfstatat, dirfd, path, &st, at) != 0) {
        errno = saved;
        return 0; /* nothing there: the real call decides */
    }
    if (!is_blob(&st, NULL)) { /* not sealed: an unsealed blob is still the one its entry names */
        int maybe = S_ISREG(st.st_mode) && st.st_nlink > 1 && on_a_store_device(&st) &&
                    vr_lookup(dirfd, path, (nofollow ? 0 : VR_FOLLOW) | VR_DIRTY_OK, 0, &hit);
        if (!maybe || !is_blob(&st, &hit)) {
            errno = saved;
            return 0; /* not a blob: the real call decides */
        }
    }
    /* A served read fd is the blob opened by its store path: reopening it
     * through /proc/self/fd means its projected path. */
    char where[PATH_MAX];
    int mfd = magic_fd(path);
    uint32_t v = mfd >= 0 ? vr_fd_lookup(mfd) : 0;
    if (!(v ? tracked_path(v, where, sizeof where) : reached_path(dirfd, path, nofollow, where, sizeof where))) {
        errno = EROFS; /* a blob we cannot place (no /proc): refuse rather than write into it */
        return -1;
    }
    if (break_link(where, &st, keep_data, ctl) != 0)
        return -1;
    /* A magic link still reaches the blob: the call must go to the copy. */
    if (vr_syscall(SYS_newfstatat, dirfd, path, &again, at) == 0 && again.st_ino == st.st_ino &&
        again.st_dev == st.st_dev) {
        if (!redirect) {
            errno = EROFS;
            return -1;
        }
        memcpy(redirect, where, strlen(where) + 1);
        return 1;
    }
    errno = saved;
    return 0;
}

/* A name about to be created by open(O_CREAT): its directory changes. */
void vr_vfs_before_create(int dirfd, const char *path)
{
    struct vr_hit hit;
    if (vr_vfs_count && !vr_lookup(dirfd, path, VR_FOLLOW, 0, &hit))
        vr_vfs_name_changed(dirfd, path, 0);
}

int vr_vfs_fd_change_path(int fd, char *path, size_t cap)
{
    if (!vr_vfs_count)
        return 0;
    int saved = errno;
    struct stat st;
    uint32_t v = vr_fd_lookup(fd);
    struct vr_hit hit;
    if (v) {
        hit.pi = vr_dec_proj(v);
        hit.e = &vr_projs[hit.pi].entries[vr_dec_idx(v)];
    }
    if (vr_syscall(SYS_fstat, fd, &st) != 0 || !is_blob(&st, v ? &hit : NULL)) {
        errno = saved;
        return 0;
    }
    /* The fd is the blob itself (a served read, or a hard link reached
     * another way): change the private copy at the program's path. */
    if (!(v ? tracked_path(v, path, cap) : vr_fd_path(fd, path, cap))) {
        errno = EROFS;
        return -1;
    }
    if (vr_vfs_before_change(AT_FDCWD, path, 1, 1, vr_control(), NULL) != 0)
        return -1;
    errno = saved;
    return 1;
}

/* Split "a/b/name" into the directory part (returned in dir, "." when
 * none) and the last name; 0 for a path whose last name is "." or "..". */
static int split_last(const char *path, char *dir, size_t cap, const char **name, size_t *name_len)
{
    size_t n = strnlen(path, PATH_MAX);
    while (n > 1 && path[n - 1] == '/')
        n--;
    size_t s = n;
    while (s > 0 && path[s - 1] != '/')
        s--;
    *name = path + s;
    *name_len = n - s;
    if (!*name_len || (*name_len == 1 && path[s] == '.') || (*name_len == 2 && path[s] == '.' && path[s + 1] == '.'))
        return 0;
    if (s == 0) {
        memcpy(dir, ".", 2);
    } else {
        if (s >= cap)
            return 0;
        memcpy(dir, path, s);
        dir[s] = '\0';
    }
    return 1;
}

void vr_vfs_name_changed(int dirfd, const char *path, int gone)
{
    if (!vr_vfs_count || !path)
        return;
    char dir[PATH_MAX];
    const char *name;
    size_t nl;
    struct vr_hit parent;
    if (!split_last(path, dir, sizeof dir, &name, &nl) ||
        !vr_lookup(dirfd, dir, VR_FOLLOW | VR_DIRTY_OK, 0, &parent) || parent.e->type != VRIFT_ENTRY_DIR)
        return;
    struct vr_proj *p = &vr_projs[parent.pi];
    vr_dirty_claim(p, parent.hash, VR_DIRTY_DONE);
    size_t n = parent.rel_len;
    if (n + 1 + nl >= sizeof parent.rel)
        return;
    if (n)
        parent.rel[n++] = '/';
    memcpy(parent.rel + n, name, nl);
    n += nl;
    uint64_t h = vr_hash_bytes(VR_PATH_SEED, parent.rel, n);
    if (vr_index_find(p, parent.rel, n, h) >= 0)
        vr_dirty_claim(p, h, VR_DIRTY_DONE | (gone ? VR_DIRTY_GONE : 0));
}

int vr_vfs_before_rename(int dirfd, const char *path)
{
    if (!vr_vfs_count || !path)
        return 0;
    /* A projected file keeps its ingested metadata under its new name:
     * make it private first (a directory's children stay blobs, and the
     * object rule copies each one when it is changed). A failed copy
     * does not stop the rename: the name moves, the blob is untouched. */
    struct vr_hit hit;
    if (vr_lookup(dirfd, path, 0, 0, &hit) && hit.e->type == VRIFT_ENTRY_FILE)
        (void)vr_vfs_before_change(dirfd, path, 1, 1, vr_control(), NULL);
    return 0;
}

/* After a successful inode change (chmod, chown, times, xattrs) of a
 * projected directory or symlink (a file was copied before already): its
 * served record is stale now. */
void vr_vfs_inode_changed(int dirfd, const char *path, int nofollow)
{
    struct vr_hit hit;
    if (vr_vfs_count && path && vr_lookup(dirfd, path, (nofollow ? 0 : VR_FOLLOW) | VR_DIRTY_OK, 0, &hit))
        vr_dirty_claim(&vr_projs[hit.pi], hit.hash, VR_DIRTY_DONE);
}

void vr_vfs_fd_changed(int fd)
{
    uint32_t v = vr_fd_lookup(fd);
    if (v) {
        struct vr_proj *p = &vr_projs[vr_dec_proj(v)];
        vr_dirty_claim(p, p->entries[vr_dec_idx(v)].path_hash, VR_DIRTY_DONE);
    }
}

/* Before a lock on fd: if fd is a blob, make the file private and move
 * the fd onto the private copy (same number, access mode, status flags,
 * offset and close-on-exec), so the lock and the later writes meet on
 * one inode and unrelated files with the same content share no lock. */
int vr_vfs_before_lock(int fd)
{
    int saved = errno;
    char path[PATH_MAX];
    int r = vr_vfs_fd_change_path(fd, path, sizeof path);
    if (r <= 0)
        return r;
    long fl = vr_syscall(SYS_fcntl, fd, F_GETFL), fdfl = vr_syscall(SYS_fcntl, fd, F_GETFD);
    long off = vr_syscall(SYS_lseek, fd, 0, SEEK_CUR);
    long copy = fl < 0 ? -1 : vr_syscall(SYS_openat, AT_FDCWD, path, (fl & ~(O_CREAT | O_TRUNC | O_EXCL)) | O_NOFOLLOW, 0);
    if (copy < 0)
        return -1;
    if (off > 0)
        vr_syscall(SYS_lseek, (int)copy, off, SEEK_SET);
    uint32_t v = vr_fd_lookup(fd);
    long d = vr_syscall(SYS_dup3, (int)copy, fd, (fdfl > 0 && (fdfl & FD_CLOEXEC)) ? O_CLOEXEC : 0);
    int e = errno;
    vr_syscall(SYS_close, (int)copy);
    if (d < 0) {
        errno = e;
        return -1;
    }
    if (v)
        vr_track_fd(fd, vr_dec_proj(v), vr_dec_idx(v));
    errno = saved;
    return 0;
}
