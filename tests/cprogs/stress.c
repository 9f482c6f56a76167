/* stress: the situations that break interposers, one mode per run.
 *
 *   stress threads N T PATH      T threads x N stat(PATH); prints the total
 *   stress forkstorm K T PATH    T threads stat PATH while main forks K children (each 10 stats);
 *                                prints thread stats and child stats
 *   stress chain DEPTH PATH      exec itself DEPTH times, one stat per level
 *   stress spawn K PATH          posix_spawn K children (stress chain 0 PATH); prints K
 *   stress vfork K PATH          vfork + exec K children (stress chain 0 PATH)
 *   stress signals MS PATH       SIGALRM every 50 us for MS ms; the handler does open/fstat/close,
 *                                main stats PATH; prints handler runs and main stats
 *   stress closefds PATH         close_range(3, ~0), dup2 over 0..2, then opens: prints the fds
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static const char *path;
static long n;
static volatile int stop;
static long per_thread[64];

static void *stat_n(void *arg)
{
    struct stat st;
    for (long i = 0; i < n; i++)
        stat(path, &st);
    (void)arg;
    return NULL;
}

static void *stat_until_stop(void *arg)
{
    struct stat st;
    long k = 0;
    while (!stop) {
        stat(path, &st);
        k++;
    }
    per_thread[(long)arg] = k;
    return NULL;
}

static volatile sig_atomic_t handler_runs;
static const char *handler_path;

static void on_alarm(int sig)
{
    (void)sig;
    int fd = open(handler_path, O_RDONLY);
    if (fd >= 0) {
        struct stat st;
        fstat(fd, &st);
        close(fd);
    }
    handler_runs++;
}

static int wait_all(void)
{
    int status, bad = 0;
    while (wait(&status) > 0)
        bad += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *mode = argv[1];
    path = argv[argc - 1];
    struct stat st;
    if (!strcmp(mode, "threads")) {
        n = atol(argv[2]);
        int t = atoi(argv[3]);
        pthread_t th[64];
        for (int i = 0; i < t; i++)
            pthread_create(&th[i], NULL, stat_n, NULL);
        for (int i = 0; i < t; i++)
            pthread_join(th[i], NULL);
        printf("%ld\n", n * t);
    } else if (!strcmp(mode, "forkstorm")) {
        int k = atoi(argv[2]), t = atoi(argv[3]);
        pthread_t th[64];
        for (long i = 0; i < t; i++)
            pthread_create(&th[i], NULL, stat_until_stop, (void *)i);
        for (int i = 0; i < k; i++) {
            pid_t p = fork();
            if (p == 0) {
                for (int j = 0; j < 10; j++)
                    stat(path, &st);
                _exit(0);
            }
        }
        int bad = wait_all();
        stop = 1;
        long total = 0;
        for (int i = 0; i < t; i++) {
            pthread_join(th[i], NULL);
            total += per_thread[i];
        }
        printf("%ld %d\n", total, k * 10);
        return bad != 0;
    } else if (!strcmp(mode, "chain")) {
        int depth = atoi(argv[2]);
        stat(path, &st);
        if (depth > 0) {
            char d[16];
            snprintf(d, sizeof d, "%d", depth - 1);
            execl("/proc/self/exe", "stress", "chain", d, path, (char *)NULL);
            return 3;
        }
    } else if (!strcmp(mode, "spawn") || !strcmp(mode, "vfork")) {
        int k = atoi(argv[2]);
        char self[4096];
        ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
        if (len < 0)
            return 4;
        self[len] = '\0';
        char *args[] = {"stress", "chain", "0", (char *)path, NULL};
        for (int i = 0; i < k; i++) {
            pid_t p;
            if (!strcmp(mode, "spawn")) {
                if (posix_spawn(&p, self, NULL, NULL, args, environ) != 0)
                    return 5;
            } else {
                p = vfork();
                if (p == 0) {
                    execve(self, args, environ);
                    _exit(127);
                }
            }
        }
        int bad = wait_all();
        printf("%d\n", k);
        return bad != 0;
    } else if (!strcmp(mode, "signals")) {
        handler_path = path;
        struct sigaction sa = {0};
        sa.sa_handler = on_alarm;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGALRM, &sa, NULL);
        struct itimerval it = {{0, 50}, {0, 50}};
        setitimer(ITIMER_REAL, &it, NULL);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        long main_stats = 0, ms = atol(argv[2]);
        do {
            stat(path, &st);
            main_stats++;
            clock_gettime(CLOCK_MONOTONIC, &t1);
        } while ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < ms);
        struct itimerval off = {{0, 0}, {0, 0}};
        setitimer(ITIMER_REAL, &off, NULL);
        printf("%d %ld\n", (int)handler_runs, main_stats);
    } else if (!strcmp(mode, "closefds")) {
        syscall(436 /* close_range */, 3, ~0u, 0);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        int a = open(path, O_RDONLY);
        int b = open(path, O_RDONLY);
        printf("%d %d %d\n", null, a, b);
    }
    return 0;
}
