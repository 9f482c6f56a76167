/* raw_syscalls: file-system calls made through glibc's syscall(), as
 * libuv does, N times each; then numbers the shim does not count.
 * Prints what each returned, for comparison with and without the shim.
 * usage: raw_syscalls FILE DIR N */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: raw_syscalls FILE DIR N\n");
        return 2;
    }
    long n = atol(argv[3]);
    struct statx sx;
    struct stat st;
    char buf[4096];
    long sum = 0;
    for (long i = 0; i < n; i++) {
        sum += syscall(SYS_statx, AT_FDCWD, argv[1], 0, STATX_BASIC_STATS, &sx);
        sum += syscall(SYS_newfstatat, AT_FDCWD, argv[1], &st, 0);
        long fd = syscall(SYS_openat, AT_FDCWD, argv[1], O_RDONLY | O_CLOEXEC);
        sum += syscall(SYS_read, fd, buf, 10);
        sum += syscall(SYS_close, fd);
        long dfd = syscall(SYS_openat, AT_FDCWD, argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        while (syscall(SYS_getdents64, dfd, buf, sizeof buf) > 0)
            sum++;
        syscall(SYS_close, dfd);
    }
    long r = syscall(SYS_statx, AT_FDCWD, "/nonexistent-vrift", 0, STATX_BASIC_STATS, &sx);
    printf("missing: %ld errno=%d\n", r, errno);
    errno = 0;
    printf("getpid: %d\n", syscall(SYS_getpid) == getpid());
    r = syscall(99999, 1, 2, 3);
    printf("unknown: %ld errno=%d\n", r, errno);
    printf("sum: %ld\n", sum);
    return 0;
}
