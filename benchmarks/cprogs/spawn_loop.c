/* spawn_loop: microseconds per posix_spawn + waitpid of a program, the
 * cost a build pays for every process it starts. The children inherit
 * this process's environment, so running spawn_loop with or without
 * LD_PRELOAD (and VRIFT_PROFILE) measures what loading the shim (and
 * attaching to a session) adds to each exec.
 *
 * usage: spawn_loop N PROG [ARG...]   prints "us_per_spawn X" (median of
 * N single spawns, robust to the odd slow one) and "us_mean X".
 */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: spawn_loop N PROG [ARG...]\n");
        return 2;
    }
    int n = atoi(argv[1]);
    if (n < 1) {
        fprintf(stderr, "spawn_loop: N must be positive\n");
        return 2;
    }
    double *t = calloc(n, sizeof *t), sum = 0;
    for (int i = 0; i < n; i++) {
        pid_t pid;
        int status;
        double t0 = now_us();
        if (posix_spawn(&pid, argv[2], NULL, NULL, argv + 2, environ) != 0) {
            perror(argv[2]);
            return 1;
        }
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "spawn_loop: %s failed\n", argv[2]);
            return 1;
        }
        t[i] = now_us() - t0;
        sum += t[i];
    }
    qsort(t, n, sizeof *t, cmp_double);
    printf("us_per_spawn %.2f\nus_mean %.2f\n", n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2,
           sum / n);
    free(t);
    return 0;
}
