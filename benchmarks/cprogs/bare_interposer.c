/* bare_interposer: the least an LD_PRELOAD wrapper can cost. Wraps the
 * calls bench_paired measures (stat, fstat, open, close, pread, readdir)
 * with nothing but a jump to libc's function, resolved once in a
 * constructor. The shim with profiling off adds one control-word load
 * and a branch to this; the difference between the two rows of the
 * micro table is what the shim itself costs when off, the rest is the
 * price of interposing at all.
 *
 * build: gcc -O2 -shared -fPIC -o bare_interposer.so bare_interposer.c
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

static int (*real_stat)(const char *, struct stat *);
static int (*real_fstat)(int, struct stat *);
static int (*real_open)(const char *, int, ...);
static int (*real_close)(int);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static struct dirent *(*real_readdir)(DIR *);

__attribute__((constructor)) static void resolve(void)
{
    real_stat = (int (*)(const char *, struct stat *))dlsym(RTLD_NEXT, "stat");
    real_fstat = (int (*)(int, struct stat *))dlsym(RTLD_NEXT, "fstat");
    real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
    real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
    real_pread = (ssize_t(*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread");
    real_readdir = (struct dirent * (*)(DIR *)) dlsym(RTLD_NEXT, "readdir");
}

int stat(const char *path, struct stat *buf)
{
    return real_stat(path, buf);
}

int fstat(int fd, struct stat *buf)
{
    return real_fstat(fd, buf);
}

int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if ((flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return real_open(path, flags, mode);
}

int close(int fd)
{
    return real_close(fd);
}

ssize_t pread(int fd, void *buf, size_t count, off_t offset)
{
    return real_pread(fd, buf, count, offset);
}

struct dirent *readdir(DIR *dir)
{
    return real_readdir(dir);
}
