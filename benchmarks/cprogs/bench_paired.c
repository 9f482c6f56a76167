/* bench_paired: what the shim adds per call, measured inside one process.
 *
 * bench_calls runs each variant in its own process, so the difference
 * between two variants also carries process-to-process noise (page
 * placement, the VM's neighbours), which on a 2-core VM is several ns,
 * more than the thing being measured. Here both sides run in the same
 * process, alternating in short batches: "direct" calls libc's own
 * definition (looked up in libc.so.6), "wrapped" calls whatever the
 * program would call (the shim's wrapper when it is preloaded, libc's
 * function otherwise). Both go through a function pointer, so without
 * the shim the two sides are the same code and their difference is the
 * method's noise floor.
 *
 * usage: bench_paired DIR ROUNDS BATCH   (DIR: files named file0..fileK)
 * prints "op direct_ns wrapped_ns added_ns": medians over ROUNDS of the
 * per-call time of a batch of BATCH calls, and the median of the
 * per-round differences.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct calls {
    int (*stat)(const char *, struct stat *);
    int (*fstat)(int, struct stat *);
    int (*open)(const char *, int, ...);
    int (*close)(int);
    ssize_t (*pread)(int, void *, size_t, off_t);
    struct dirent *(*readdir)(DIR *);
};

static struct calls direct, wrapped;
static char file[4096];
static int fd;
static DIR *dir;

static void *must(void *p, const char *name)
{
    if (p == NULL) {
        fprintf(stderr, "bench_paired: cannot resolve %s: %s\n", name, dlerror());
        exit(1);
    }
    return p;
}

static void resolve(struct calls *c, void *handle)
{
    c->stat = must(dlsym(handle, "stat"), "stat");
    c->fstat = must(dlsym(handle, "fstat"), "fstat");
    c->open = must(dlsym(handle, "open"), "open");
    c->close = must(dlsym(handle, "close"), "close");
    c->pread = must(dlsym(handle, "pread"), "pread");
    c->readdir = must(dlsym(handle, "readdir"), "readdir");
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* One batch of `n` calls of operation `op` through `c`; ns per call. */
static double batch(const struct calls *c, int op, long n)
{
    struct stat st;
    char buf[64];
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        switch (op) {
        case 0:
            c->stat(file, &st);
            break;
        case 1:
            c->fstat(fd, &st);
            break;
        case 2:
            c->close(c->open(file, O_RDONLY));
            break;
        case 3:
            c->pread(fd, buf, sizeof buf, 0);
            break;
        default:
            /* most calls are served from the DIR buffer, as in real code */
            if (!c->readdir(dir))
                rewinddir(dir);
        }
    }
    return (now_ns() - t0) / n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    static const char *names[] = {"stat", "fstat", "open+close", "read", "readdir"};
    if (argc != 4) {
        fprintf(stderr, "usage: bench_paired DIR ROUNDS BATCH\n");
        return 2;
    }
    int rounds = atoi(argv[2]);
    long n = atol(argv[3]);
    if (rounds < 1 || n < 1) {
        fprintf(stderr, "bench_paired: ROUNDS and BATCH must be positive\n");
        return 2;
    }
    snprintf(file, sizeof file, "%s/file0", argv[1]);
    void *libc = must(dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD), "libc.so.6");
    resolve(&direct, libc);
    resolve(&wrapped, RTLD_DEFAULT);
    fd = open(file, O_RDONLY);
    dir = opendir(argv[1]);
    if (fd < 0 || dir == NULL) {
        perror(argv[1]);
        return 1;
    }
    double *d = calloc(rounds, sizeof *d), *w = calloc(rounds, sizeof *w),
           *diff = calloc(rounds, sizeof *diff);
    for (int op = 0; op < 5; op++) {
        long ops_n = op == 2 ? n / 2 : n; /* open+close is two calls */
        batch(&direct, op, ops_n);        /* warm up both paths (lazy binding, caches) */
        batch(&wrapped, op, ops_n);
        for (int r = 0; r < rounds; r++) {
            /* alternate which side goes first, so drift cancels out */
            if (r % 2) {
                w[r] = batch(&wrapped, op, ops_n);
                d[r] = batch(&direct, op, ops_n);
            } else {
                d[r] = batch(&direct, op, ops_n);
                w[r] = batch(&wrapped, op, ops_n);
            }
            diff[r] = w[r] - d[r];
        }
        printf("%s %.2f %.2f %.2f\n", names[op], median(d, rounds), median(w, rounds),
               median(diff, rounds));
    }
    free(d);
    free(w);
    free(diff);
    closedir(dir);
    close(fd);
    return 0;
}
