/* spawn_loop: microseconds per posix_spawn + waitpid of a program, the
 * cost a build pays for every process it starts, and what running it
 * under the shim adds.
 *
 * Spawns alternate between two environments: this process's own (run
 * spawn_loop with LD_PRELOAD, and VRIFT_PROFILE*, set as the variant
 * needs) and the same without LD_PRELOAD, VRIFT_PROFILE and
 * VRIFT_PROFILE_PATH. Adjacent spawns see the same machine, so the
 * per-pair difference is far less noisy than comparing two runs of a
 * few hundred spawns each; with no LD_PRELOAD set the two sides are
 * identical and the difference is the method's noise.
 *
 * usage: spawn_loop N PROG [ARG...]
 * prints "us_plain X", "us_variant X" (medians of N spawns each) and
 * "us_added X" (median of the N paired differences).
 */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static double median(double *v, int n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int is_vrift_var(const char *kv)
{
    static const char *names[] = {"LD_PRELOAD=", "VRIFT_PROFILE=", "VRIFT_PROFILE_PATH="};
    for (unsigned i = 0; i < sizeof names / sizeof *names; i++)
        if (strncmp(kv, names[i], strlen(names[i])) == 0)
            return 1;
    return 0;
}

/* environ without the variables that load or configure the shim */
static char **plain_environ(void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **out = calloc(n + 1, sizeof *out);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!is_vrift_var(environ[i]))
            out[k++] = environ[i];
    return out;
}

/* One spawn + wait of argv in env; microseconds, or -1 on failure. */
static double spawn_once(char **argv, char **env)
{
    pid_t pid;
    int status;
    double t0 = now_us();
    if (posix_spawn(&pid, argv[0], NULL, NULL, argv, env) != 0)
        return -1;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return now_us() - t0;
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
    char **plain = plain_environ();
    double *p = calloc(n, sizeof *p), *v = calloc(n, sizeof *v), *d = calloc(n, sizeof *d);
    for (int i = 0; i < n; i++) {
        /* alternate which side goes first, so drift cancels out */
        if (i % 2) {
            v[i] = spawn_once(argv + 2, environ);
            p[i] = spawn_once(argv + 2, plain);
        } else {
            p[i] = spawn_once(argv + 2, plain);
            v[i] = spawn_once(argv + 2, environ);
        }
        if (p[i] < 0 || v[i] < 0) {
            fprintf(stderr, "spawn_loop: %s failed\n", argv[2]);
            return 1;
        }
        d[i] = v[i] - p[i];
    }
    printf("us_plain %.2f\nus_variant %.2f\nus_added %.2f\n", median(p, n), median(v, n), median(d, n));
    free(p);
    free(v);
    free(d);
    free(plain);
    return 0;
}
