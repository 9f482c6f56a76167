/* bench_calls: ns per call of common file-system calls, for measuring
 * what the shim adds. Each operation runs N times between two
 * clock_gettime reads (after a warm-up); prints "op ns_per_call".
 * usage: bench_calls DIR N   (DIR: a directory with a few files) */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

#define BENCH(label, n, body)                                                  \
    do {                                                                       \
        for (long i_ = 0; i_ < (n) / 10; i_++) {                               \
            body;                                                              \
        }                                                                      \
        double t0_ = now_ns();                                                 \
        for (long i_ = 0; i_ < (n); i_++) {                                    \
            body;                                                              \
        }                                                                      \
        printf("%s %.2f\n", label, (now_ns() - t0_) / (n));                    \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_calls DIR N\n");
        return 2;
    }
    const char *dir = argv[1];
    long n = atol(argv[2]);
    char file[4096];
    snprintf(file, sizeof file, "%s/file0", dir);
    struct stat st;
    char buf[64];
    int fd = open(file, O_RDONLY);
    if (fd < 0) {
        perror(file);
        return 1;
    }
    BENCH("stat", n, stat(file, &st));
    BENCH("fstat", n, fstat(fd, &st));
    BENCH("open+close", n / 2, close(open(file, O_RDONLY)));
    BENCH("read", n, pread(fd, buf, sizeof buf, 0));
    /* readdir: most calls are served from the DIR buffer */
    DIR *d = opendir(dir);
    BENCH("readdir", n, if (!readdir(d)) rewinddir(d));
    closedir(d);
    close(fd);
    return 0;
}
