/*
 * interpose.c — the table of wrapped libc entry points.
 *
 * Each wrapper: resolve the real function (lazily), and if the session
 * is off call it straight through; if on, read the clock, call, read
 * the clock, count into this process image's slot. Return value and
 * errno are exactly the real call's. docs/symbols.md maps every entry
 * point to its operation class and says why each one is here.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <limits.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <string.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <spawn.h>
#include <utime.h>
#include <linux/close_range.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/file.h>
#include <unistd.h>

#include "exec.h"
#include "rawsys.h"
#include "shim.h"
#include "vfs.h"

/* glibc exports these, its headers do not declare them all. */
int __xstat(int, const char *, struct stat *);
int __lxstat(int, const char *, struct stat *);
int __fxstat(int, int, struct stat *);
int __fxstatat(int, int, const char *, struct stat *, int);
int __xstat64(int, const char *, struct stat64 *);
int __lxstat64(int, const char *, struct stat64 *);
int __fxstat64(int, int, struct stat64 *);
int __fxstatat64(int, int, const char *, struct stat64 *, int);
int __open_2(const char *, int);
int __open64_2(const char *, int);
int __openat_2(int, const char *, int);
int __openat64_2(int, const char *, int);
ssize_t __read_chk(int, void *, size_t, size_t);
ssize_t __readlink_chk(const char *, char *, size_t, size_t);
ssize_t __readlinkat_chk(int, const char *, char *, size_t, size_t);
int eaccess(const char *, int);

/* The real function, resolved on first use. */
#define REAL(name)                                                             \
    ({                                                                         \
        static void *vr_real_ptr;                                              \
        (__typeof__(&name))vr_resolve(&vr_real_ptr, #name);                    \
    })

/* No real function (only while dlsym re-enters us): fail like a missing
 * implementation would. */
#define MISSING(ret)                                                           \
    do {                                                                       \
        errno = ENOSYS;                                                        \
        return ret;                                                            \
    } while (0)

/* A session counting or a projection attached: the wrappers' bodies run.
 * Without a session or a projection (the shim merely inherited), one
 * load of vr_attached decides. */
static inline int vr_busy(void)
{
    return VR_UNLIKELY(vr_attached) && (vr_vfs_count | (int)VR_MODE(vr_control()));
}

/* The entry point of a wrapper: while nothing counts and no projection
 * is attached, a load, a test and one tail jump to libc. The wrapper's
 * body, which follows the macro, is vr_body_NAME, a function of its own,
 * so that the idle path saves no registers and builds no frame (GCC does
 * not shrink-wrap these); it calls the real function through
 * REAL_RESOLVED(name). The first call's symbol lookup, and `missing`
 * when there is no real function, are in vr_first_NAME. */
#define ENTRY(type, name, params, args, missing)                               \
    static void *vr_real_##name;                                               \
    static __attribute__((noinline)) type vr_body_##name params;              \
    static __attribute__((noinline, cold)) type vr_first_##name params        \
    {                                                                          \
        __typeof__(&name) real = (__typeof__(&name))vr_resolve(&vr_real_##name, #name); \
        if (VR_UNLIKELY(!real))                                                \
            missing;                                                           \
        if (!vr_busy())                                                        \
            return real args;                                                  \
        return vr_body_##name args;                                            \
    }                                                                          \
    VR_EXPORT type name params                                                 \
    {                                                                          \
        __typeof__(&name) real = (__typeof__(&name))__atomic_load_n(&vr_real_##name, __ATOMIC_RELAXED); \
        if (VR_UNLIKELY(real == NULL))                                         \
            return vr_first_##name args;                                       \
        if (VR_LIKELY(!vr_busy()))                                             \
            return real args;                                                  \
        return vr_body_##name args;                                            \
    }                                                                          \
    static type vr_body_##name params

#define REAL_RESOLVED(name) ((__typeof__(&name))vr_real_##name)

/* Call `real(args)` counted as `op`; `failed` is an expression of r. */
#define COUNTED(op, type, failed, call)                                        \
    do {                                                                       \
        uint64_t ctl_ = vr_control();                                          \
        if (VR_LIKELY(!VR_MODE(ctl_)))                                         \
            return call;                                                       \
        uint64_t t0_ = vr_start_op(ctl_, op);                                  \
        type r = call;                                                         \
        int f_ = (failed);                                                     \
        vr_record(op, ctl_, t0_, f_, f_ ? errno : 0);                          \
        return r;                                                              \
    } while (0)

/* Same, for a call naming `path` relative to `dirfd`: also feeds the
 * hot-path table. */
#define COUNTED_PATH(op, type, failed, call, dirfd, path)                      \
    do {                                                                       \
        uint64_t ctl_ = vr_control();                                          \
        if (VR_LIKELY(!VR_MODE(ctl_)))                                         \
            return call;                                                       \
        uint64_t t0_ = vr_start_path(ctl_, op, path);                          \
        type r = call;                                                         \
        int f_ = (failed);                                                     \
        vr_record_path(op, ctl_, t0_, f_, f_ ? errno : 0, dirfd, path);        \
        return r;                                                              \
    } while (0)

/* Same, plus bytes moved into a misc counter. */
#define COUNTED_IO(op, misc, call)                                             \
    do {                                                                       \
        uint64_t ctl_ = vr_control();                                          \
        if (VR_LIKELY(!VR_MODE(ctl_)))                                         \
            return call;                                                       \
        uint64_t t0_ = vr_start_op(ctl_, op);                                  \
        ssize_t r = call;                                                      \
        vr_record(op, ctl_, t0_, r < 0, r < 0 ? errno : 0);                    \
        if (r > 0)                                                             \
            vr_add_misc(ctl_, misc, (uint64_t)r);                              \
        return r;                                                              \
    } while (0)

#define WRAP_INT(op, name, params, args)                                       \
    ENTRY(int, name, params, args, MISSING(-1))                                \
    {                                                                          \
        COUNTED(op, int, r < 0, REAL_RESOLVED(name) args);                     \
    }

/* `vfs`: an expression that lets the VFS answer (1, result in vr_) first. */
#define WRAP_PATH_INT_VFS(op, name, params, args, dirfd, path, vfs)            \
    ENTRY(int, name, params, args, MISSING(-1))                                \
    {                                                                          \
        if (VR_UNLIKELY(vr_vfs_count)) {                                       \
            int vr_ = 0;                                                       \
            if (vfs)                                                           \
                return vr_;                                                    \
        }                                                                      \
        COUNTED_PATH(op, int, r < 0, REAL_RESOLVED(name) args, dirfd, path);   \
    }

#define VFS_STAT(d, p, fl, b, op) vr_vfs_stat(d, p, fl, (struct stat *)(b), op, &vr_)
#define VFS_ACCESS(d, p, m, fl) vr_vfs_access(d, p, m, fl, &vr_)

/* fd calls name no path: the hot-path table ignores a NULL path. */
#define WRAP_FD_INT_VFS(op, name, params, args, vfs)                           \
    WRAP_PATH_INT_VFS(op, name, params, args, AT_FDCWD, NULL, vfs)

/* Classify *at stat calls the way the kernel treats them. */
static inline enum vrift_op statat_op(const char *path, int flags)
{
    if ((flags & AT_EMPTY_PATH) && path && !path[0])
        return VRIFT_OP_FSTAT;
    return (flags & AT_SYMLINK_NOFOLLOW) ? VRIFT_OP_LSTAT : VRIFT_OP_STAT;
}

/* ---------------- stat family ---------------- */

WRAP_PATH_INT_VFS(VRIFT_OP_STAT, stat, (const char *p, struct stat *b), (p, b), AT_FDCWD, p,
                  VFS_STAT(AT_FDCWD, p, 0, b, VRIFT_OP_STAT))
WRAP_PATH_INT_VFS(VRIFT_OP_STAT, stat64, (const char *p, struct stat64 *b), (p, b), AT_FDCWD, p,
                  VFS_STAT(AT_FDCWD, p, 0, b, VRIFT_OP_STAT))
WRAP_PATH_INT_VFS(VRIFT_OP_LSTAT, lstat, (const char *p, struct stat *b), (p, b), AT_FDCWD, p,
                  VFS_STAT(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, b, VRIFT_OP_LSTAT))
WRAP_PATH_INT_VFS(VRIFT_OP_LSTAT, lstat64, (const char *p, struct stat64 *b), (p, b), AT_FDCWD, p,
                  VFS_STAT(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, b, VRIFT_OP_LSTAT))
WRAP_FD_INT_VFS(VRIFT_OP_FSTAT, fstat, (int fd, struct stat *b), (fd, b),
                vr_vfs_fstat(fd, (struct stat *)b, &vr_))
WRAP_FD_INT_VFS(VRIFT_OP_FSTAT, fstat64, (int fd, struct stat64 *b), (fd, b),
                vr_vfs_fstat(fd, (struct stat *)b, &vr_))
WRAP_PATH_INT_VFS(VRIFT_OP_STAT, __xstat, (int v, const char *p, struct stat *b), (v, p, b), AT_FDCWD, p,
                  VFS_STAT(AT_FDCWD, p, 0, b, VRIFT_OP_STAT))
WRAP_PATH_INT_VFS(VRIFT_OP_STAT, __xstat64, (int v, const char *p, struct stat64 *b), (v, p, b), AT_FDCWD,
                  p, VFS_STAT(AT_FDCWD, p, 0, b, VRIFT_OP_STAT))
WRAP_PATH_INT_VFS(VRIFT_OP_LSTAT, __lxstat, (int v, const char *p, struct stat *b), (v, p, b), AT_FDCWD, p,
                  VFS_STAT(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, b, VRIFT_OP_LSTAT))
WRAP_PATH_INT_VFS(VRIFT_OP_LSTAT, __lxstat64, (int v, const char *p, struct stat64 *b), (v, p, b),
                  AT_FDCWD, p, VFS_STAT(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, b, VRIFT_OP_LSTAT))
WRAP_FD_INT_VFS(VRIFT_OP_FSTAT, __fxstat, (int v, int fd, struct stat *b), (v, fd, b),
                vr_vfs_fstat(fd, (struct stat *)b, &vr_))
WRAP_FD_INT_VFS(VRIFT_OP_FSTAT, __fxstat64, (int v, int fd, struct stat64 *b), (v, fd, b),
                vr_vfs_fstat(fd, (struct stat *)b, &vr_))
WRAP_PATH_INT_VFS(VRIFT_OP_STATX, statx,
                  (int d, const char *p, int f, unsigned m, struct statx *b), (d, p, f, m, b), d, p,
                  vr_vfs_statx(d, p, f, m, b, &vr_))

/* The *at stat calls: classified by their flags (statat_op), served like stat. */
#define WRAP_STATAT(name, params, args, d, p, f)                               \
    WRAP_PATH_INT_VFS(statat_op(p, f), name, params, args, d, p, VFS_STAT(d, p, f, b, statat_op(p, f)))

WRAP_STATAT(fstatat, (int d, const char *p, struct stat *b, int f), (d, p, b, f), d, p, f)
WRAP_STATAT(fstatat64, (int d, const char *p, struct stat64 *b, int f), (d, p, b, f), d, p,
            f)
WRAP_STATAT(__fxstatat, (int v, int d, const char *p, struct stat *b, int f),
            (v, d, p, b, f), d, p, f)
WRAP_STATAT(__fxstatat64, (int v, int d, const char *p, struct stat64 *b, int f),
            (v, d, p, b, f), d, p, f)

/* ---------------- access ---------------- */

WRAP_PATH_INT_VFS(VRIFT_OP_ACCESS, access, (const char *p, int m), (p, m), AT_FDCWD, p,
                  VFS_ACCESS(AT_FDCWD, p, m, 0))
WRAP_PATH_INT_VFS(VRIFT_OP_ACCESS, faccessat, (int d, const char *p, int m, int f), (d, p, m, f), d, p,
                  VFS_ACCESS(d, p, m, f))
WRAP_PATH_INT_VFS(VRIFT_OP_ACCESS, euidaccess, (const char *p, int m), (p, m), AT_FDCWD, p,
                  VFS_ACCESS(AT_FDCWD, p, m, AT_EACCESS))
WRAP_PATH_INT_VFS(VRIFT_OP_ACCESS, eaccess, (const char *p, int m), (p, m), AT_FDCWD, p,
                  VFS_ACCESS(AT_FDCWD, p, m, AT_EACCESS))

/* ---------------- open family ---------------- */

/* The mode argument exists only with O_CREAT or O_TMPFILE. */
#define OPEN_MODE(flags, last)                                                 \
    mode_t mode = 0;                                                           \
    if (((flags) & O_CREAT) || ((flags) & __O_TMPFILE) == __O_TMPFILE) {       \
        va_list ap;                                                            \
        va_start(ap, last);                                                    \
        mode = (mode_t)va_arg(ap, int);                                        \
        va_end(ap);                                                            \
    }

/* open and openat, as ENTRY does it: the entry reads the optional mode,
 * vr_busy_NAME (fixed arguments) does the rest. */
#define OPEN_BODY(name, dirfd, args)                                           \
    {                                                                          \
        __typeof__(&name) real = (__typeof__(&name))vr_resolve(&vr_real_##name, #name); \
        if (VR_UNLIKELY(!real))                                                \
            return (int)vr_syscall(SYS_openat, dirfd, p, flags, mode);            \
        if (VR_UNLIKELY(vr_vfs_count)) {                                       \
            int vr_ = 0;                                                       \
            if (vr_vfs_open(dirfd, p, flags, mode, &vr_))                      \
                return vr_;                                                    \
        }                                                                      \
        COUNTED_PATH(VRIFT_OP_OPEN, int, r < 0, real args, dirfd, p);          \
    }
#define OPEN_ENTRY(name, args)                                                 \
    {                                                                          \
        OPEN_MODE(flags, flags);                                               \
        __typeof__(&name) real = (__typeof__(&name))__atomic_load_n(&vr_real_##name, __ATOMIC_RELAXED); \
        if (VR_LIKELY(real != NULL) && VR_LIKELY(!vr_busy()))                  \
            return real args;                                                  \
        return vr_busy_##name args;                                            \
    }

#define WRAP_OPEN(name)                                                        \
    static void *vr_real_##name;                                               \
    static __attribute__((noinline)) int vr_busy_##name(const char *p, int flags, mode_t mode) \
        OPEN_BODY(name, AT_FDCWD, (p, flags, mode))                            \
    VR_EXPORT int name(const char *p, int flags, ...) OPEN_ENTRY(name, (p, flags, mode))

#define WRAP_OPENAT(name)                                                      \
    static void *vr_real_##name;                                               \
    static __attribute__((noinline)) int vr_busy_##name(int d, const char *p, int flags, mode_t mode) \
        OPEN_BODY(name, d, (d, p, flags, mode))                                \
    VR_EXPORT int name(int d, const char *p, int flags, ...) OPEN_ENTRY(name, (d, p, flags, mode))

WRAP_OPEN(open)
WRAP_OPEN(open64)
WRAP_OPENAT(openat)
WRAP_OPENAT(openat64)
WRAP_PATH_INT_VFS(VRIFT_OP_OPEN, creat, (const char *p, mode_t m), (p, m), AT_FDCWD, p,
                  vr_vfs_open(AT_FDCWD, p, O_CREAT | O_WRONLY | O_TRUNC, m, &vr_))
WRAP_PATH_INT_VFS(VRIFT_OP_OPEN, creat64, (const char *p, mode_t m), (p, m), AT_FDCWD, p,
                  vr_vfs_open(AT_FDCWD, p, O_CREAT | O_WRONLY | O_TRUNC, m, &vr_))
/* _FORTIFY_SOURCE entry points: glibc calls its own open internally. */
WRAP_PATH_INT_VFS(VRIFT_OP_OPEN, __open_2, (const char *p, int f), (p, f), AT_FDCWD, p,
                  vr_vfs_open(AT_FDCWD, p, f, 0, &vr_))
WRAP_PATH_INT_VFS(VRIFT_OP_OPEN, __open64_2, (const char *p, int f), (p, f), AT_FDCWD, p,
                  vr_vfs_open(AT_FDCWD, p, f, 0, &vr_))
WRAP_PATH_INT_VFS(VRIFT_OP_OPEN, __openat_2, (int d, const char *p, int f), (d, p, f), d, p,
                  vr_vfs_open(d, p, f, 0, &vr_))
WRAP_PATH_INT_VFS(VRIFT_OP_OPEN, __openat64_2, (int d, const char *p, int f), (d, p, f), d, p,
                  vr_vfs_open(d, p, f, 0, &vr_))

/* stdio opens: their inner open is glibc-internal, invisible otherwise.
 * Under a projection, reads come from the blob, writes copy it out first. */
#define WRAP_FOPEN(name)                                                       \
    VR_EXPORT FILE *name(const char *p, const char *m)                         \
    {                                                                          \
        __typeof__(&name) real = REAL(name);                                   \
        if (VR_UNLIKELY(!real))                                                \
            MISSING(NULL);                                                     \
        if (VR_UNLIKELY(vr_vfs_count)) {                                       \
            int handled;                                                       \
            FILE *f = vr_vfs_fopen(p, m, real, &handled);                      \
            if (handled)                                                       \
                return f;                                                      \
        }                                                                      \
        COUNTED_PATH(VRIFT_OP_OPEN, FILE *, r == NULL, real(p, m), AT_FDCWD, p); \
    }
WRAP_FOPEN(fopen)
WRAP_FOPEN(fopen64)

#define WRAP_FREOPEN(name)                                                     \
    VR_EXPORT FILE *name(const char *p, const char *m, FILE *s)                \
    {                                                                          \
        __typeof__(&name) real = REAL(name);                                   \
        if (VR_UNLIKELY(!real))                                                \
            MISSING(NULL);                                                     \
        if (VR_UNLIKELY(vr_vfs_count)) {                                       \
            vr_vfs_close(fileno(s));                                           \
            char redirect_[PATH_MAX];                                          \
            int r_ = p && m && strpbrk(m, "wa+")                               \
                         ? vr_vfs_before_change(AT_FDCWD, p, 0, m[0] != 'w', vr_control(), redirect_) \
                         : 0;                                                  \
            if (r_ < 0)                                                        \
                return NULL;                                                   \
            if (r_ > 0)                                                        \
                p = redirect_;                                                 \
        }                                                                      \
        COUNTED_PATH(VRIFT_OP_OPEN, FILE *, r == NULL, real(p, m, s), AT_FDCWD, p); \
    }
WRAP_FREOPEN(freopen)
WRAP_FREOPEN(freopen64)

/* ---------------- close ---------------- */

ENTRY(int, close, (int fd), (fd), return (int)vr_syscall(SYS_close, fd))
{
    if (VR_UNLIKELY(vr_vfs_count))
        vr_vfs_close(fd);
    COUNTED(VRIFT_OP_CLOSE, int, r < 0, REAL_RESOLVED(close)(fd));
}

/* fclose's close(2) is internal to glibc: count it as the close it is. */
VR_EXPORT int fclose(FILE *s)
{
    __typeof__(&fclose) real = REAL(fclose);
    if (VR_UNLIKELY(!real))
        MISSING(-1);
    if (VR_UNLIKELY(vr_vfs_count) && s)
        vr_vfs_close(fileno(s));
    COUNTED(VRIFT_OP_CLOSE, int, r < 0, real(s));
}

/* ---------------- read / write ---------------- */

#define WRAP_IO(op, misc, name, params, args)                                  \
    ENTRY(ssize_t, name, params, args, MISSING(-1))                            \
    {                                                                          \
        COUNTED_IO(op, misc, REAL_RESOLVED(name) args);                        \
    }

ENTRY(ssize_t, read, (int fd, void *b, size_t n), (fd, b, n), return vr_syscall(SYS_read, fd, b, n))
{
    COUNTED_IO(VRIFT_OP_READ, VRIFT_MISC_BYTES_READ, REAL_RESOLVED(read)(fd, b, n));
}

ENTRY(ssize_t, write, (int fd, const void *b, size_t n), (fd, b, n), return vr_syscall(SYS_write, fd, b, n))
{
    COUNTED_IO(VRIFT_OP_WRITE, VRIFT_MISC_BYTES_WRITTEN, REAL_RESOLVED(write)(fd, b, n));
}

#define WRAP_READ(name, params, args) WRAP_IO(VRIFT_OP_READ, VRIFT_MISC_BYTES_READ, name, params, args)
#define WRAP_WRITE(name, params, args) WRAP_IO(VRIFT_OP_WRITE, VRIFT_MISC_BYTES_WRITTEN, name, params, args)
WRAP_READ(__read_chk, (int fd, void *b, size_t n, size_t bl), (fd, b, n, bl))
WRAP_READ(pread, (int fd, void *b, size_t n, off_t o), (fd, b, n, o))
WRAP_READ(pread64, (int fd, void *b, size_t n, off64_t o), (fd, b, n, o))
WRAP_READ(readv, (int fd, const struct iovec *v, int c), (fd, v, c))
WRAP_READ(preadv, (int fd, const struct iovec *v, int c, off_t o), (fd, v, c, o))
WRAP_READ(preadv64, (int fd, const struct iovec *v, int c, off64_t o), (fd, v, c, o))
WRAP_WRITE(pwrite, (int fd, const void *b, size_t n, off_t o), (fd, b, n, o))
WRAP_WRITE(pwrite64, (int fd, const void *b, size_t n, off64_t o), (fd, b, n, o))
WRAP_WRITE(writev, (int fd, const struct iovec *v, int c), (fd, v, c))
WRAP_WRITE(pwritev, (int fd, const struct iovec *v, int c, off_t o), (fd, v, c, o))
WRAP_WRITE(pwritev64, (int fd, const struct iovec *v, int c, off64_t o), (fd, v, c, o))

/* ---------------- mmap ---------------- */

#define WRAP_MMAP(name, otype)                                                 \
    VR_EXPORT void *name(void *a, size_t l, int p, int f, int fd, otype o)     \
    {                                                                          \
        __typeof__(&name) real = REAL(name);                                   \
        if (VR_UNLIKELY(!real))                                                \
            return (void *)vr_syscall(SYS_mmap, a, l, p, f, fd, o);               \
        COUNTED(VRIFT_OP_MMAP, void *, r == MAP_FAILED, real(a, l, p, f, fd, o)); \
    }
WRAP_MMAP(mmap, off_t)
WRAP_MMAP(mmap64, off64_t)
WRAP_INT(VRIFT_OP_MUNMAP, munmap, (void *a, size_t l), (a, l))

/* ---------------- directories ---------------- */

/* Under a projection, DIR streams are remembered so readdir can report
 * the inode numbers stat serves. */
VR_EXPORT DIR *opendir(const char *p)
{
    __typeof__(&opendir) real = REAL(opendir);
    if (VR_UNLIKELY(!real))
        MISSING(NULL);
    uint64_t ctl = vr_control();
    uint64_t t0 = vr_start_path(ctl, VRIFT_OP_OPENDIR, p);
    DIR *r = real(p);
    int e = errno;
    if (VR_UNLIKELY(vr_vfs_count) && r)
        vr_vfs_opendir(p, r);
    if (VR_MODE(ctl))
        vr_record_path(VRIFT_OP_OPENDIR, ctl, t0, r == NULL, e, AT_FDCWD, p);
    errno = e;
    return r;
}

VR_EXPORT DIR *fdopendir(int fd)
{
    __typeof__(&fdopendir) real = REAL(fdopendir);
    if (VR_UNLIKELY(!real))
        MISSING(NULL);
    uint64_t ctl = vr_control();
    uint64_t t0 = vr_start_op(ctl, VRIFT_OP_OPENDIR);
    DIR *r = real(fd);
    int e = errno;
    if (VR_UNLIKELY(vr_vfs_count) && r)
        vr_vfs_fdopendir(fd, r);
    if (VR_MODE(ctl))
        vr_record(VRIFT_OP_OPENDIR, ctl, t0, r == NULL, e);
    errno = e;
    return r;
}

VR_EXPORT int closedir(DIR *d)
{
    __typeof__(&closedir) real = REAL(closedir);
    if (VR_UNLIKELY(!real))
        MISSING(-1);
    if (VR_UNLIKELY(vr_vfs_count)) { /* closedir(NULL) is undefined anyway */
        vr_vfs_close(dirfd(d));
        vr_vfs_closedir(d);
    }
    COUNTED(VRIFT_OP_CLOSEDIR, int, r < 0, real(d));
}

/* readdir mostly returns the next entry of a buffer already read: a few
 * ns, less than two clock reads, so it is one of the sampled operations
 * (timing.c). NULL is an error only if errno changed: end of directory
 * leaves it alone. */
#define WRAP_READDIR(name, dtype)                                              \
    ENTRY(dtype *, name, (DIR *d), (d), MISSING(NULL))                         \
    {                                                                          \
        __typeof__(&name) real = REAL_RESOLVED(name);                          \
        uint64_t ctl = vr_control();                                           \
        if (VR_LIKELY(!VR_MODE(ctl))) {                                        \
            dtype *r_ = real(d);                                               \
            if (VR_UNLIKELY(vr_vfs_count) && r_)                               \
                vr_vfs_fix_dirent(d, r_->d_name, (ino_t *)&r_->d_ino);         \
            return r_;                                                         \
        }                                                                      \
        int e0 = errno;                                                        \
        errno = 0;                                                             \
        uint64_t t0 = vr_start_op(ctl, VRIFT_OP_READDIR);                      \
        dtype *r = real(d);                                                    \
        int e = errno;                                                         \
        vr_record(VRIFT_OP_READDIR, ctl, t0, r == NULL && e != 0, e);          \
        if (VR_UNLIKELY(vr_vfs_count) && r)                                    \
            vr_vfs_fix_dirent(d, r->d_name, (ino_t *)&r->d_ino);               \
        if (e == 0)                                                            \
            errno = e0;                                                        \
        return r;                                                              \
    }
WRAP_READDIR(readdir, struct dirent)
WRAP_READDIR(readdir64, struct dirent64)

/* ---------------- links ---------------- */

#define WRAP_READLINK(name, params, args, dirfd)                               \
    ENTRY(ssize_t, name, params, args, MISSING(-1))                            \
    {                                                                          \
        if (VR_UNLIKELY(vr_vfs_count)) {                                       \
            ssize_t vr_ = 0;                                                   \
            if (vr_vfs_readlink(dirfd, p, b, n, &vr_))                         \
                return vr_;                                                    \
        }                                                                      \
        COUNTED_PATH(VRIFT_OP_READLINK, ssize_t, r < 0, REAL_RESOLVED(name) args, dirfd, p); \
    }

WRAP_READLINK(readlink, (const char *p, char *b, size_t n), (p, b, n), AT_FDCWD)
WRAP_READLINK(readlinkat, (int d, const char *p, char *b, size_t n), (d, p, b, n), d)
WRAP_READLINK(__readlink_chk, (const char *p, char *b, size_t n, size_t bl), (p, b, n, bl), AT_FDCWD)
WRAP_READLINK(__readlinkat_chk, (int d, const char *p, char *b, size_t n, size_t bl),
              (d, p, b, n, bl), d)

/* ---------------- working directory ---------------- */

/* Not counted: only so relative paths in the hot-path table stay right. */
VR_EXPORT int chdir(const char *p)
{
    __typeof__(&chdir) real = REAL(chdir);
    if (VR_UNLIKELY(!real))
        return (int)vr_syscall(SYS_chdir, p);
    int r = real(p);
    vr_cwd_changed();
    return r;
}

VR_EXPORT int fchdir(int fd)
{
    __typeof__(&fchdir) real = REAL(fchdir);
    if (VR_UNLIKELY(!real))
        return (int)vr_syscall(SYS_fchdir, fd);
    int r = real(fd);
    vr_cwd_changed();
    return r;
}

/* ---------------- dlopen ---------------- */

/* Counted, never timed: glibc's dlopen finds the caller (for its
 * DT_RUNPATH) from its return address, so this must stay a tail call —
 * nothing may run after the real dlopen returns. Errors are therefore
 * not counted either (docs/symbols.md). */
VR_EXPORT void *dlopen(const char *file, int mode)
{
    __typeof__(&dlopen) real = REAL(dlopen);
    if (VR_UNLIKELY(!real))
        MISSING(NULL);
    uint64_t ctl = vr_control();
    if (VR_MODE(ctl)) {
        vr_record_untimed(VRIFT_OP_DLOPEN, ctl, 0, 0);
        vr_loader_account(ctl, 1); /* what the previous dlopen loaded */
    }
    return real(file, mode);
}

/* ---------------- exec and spawn (exec.c) ----------------
 *
 * Each attempt is counted before it is made (a successful exec does not
 * return) and its failure after it; never timed. The execvp family runs
 * glibc's PATH search in exec.c, a counted execve per probe; execv and
 * the variadic execl* build the same argv glibc does and end in execve
 * or that search, since glibc's own would call its internal execve,
 * which no wrapper sees.
 */

extern char **environ;

VR_EXPORT int execve(const char *p, char *const argv[], char *const envp[])
{
    __typeof__(&execve) real = REAL(execve);
    if (VR_UNLIKELY(!real))
        return (int)vr_syscall(SYS_execve, p, argv, envp);
    uint64_t ctl = vr_control();
    if (VR_LIKELY(!VR_MODE(ctl)))
        return real(p, argv, envp);
    struct vr_exec_note note;
    vr_exec_attempt(ctl, AT_FDCWD, p, 0, argv, envp, 1, &note);
    int r = real(p, argv, envp);
    vr_exec_failed(ctl, errno, &note); /* it returned: it failed */
    return r;
}

VR_EXPORT int execveat(int d, const char *p, char *const argv[], char *const envp[], int f)
{
    __typeof__(&execveat) real = REAL(execveat);
    if (VR_UNLIKELY(!real))
        return (int)vr_syscall(SYS_execveat, d, p, argv, envp, f);
    uint64_t ctl = vr_control();
    if (VR_LIKELY(!VR_MODE(ctl)))
        return real(d, p, argv, envp, f);
    struct vr_exec_note note;
    vr_exec_attempt(ctl, d, p, f, argv, envp, 1, &note);
    int r = real(d, p, argv, envp, f);
    vr_exec_failed(ctl, errno, &note);
    return r;
}

VR_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    __typeof__(&fexecve) real = REAL(fexecve);
    if (VR_UNLIKELY(!real))
        MISSING(-1);
    uint64_t ctl = vr_control();
    if (VR_LIKELY(!VR_MODE(ctl)))
        return real(fd, argv, envp);
    struct vr_exec_note note;
    vr_exec_attempt(ctl, fd, "", AT_EMPTY_PATH, argv, envp, 1, &note);
    int r = real(fd, argv, envp);
    vr_exec_failed(ctl, errno, &note);
    return r;
}

VR_EXPORT int execv(const char *p, char *const argv[])
{
    return execve(p, argv, environ);
}

static int vr_execvpe(const char *file, char *const argv[], char *const envp[])
{
    if (VR_MODE(vr_control()))
        return vr_execvpe_search(file, argv, envp, 1);
    __typeof__(&execvpe) real = REAL(execvpe);
    if (VR_UNLIKELY(!real))
        MISSING(-1);
    return real(file, argv, envp);
}

VR_EXPORT int execvp(const char *file, char *const argv[])
{
    return vr_execvpe(file, argv, environ);
}

VR_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    return vr_execvpe(file, argv, envp);
}

/* execl, execle, execlp: glibc's argv (arg, the variadic arguments up to
 * NULL), on the stack; execle's envp follows the NULL. */
#define EXECL_ARGV(arg, envp_out)                                              \
    ptrdiff_t argc_;                                                           \
    va_list ap_;                                                               \
    va_start(ap_, arg);                                                        \
    for (argc_ = 1; va_arg(ap_, const char *); argc_++) {                      \
        if (argc_ == INT_MAX) {                                                \
            va_end(ap_);                                                       \
            errno = E2BIG;                                                     \
            return -1;                                                         \
        }                                                                      \
    }                                                                          \
    va_end(ap_);                                                               \
    char *argv_[argc_ + 1];                                                    \
    va_start(ap_, arg);                                                        \
    argv_[0] = (char *)(arg);                                                  \
    for (ptrdiff_t i_ = 1; i_ <= argc_; i_++)                                  \
        argv_[i_] = va_arg(ap_, char *);                                       \
    envp_out;                                                                  \
    va_end(ap_)

VR_EXPORT int execl(const char *p, const char *arg, ...)
{
    EXECL_ARGV(arg, (void)0);
    return execve(p, argv_, environ);
}

VR_EXPORT int execle(const char *p, const char *arg, ...)
{
    char *const *envp;
    EXECL_ARGV(arg, envp = va_arg(ap_, char *const *));
    return execve(p, argv_, envp);
}

VR_EXPORT int execlp(const char *file, const char *arg, ...)
{
    EXECL_ARGV(arg, (void)0);
    return vr_execvpe(file, argv_, environ);
}

/* posix_spawn reports failure as its return value, not errno. */
VR_EXPORT int posix_spawn(pid_t *pid, const char *p, const posix_spawn_file_actions_t *fa,
                          const posix_spawnattr_t *at, char *const argv[], char *const envp[])
{
    __typeof__(&posix_spawn) real = REAL(posix_spawn);
    if (VR_UNLIKELY(!real))
        return ENOSYS;
    uint64_t ctl = vr_control();
    if (VR_LIKELY(!VR_MODE(ctl)))
        return real(pid, p, fa, at, argv, envp);
    int saved = errno;
    struct vr_exec_note note;
    vr_exec_attempt(ctl, AT_FDCWD, p, 0, argv, envp, 0, &note);
    errno = saved;
    int r = real(pid, p, fa, at, argv, envp);
    if (r != 0)
        vr_exec_failed(ctl, r, &note);
    else if (pid)
        vr_exec_spawned(*pid, p, argv, &note);
    return r;
}

/* posix_spawnp's PATH probes happen in its child, inside glibc: exec.c
 * counts the ones that will fail, by the same search. */
VR_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                           const posix_spawnattr_t *at, char *const argv[], char *const envp[])
{
    __typeof__(&posix_spawnp) real = REAL(posix_spawnp);
    if (VR_UNLIKELY(!real))
        return ENOSYS;
    uint64_t ctl = vr_control();
    if (VR_LIKELY(!VR_MODE(ctl)))
        return real(pid, file, fa, at, argv, envp);
    int saved = errno;
    char found[PATH_MAX];
    const char *program = vr_spawnp_program(ctl, file, found, sizeof found);
    struct vr_exec_note note;
    vr_exec_attempt(ctl, AT_FDCWD, program, 0, argv, envp, 0, &note);
    errno = saved;
    int r = real(pid, file, fa, at, argv, envp);
    if (r != 0)
        vr_exec_failed(ctl, r, &note);
    else if (pid)
        vr_exec_spawned(*pid, program, argv, &note);
    return r;
}

/* ---------------- fd bookkeeping and changes (VFS only) ----------------
 *
 * Not profiled: these keep the VFS truthful. Duplicated fds keep serving
 * the same entry; a change to a projected file first copies it out of
 * the store (chmod, chown, utimes, truncate, link), a change of names
 * (unlink, rename, mkdir, rmdir, symlink) stops serving the names. With
 * no projection they are a pointer load and a branch.
 */

VR_EXPORT int dup(int fd)
{
    __typeof__(&dup) real = REAL(dup);
    if (VR_UNLIKELY(!real))
        return (int)vr_syscall(SYS_dup, fd);
    int r = real(fd);
    if (VR_UNLIKELY(vr_vfs_count) && r >= 0)
        vr_vfs_dup(fd, r);
    return r;
}

VR_EXPORT int dup2(int fd, int fd2)
{
    __typeof__(&dup2) real = REAL(dup2);
    if (VR_UNLIKELY(!real))
        return (int)vr_syscall(SYS_dup2, fd, fd2);
    int r = real(fd, fd2);
    if (VR_UNLIKELY(vr_vfs_count) && r >= 0 && fd != fd2)
        vr_vfs_dup(fd, r);
    return r;
}

VR_EXPORT int dup3(int fd, int fd2, int flags)
{
    __typeof__(&dup3) real = REAL(dup3);
    if (VR_UNLIKELY(!real))
        return (int)vr_syscall(SYS_dup3, fd, fd2, flags);
    int r = real(fd, fd2, flags);
    if (VR_UNLIKELY(vr_vfs_count) && r >= 0)
        vr_vfs_dup(fd, r);
    return r;
}

/* Locks name an inode: a lock taken on a blob would be shared by every
 * file with the same content and miss the private copy a writer makes.
 * So a lock on a blob fd first moves the fd to the private copy
 * (vfs_cow.c), and the lock lands where the writes will. */
#define IS_LOCK_CMD(cmd)                                                       \
    ((cmd) == F_SETLK || (cmd) == F_SETLKW || (cmd) == F_OFD_SETLK || (cmd) == F_OFD_SETLKW)

VR_EXPORT int flock(int fd, int op)
{
    __typeof__(&flock) real = REAL(flock);
    if (VR_UNLIKELY(!real))
        return (int)vr_syscall(SYS_flock, fd, op);
    if (VR_UNLIKELY(vr_vfs_count) && !(op & LOCK_UN) && vr_vfs_before_lock(fd) != 0)
        return -1;
    return real(fd, op);
}

/* fcntl's third argument is an int or a pointer: pass the register on. */
#define WRAP_FCNTL(name)                                                       \
    VR_EXPORT int name(int fd, int cmd, ...)                                   \
    {                                                                          \
        va_list ap;                                                            \
        va_start(ap, cmd);                                                     \
        void *arg = va_arg(ap, void *);                                        \
        va_end(ap);                                                            \
        __typeof__(&name) real = REAL(name);                                   \
        if (VR_UNLIKELY(!real))                                                \
            return (int)vr_syscall(SYS_fcntl, fd, cmd, arg);                      \
        if (VR_UNLIKELY(vr_vfs_count) && IS_LOCK_CMD(cmd) && vr_vfs_before_lock(fd) != 0) \
            return -1;                                                         \
        int r = real(fd, cmd, arg);                                            \
        if (VR_UNLIKELY(vr_vfs_count) && r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) \
            vr_vfs_dup(fd, r);                                                 \
        return r;                                                              \
    }
int fcntl64(int, int, ...);
WRAP_FCNTL(fcntl)
WRAP_FCNTL(fcntl64)

int close_range(unsigned int, unsigned int, int);
VR_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
    __typeof__(&close_range) real = REAL(close_range);
    if (VR_UNLIKELY(!real))
        return (int)vr_syscall(SYS_close_range, first, last, flags);
    int r = real(first, last, flags);
    if (VR_UNLIKELY(vr_vfs_count) && r == 0 && !(flags & CLOSE_RANGE_CLOEXEC))
        vr_vfs_close_range(first, last);
    return r;
}

/* A change by path: `before` runs first and may refuse the call (its
 * copy-on-write failed: the call fails with that errno); `after` runs
 * only when the call succeeded (a failed rmdir or rename changes no name). */
#define WRAP_CHANGE(name, params, args, before, after)                         \
    VR_EXPORT int name params                                                  \
    {                                                                          \
        __typeof__(&name) real = REAL(name);                                   \
        if (VR_UNLIKELY(!real))                                                \
            MISSING(-1);                                                       \
        if (VR_UNLIKELY(!vr_vfs_count))                                        \
            return real args;                                                  \
        int saved_ = errno;                                                    \
        if ((before) != 0)                                                     \
            return -1;                                                         \
        errno = saved_;                                                        \
        int r_ = real args;                                                    \
        if (r_ == 0) {                                                         \
            saved_ = errno;                                                    \
            after;                                                             \
            errno = saved_;                                                    \
        }                                                                      \
        return r_;                                                             \
    }

/* A change by fd: if the fd is a store blob, the same change is made by
 * path (`bypath`, naming `vr_path`) on the private copy instead. */
#define WRAP_FD_CHANGE(name, params, args, fd, bypath)                         \
    VR_EXPORT int name params                                                  \
    {                                                                          \
        __typeof__(&name) real = REAL(name);                                   \
        if (VR_UNLIKELY(!real))                                                \
            MISSING(-1);                                                       \
        if (VR_UNLIKELY(vr_vfs_count)) {                                       \
            char vr_path[PATH_MAX];                                            \
            int r_ = vr_vfs_fd_change_path(fd, vr_path, sizeof vr_path);       \
            if (r_ < 0)                                                        \
                return -1;                                                     \
            if (r_ > 0)                                                        \
                return bypath;                                                 \
            r_ = real args;                                                    \
            if (r_ == 0)                                                       \
                vr_vfs_fd_changed(fd);                                         \
            return r_;                                                         \
        }                                                                      \
        return real args;                                                      \
    }

#define INODE(d, p, nf) vr_vfs_before_change(d, p, nf, 1, vr_control(), NULL)
#define NAME(d, p) vr_vfs_name_changed(d, p, 0)
#define GONE(d, p) vr_vfs_name_changed(d, p, 1)
#define CHANGED(d, p, nf) vr_vfs_inode_changed(d, p, nf)
#define RENAMED(da, a, db, b) (GONE(da, a), GONE(db, b))

WRAP_CHANGE(chmod, (const char *p, mode_t m), (p, m), INODE(AT_FDCWD, p, 0), CHANGED(AT_FDCWD, p, 0))
WRAP_CHANGE(fchmodat, (int d, const char *p, mode_t m, int f), (d, p, m, f), INODE(d, p, f & AT_SYMLINK_NOFOLLOW), CHANGED(d, p, f & AT_SYMLINK_NOFOLLOW))
WRAP_FD_CHANGE(fchmod, (int fd, mode_t m), (fd, m), fd, fchmodat(AT_FDCWD, vr_path, m, 0))
WRAP_CHANGE(chown, (const char *p, uid_t u, gid_t g), (p, u, g), INODE(AT_FDCWD, p, 0), CHANGED(AT_FDCWD, p, 0))
WRAP_CHANGE(lchown, (const char *p, uid_t u, gid_t g), (p, u, g), INODE(AT_FDCWD, p, 1), CHANGED(AT_FDCWD, p, 1))
WRAP_CHANGE(fchownat, (int d, const char *p, uid_t u, gid_t g, int f), (d, p, u, g, f), INODE(d, p, f & AT_SYMLINK_NOFOLLOW), CHANGED(d, p, f & AT_SYMLINK_NOFOLLOW))
WRAP_FD_CHANGE(fchown, (int fd, uid_t u, gid_t g), (fd, u, g), fd,
               fchownat(AT_FDCWD, vr_path, u, g, AT_SYMLINK_NOFOLLOW))
WRAP_CHANGE(truncate, (const char *p, off_t l), (p, l), INODE(AT_FDCWD, p, 0), CHANGED(AT_FDCWD, p, 0))
WRAP_CHANGE(truncate64, (const char *p, off64_t l), (p, l), INODE(AT_FDCWD, p, 0), CHANGED(AT_FDCWD, p, 0))
/* utimensat and futimesat with a NULL path act on the fd (futimens). */
static int times_before(int d, const char *p, int nofollow, char *redirect)
{
    if (!p)
        return vr_vfs_fd_change_path(d, redirect, PATH_MAX);
    return INODE(d, p, nofollow) != 0 ? -1 : 0;
}

static void times_after(int d, const char *p, int nofollow)
{
    int saved = errno;
    if (!p)
        vr_vfs_fd_changed(d);
    else
        vr_vfs_inode_changed(d, p, nofollow);
    errno = saved;
}

VR_EXPORT int utimensat(int d, const char *p, const struct timespec t[2], int f)
{
    __typeof__(&utimensat) real = REAL(utimensat);
    if (VR_UNLIKELY(!real))
        MISSING(-1);
    if (VR_LIKELY(!vr_vfs_count))
        return real(d, p, t, f);
    const char *path = p;
    __asm__("" : "+r"(path)); /* glibc declares p nonnull; the kernel (and futimens) pass NULL */
    char redirect[PATH_MAX];
    int saved = errno, r = times_before(d, path, f & AT_SYMLINK_NOFOLLOW, redirect);
    if (r < 0)
        return -1;
    if (r > 0)
        return real(AT_FDCWD, redirect, t, AT_SYMLINK_NOFOLLOW);
    errno = saved;
    r = real(d, p, t, f);
    if (r == 0)
        times_after(d, path, f & AT_SYMLINK_NOFOLLOW);
    return r;
}
WRAP_FD_CHANGE(futimens, (int fd, const struct timespec t[2]), (fd, t), fd,
               utimensat(AT_FDCWD, vr_path, t, AT_SYMLINK_NOFOLLOW))
WRAP_CHANGE(utimes, (const char *p, const struct timeval t[2]), (p, t), INODE(AT_FDCWD, p, 0), CHANGED(AT_FDCWD, p, 0))
WRAP_FD_CHANGE(futimes, (int fd, const struct timeval t[2]), (fd, t), fd, utimes(vr_path, t))
VR_EXPORT int futimesat(int d, const char *p, const struct timeval t[2])
{
    __typeof__(&futimesat) real = REAL(futimesat);
    if (VR_UNLIKELY(!real))
        MISSING(-1);
    if (VR_LIKELY(!vr_vfs_count))
        return real(d, p, t);
    char redirect[PATH_MAX];
    int saved = errno, r = times_before(d, p, 0, redirect);
    if (r < 0)
        return -1;
    if (r > 0)
        return utimes(redirect, t);
    errno = saved;
    r = real(d, p, t);
    if (r == 0)
        times_after(d, p, 0);
    return r;
}
WRAP_CHANGE(lchmod, (const char *p, mode_t m), (p, m), INODE(AT_FDCWD, p, 1), CHANGED(AT_FDCWD, p, 1))
WRAP_CHANGE(lutimes, (const char *p, const struct timeval t[2]), (p, t), INODE(AT_FDCWD, p, 1), CHANGED(AT_FDCWD, p, 1))
WRAP_CHANGE(utime, (const char *p, const struct utimbuf *t), (p, t), INODE(AT_FDCWD, p, 0), CHANGED(AT_FDCWD, p, 0))
WRAP_CHANGE(setxattr, (const char *p, const char *n, const void *v, size_t s, int f), (p, n, v, s, f), INODE(AT_FDCWD, p, 0), CHANGED(AT_FDCWD, p, 0))
WRAP_CHANGE(lsetxattr, (const char *p, const char *n, const void *v, size_t s, int f), (p, n, v, s, f), INODE(AT_FDCWD, p, 1), CHANGED(AT_FDCWD, p, 1))
WRAP_FD_CHANGE(fsetxattr, (int fd, const char *n, const void *v, size_t s, int f), (fd, n, v, s, f), fd,
               lsetxattr(vr_path, n, v, s, f))
WRAP_CHANGE(removexattr, (const char *p, const char *n), (p, n), INODE(AT_FDCWD, p, 0), CHANGED(AT_FDCWD, p, 0))
WRAP_CHANGE(lremovexattr, (const char *p, const char *n), (p, n), INODE(AT_FDCWD, p, 1), CHANGED(AT_FDCWD, p, 1))
WRAP_FD_CHANGE(fremovexattr, (int fd, const char *n), (fd, n), fd, lremovexattr(vr_path, n))
WRAP_CHANGE(unlink, (const char *p), (p), 0, GONE(AT_FDCWD, p))
WRAP_CHANGE(unlinkat, (int d, const char *p, int f), (d, p, f), 0, GONE(d, p))
WRAP_CHANGE(rmdir, (const char *p), (p), 0, GONE(AT_FDCWD, p))
WRAP_CHANGE(mkdir, (const char *p, mode_t m), (p, m), 0, NAME(AT_FDCWD, p))
WRAP_CHANGE(mkdirat, (int d, const char *p, mode_t m), (d, p, m), 0, NAME(d, p))
WRAP_CHANGE(rename, (const char *a, const char *b), (a, b), vr_vfs_before_rename(AT_FDCWD, a), RENAMED(AT_FDCWD, a, AT_FDCWD, b))
WRAP_CHANGE(renameat, (int da, const char *a, int db, const char *b), (da, a, db, b), vr_vfs_before_rename(da, a), RENAMED(da, a, db, b))
WRAP_CHANGE(renameat2, (int da, const char *a, int db, const char *b, unsigned f), (da, a, db, b, f), vr_vfs_before_rename(da, a), RENAMED(da, a, db, b))
WRAP_CHANGE(mknod, (const char *p, mode_t m, dev_t dv), (p, m, dv), 0, NAME(AT_FDCWD, p))
WRAP_CHANGE(mknodat, (int d, const char *p, mode_t m, dev_t dv), (d, p, m, dv), 0, NAME(d, p))
WRAP_CHANGE(mkfifo, (const char *p, mode_t m), (p, m), 0, NAME(AT_FDCWD, p))
WRAP_CHANGE(mkfifoat, (int d, const char *p, mode_t m), (d, p, m), 0, NAME(d, p))
WRAP_CHANGE(symlink, (const char *t, const char *p), (t, p), 0, NAME(AT_FDCWD, p))
WRAP_CHANGE(symlinkat, (const char *t, int d, const char *p), (t, d, p), 0, NAME(d, p))
/* link's source: made private first, so both names share the copy (the
 * program expects a change through one to show through the other). */
WRAP_CHANGE(link, (const char *a, const char *b), (a, b), INODE(AT_FDCWD, a, 1), NAME(AT_FDCWD, b))
WRAP_CHANGE(linkat, (int da, const char *a, int db, const char *b, int f), (da, a, db, b, f), INODE(da, a, !(f & AT_SYMLINK_FOLLOW)), NAME(db, b))

/* posix_spawn's file actions open inside glibc, in the child, out of our
 * sight: the object rule runs when the action is added. It returns an
 * error number, not -1. */
VR_EXPORT int posix_spawn_file_actions_addopen(posix_spawn_file_actions_t *a, int fd, const char *p, int flags,
                                               mode_t mode)
{
    __typeof__(&posix_spawn_file_actions_addopen) real = REAL(posix_spawn_file_actions_addopen);
    if (VR_UNLIKELY(!real))
        return ENOSYS;
    if (VR_UNLIKELY(vr_vfs_count) && vr_vfs_open_changes(flags)) {
        int saved = errno;
        if (vr_vfs_before_change(AT_FDCWD, p, (flags & O_NOFOLLOW) != 0, !(flags & O_TRUNC), vr_control(),
                                 NULL) != 0) {
            int e = errno;
            errno = saved;
            return e;
        }
        if (flags & O_CREAT)
            vr_vfs_before_create(AT_FDCWD, p);
        errno = saved;
    }
    return real(a, fd, p, flags, mode);
}

/* chattr and friends change inode flags through ioctl on a read-only fd:
 * on a blob, they are made on the private copy instead (the object rule).
 * Every other request passes straight through. */
VR_EXPORT int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    __typeof__(&ioctl) real = REAL(ioctl);
    if (VR_UNLIKELY(!real))
        return (int)vr_syscall(SYS_ioctl, fd, req, arg);
    if (VR_UNLIKELY(vr_vfs_count) && (req == FS_IOC_SETFLAGS || req == FS_IOC_FSSETXATTR)) {
        char path[PATH_MAX];
        int r = vr_vfs_fd_change_path(fd, path, sizeof path);
        if (r < 0)
            return -1;
        if (r > 0) {
            long copy = vr_syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC, 0);
            if (copy < 0)
                return -1;
            int rr = real((int)copy, req, arg);
            int e = errno;
            vr_syscall(SYS_close, (int)copy);
            errno = e;
            return rr;
        }
    }
    return real(fd, req, arg);
}

/* ---------------- syscall(2) ----------------
 *
 * libuv (Node.js) and others make file-system calls through glibc's
 * syscall(). Those numbers are counted as the operation they are, by the
 * same rules as the named wrappers (getdents64 counts as readdir: one
 * batch of entries). The call itself is always libc's syscall() with
 * the caller's arguments, so return value and errno are untouched.
 * Under a projection, the numbers the VFS serves or protects go to the
 * named wrapper instead (same system call, same return/errno contract),
 * so they are served, and a change through syscall() copies a blob out
 * first like any other route. Every other number passes straight
 * through. The wrapper reads six argument registers whatever the number,
 * as libc's syscall() does.
 */

static void *vr_real_syscall;

/* Count `call`, made by libc's syscall(), as `op` on (dirfd, path);
 * `misc` >= 0: its positive result is bytes moved. */
static long counted_syscall(enum vrift_op op, int dirfd, const char *path, int misc, long n, long a, long b,
                            long c, long d, long e, long f)
{
    __typeof__(&syscall) real = (__typeof__(&syscall))vr_real_syscall;
    uint64_t ctl = vr_control();
    if (!VR_MODE(ctl))
        return real(n, a, b, c, d, e, f);
    uint64_t t0 = vr_start_path(ctl, op, path);
    long r = real(n, a, b, c, d, e, f);
    int failed = r == -1;
    vr_record_path(op, ctl, t0, failed, failed ? errno : 0, dirfd, path);
    if (misc >= 0 && r > 0)
        vr_add_misc(ctl, (enum vrift_misc)misc, (uint64_t)r);
    return r;
}

/* Under a projection: the named wrapper, which serves or protects. */
static int served_syscall(long n, long a, long b, long c, long d, long e, long *out)
{
#define P(x) ((const char *)(x))
    switch (n) {
    case SYS_stat: *out = stat(P(a), (struct stat *)b); return 1;
    case SYS_lstat: *out = lstat(P(a), (struct stat *)b); return 1;
    case SYS_fstat: *out = fstat((int)a, (struct stat *)b); return 1;
    case SYS_newfstatat: *out = fstatat((int)a, P(b), (struct stat *)c, (int)d); return 1;
    case SYS_statx: *out = statx((int)a, P(b), (int)c, (unsigned)d, (struct statx *)e); return 1;
    case SYS_access: *out = access(P(a), (int)b); return 1;
    case SYS_faccessat: *out = faccessat((int)a, P(b), (int)c, 0); return 1;
    case SYS_readlink: *out = readlink(P(a), (char *)b, (size_t)c); return 1;
    case SYS_readlinkat: *out = readlinkat((int)a, P(b), (char *)c, (size_t)d); return 1;
    case SYS_open: *out = open(P(a), (int)b, (mode_t)c); return 1;
    case SYS_openat: *out = openat((int)a, P(b), (int)c, (mode_t)d); return 1;
    case SYS_creat: *out = creat(P(a), (mode_t)b); return 1;
    case SYS_close: *out = close((int)a); return 1;
    case SYS_truncate: *out = truncate(P(a), (off_t)b); return 1;
    case SYS_chmod: *out = chmod(P(a), (mode_t)b); return 1;
    case SYS_fchmod: *out = fchmod((int)a, (mode_t)b); return 1;
    case SYS_fchmodat: *out = fchmodat((int)a, P(b), (mode_t)c, 0); return 1;
    case SYS_chown: *out = chown(P(a), (uid_t)b, (gid_t)c); return 1;
    case SYS_lchown: *out = lchown(P(a), (uid_t)b, (gid_t)c); return 1;
    case SYS_fchown: *out = fchown((int)a, (uid_t)b, (gid_t)c); return 1;
    case SYS_fchownat: *out = fchownat((int)a, P(b), (uid_t)c, (gid_t)d, (int)e); return 1;
    case SYS_utimensat: *out = utimensat((int)a, P(b), (const struct timespec *)c, (int)d); return 1;
    case SYS_unlink: *out = unlink(P(a)); return 1;
    case SYS_unlinkat: *out = unlinkat((int)a, P(b), (int)c); return 1;
    case SYS_rmdir: *out = rmdir(P(a)); return 1;
    case SYS_mkdir: *out = mkdir(P(a), (mode_t)b); return 1;
    case SYS_mkdirat: *out = mkdirat((int)a, P(b), (mode_t)c); return 1;
    case SYS_rename: *out = rename(P(a), P(b)); return 1;
    case SYS_renameat: *out = renameat((int)a, P(b), (int)c, P(d)); return 1;
    case SYS_renameat2: *out = renameat2((int)a, P(b), (int)c, P(d), (unsigned)e); return 1;
    case SYS_link: *out = link(P(a), P(b)); return 1;
    case SYS_linkat: *out = linkat((int)a, P(b), (int)c, P(d), (int)e); return 1;
    case SYS_symlink: *out = symlink(P(a), P(b)); return 1;
    case SYS_symlinkat: *out = symlinkat(P(a), (int)b, P(c)); return 1;
    case SYS_setxattr: *out = setxattr(P(a), P(b), (const void *)c, (size_t)d, (int)e); return 1;
    case SYS_lsetxattr: *out = lsetxattr(P(a), P(b), (const void *)c, (size_t)d, (int)e); return 1;
    case SYS_removexattr: *out = removexattr(P(a), P(b)); return 1;
    case SYS_lremovexattr: *out = lremovexattr(P(a), P(b)); return 1;
    default: return 0;
    }
#undef P
}

static __attribute__((noinline)) long vr_body_syscall(long n, long a, long b, long c, long d, long e, long f)
{
    long out;
    if (VR_UNLIKELY(vr_vfs_count) && served_syscall(n, a, b, c, d, e, &out))
        return out;
#define COUNT_AS(op, dirfd, path, misc) counted_syscall(op, dirfd, (const char *)(path), misc, n, a, b, c, d, e, f)
    switch (n) {
    case SYS_stat: return COUNT_AS(VRIFT_OP_STAT, AT_FDCWD, a, -1);
    case SYS_lstat: return COUNT_AS(VRIFT_OP_LSTAT, AT_FDCWD, a, -1);
    case SYS_fstat: return COUNT_AS(VRIFT_OP_FSTAT, AT_FDCWD, NULL, -1);
    case SYS_newfstatat: return COUNT_AS(statat_op((const char *)b, (int)d), (int)a, b, -1);
    case SYS_statx: return COUNT_AS(VRIFT_OP_STATX, (int)a, b, -1);
    case SYS_access: return COUNT_AS(VRIFT_OP_ACCESS, AT_FDCWD, a, -1);
    case SYS_faccessat:
    case SYS_faccessat2: return COUNT_AS(VRIFT_OP_ACCESS, (int)a, b, -1);
    case SYS_open:
    case SYS_creat: return COUNT_AS(VRIFT_OP_OPEN, AT_FDCWD, a, -1);
    case SYS_openat:
    case SYS_openat2: return COUNT_AS(VRIFT_OP_OPEN, (int)a, b, -1);
    case SYS_close: return COUNT_AS(VRIFT_OP_CLOSE, AT_FDCWD, NULL, -1);
    case SYS_read:
    case SYS_pread64:
    case SYS_readv:
    case SYS_preadv:
    case SYS_preadv2: return COUNT_AS(VRIFT_OP_READ, AT_FDCWD, NULL, VRIFT_MISC_BYTES_READ);
    case SYS_write:
    case SYS_pwrite64:
    case SYS_writev:
    case SYS_pwritev:
    case SYS_pwritev2: return COUNT_AS(VRIFT_OP_WRITE, AT_FDCWD, NULL, VRIFT_MISC_BYTES_WRITTEN);
    case SYS_getdents64: return COUNT_AS(VRIFT_OP_READDIR, AT_FDCWD, NULL, -1);
    case SYS_readlink: return COUNT_AS(VRIFT_OP_READLINK, AT_FDCWD, a, -1);
    case SYS_readlinkat: return COUNT_AS(VRIFT_OP_READLINK, (int)a, b, -1);
    case SYS_mmap: return COUNT_AS(VRIFT_OP_MMAP, AT_FDCWD, NULL, -1);
    case SYS_munmap: return COUNT_AS(VRIFT_OP_MUNMAP, AT_FDCWD, NULL, -1);
    case SYS_execve:
    case SYS_execveat: {
        uint64_t ctl = vr_control();
        struct vr_exec_note note;
        if (n == SYS_execve)
            vr_exec_attempt(ctl, AT_FDCWD, (const char *)a, 0, (char *const *)b, (char *const *)c, 1, &note);
        else
            vr_exec_attempt(ctl, (int)a, (const char *)b, (int)e, (char *const *)c, (char *const *)d, 1, &note);
        long r = ((__typeof__(&syscall))vr_real_syscall)(n, a, b, c, d, e, f);
        vr_exec_failed(ctl, errno, &note);
        return r;
    }
    default: return ((__typeof__(&syscall))vr_real_syscall)(n, a, b, c, d, e, f);
    }
#undef COUNT_AS
}

VR_EXPORT long syscall(long n, ...)
{
    va_list ap;
    va_start(ap, n);
    long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
    long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
    va_end(ap);
    __typeof__(&syscall) real = (__typeof__(&syscall))vr_resolve(&vr_real_syscall, "syscall");
    if (VR_UNLIKELY(!real))
        return vr_syscall6(n, a, b, c, d, e, f);
    if (VR_LIKELY(!vr_busy()))
        return real(n, a, b, c, d, e, f);
    return vr_body_syscall(n, a, b, c, d, e, f);
}
