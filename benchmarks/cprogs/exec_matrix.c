/* exec_matrix: per-exec cost of several environments, measured side by
 * side. Each round spawns PROG once under every variant, in a freshly
 * shuffled order, and waits for it; the result per variant is the median
 * of its per-round differences to the first variant (the reference), so
 * drift of the machine cancels out round by round.
 *
 * usage: exec_matrix ROUNDS SEED VARIANT... -- PROG [ARG...]
 *   VARIANT = name[:KEY=VALUE[,KEY=VALUE...]]
 *   Every variant starts from this process's environment minus
 *   LD_PRELOAD, VRIFT_PROFILE, VRIFT_PROFILE_PATH and VRIFT_VFS, then
 *   adds its own KEY=VALUEs.
 * prints per variant: the median wall us per spawn + wait; the 25th,
 * 50th and 75th percentiles of its per-round difference to the
 * reference; the child's median CPU us (user + system: the kernel's
 * exact runtime of the child, so scheduling waits drop out) and the
 * median of its per-round difference; the median minor page faults.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

#define MAXV 16

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

static double quantile(double *v, int n, double q)
{
    qsort(v, n, sizeof *v, cmp_double);
    double pos = q * (n - 1);
    int i = (int)pos;
    double f = pos - i;
    return i + 1 < n ? v[i] * (1 - f) + v[i + 1] * f : v[i];
}

static int drop(const char *kv)
{
    static const char *names[] = {"LD_PRELOAD=", "VRIFT_PROFILE=", "VRIFT_PROFILE_PATH=", "VRIFT_VFS="};
    for (unsigned i = 0; i < sizeof names / sizeof *names; i++)
        if (strncmp(kv, names[i], strlen(names[i])) == 0)
            return 1;
    return 0;
}

static char **variant_env(char *spec, char **name)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **out = calloc(n + 32, sizeof *out);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!drop(environ[i]))
            out[k++] = environ[i];
    char *colon = strchr(spec, ':');
    *name = spec;
    if (colon) {
        *colon = '\0';
        char *save = NULL;
        for (char *kv = strtok_r(colon + 1, ",", &save); kv && k < n + 31; kv = strtok_r(NULL, ",", &save))
            out[k++] = kv;
    }
    return out;
}

/* One spawn + wait: wall us; the child's CPU us (user + system, which
 * the kernel derives from its exact runtime) and minor faults. */
static double spawn_once(char **argv, char **env, double *cpu, double *flt)
{
    pid_t pid;
    int status;
    struct rusage ru;
    static posix_spawn_file_actions_t quiet; /* the program's stdout goes to /dev/null */
    static int quiet_ready;
    if (!quiet_ready) {
        posix_spawn_file_actions_init(&quiet);
        posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
        quiet_ready = 1;
    }
    double t0 = now_us();
    if (posix_spawn(&pid, argv[0], &quiet, NULL, argv, env) != 0)
        return -1;
    if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    double t = now_us() - t0;
    *cpu = ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
    *flt = (double)ru.ru_minflt;
    return t;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: exec_matrix ROUNDS SEED VARIANT... -- PROG [ARG...]\n");
        return 2;
    }
    int rounds = atoi(argv[1]);
    srand((unsigned)atoi(argv[2]));
    int nv = 0, i = 3;
    char *names[MAXV];
    char **envs[MAXV];
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (nv == MAXV)
            return 2;
        envs[nv] = variant_env(argv[i], &names[nv]);
        nv++;
    }
    if (i >= argc - 1 || nv < 1 || rounds < 1)
        return 2;
    char **prog = argv + i + 1;
    double *t[MAXV], *d[MAXV], *c[MAXV], *cd[MAXV], *f[MAXV];
    for (int v = 0; v < nv; v++) {
        t[v] = calloc(rounds, sizeof(double));
        d[v] = calloc(rounds, sizeof(double));
        c[v] = calloc(rounds, sizeof(double));
        cd[v] = calloc(rounds, sizeof(double));
        f[v] = calloc(rounds, sizeof(double));
    }
    int order[MAXV];
    for (int r = 0; r < rounds; r++) {
        for (int v = 0; v < nv; v++)
            order[v] = v;
        for (int v = nv - 1; v > 0; v--) {
            int j = rand() % (v + 1), x = order[v];
            order[v] = order[j];
            order[j] = x;
        }
        for (int k = 0; k < nv; k++) {
            int v = order[k];
            t[v][r] = spawn_once(prog, envs[v], &c[v][r], &f[v][r]);
            if (t[v][r] < 0) {
                fprintf(stderr, "exec_matrix: %s failed under %s\n", prog[0], names[v]);
                return 1;
            }
        }
        for (int v = 0; v < nv; v++) {
            d[v][r] = t[v][r] - t[0][r];
            cd[v][r] = c[v][r] - c[0][r];
        }
    }
    printf("%-12s %9s %9s %9s %9s %9s %9s %7s\n", "variant", "wall_us", "d_p25", "d_median", "d_p75", "cpu_us",
           "d_cpu", "minflt");
    for (int v = 0; v < nv; v++) {
        double w = quantile(t[v], rounds, 0.5), q1 = quantile(d[v], rounds, 0.25), q2 = quantile(d[v], rounds, 0.5),
               q3 = quantile(d[v], rounds, 0.75), cu = quantile(c[v], rounds, 0.5), dc = quantile(cd[v], rounds, 0.5),
               mf = quantile(f[v], rounds, 0.5);
        printf("%-12s %9.1f %+9.1f %+9.1f %+9.1f %9.1f %+9.1f %7.0f\n", names[v], w, q1, q2, q3, cu, dc, mf);
    }
    return 0;
}
