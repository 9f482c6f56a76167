/*
 * rawsys.h — system calls made by the shim for itself: never through a
 * wrapper (they would be counted), nor through libc (whose code pages a
 * plain process may not touch, docs/shim.md "Per-exec cost"). They return
 * the result or -errno and never touch errno.
 */
#ifndef VRIFT_RAWSYS_H
#define VRIFT_RAWSYS_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
static inline long vr_sys(long n, long a, long b, long c, long d, long e, long f)
{
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
#else
static inline long vr_sys(long n, long a, long b, long c, long d, long e, long f)
{
    int saved = errno;
    long r = syscall(n, a, b, c, d, e, f);
    if (r == -1)
        r = -errno;
    errno = saved;
    return r;
}
#endif
#define SYS0(n) vr_sys((n), 0, 0, 0, 0, 0, 0)
#define SYS1(n, a) vr_sys((n), (long)(a), 0, 0, 0, 0, 0)
#define SYS2(n, a, b) vr_sys((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define SYS3(n, a, b, c) vr_sys((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define SYS4(n, a, b, c, d) vr_sys((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)


/* libc's syscall() contract (-1 and errno on failure), without libc: the
 * shim wraps syscall() itself (interpose.c), so its own system calls must
 * not go through that symbol. vr_syscall(SYS_x, args...) takes 0-6 args. */
static inline long vr_syscall6(long n, long a, long b, long c, long d, long e, long f)
{
    long r = vr_sys(n, a, b, c, d, e, f);
    if (r < 0 && r > -4096) {
        errno = (int)-r;
        return -1;
    }
    return r;
}
#define vr_syscall(...) vr_syscall_(__VA_ARGS__, 0, 0, 0, 0, 0, 0)
#define vr_syscall_(n, a, b, c, d, e, f, ...)                                  \
    vr_syscall6((long)(n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

/* Decimal digits of v at dst (NUL-terminated): no stdio here, signal
 * handlers call the shim. Returns the length. */
static inline size_t vr_put_uint(char *dst, unsigned long v)
{
    char d[24];
    size_t n = 0, o = 0;
    do
        d[n++] = (char)('0' + v % 10);
    while (v /= 10);
    while (n)
        dst[o++] = d[--n];
    dst[o] = '\0';
    return o;
}

/* The absolute path an open fd names (its /proc/self/fd link), in out;
 * 0 if it has none (no /proc, a pipe, a socket). errno untouched. */
static inline int vr_fd_path(int fd, char *out, size_t cap)
{
    char link[40] = "/proc/self/fd/";
    vr_put_uint(link + 14, (unsigned)fd);
    long n = vr_sys(SYS_readlinkat, AT_FDCWD, (long)link, (long)out, (long)(cap - 1), 0, 0);
    if (n <= 0 || out[0] != '/')
        return 0;
    out[n] = '\0';
    return 1;
}

#endif
