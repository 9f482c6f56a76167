/* fork_threads: CHILDREN forked children, each with THREADS threads that
 * stat() PATH N times; then exec STAT_LOOP for a grandchild that stats
 * PATH N times more. Checks that totals stay exact across fork, threads
 * and exec. usage: fork_threads PATH CHILDREN THREADS N STAT_LOOP */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *path;
static long n;

static void *worker(void *arg)
{
    (void)arg;
    struct stat st;
    for (long i = 0; i < n; i++)
        if (stat(path, &st) != 0)
            abort();
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: fork_threads PATH CHILDREN THREADS N STAT_LOOP\n");
        return 2;
    }
    path = argv[1];
    int children = atoi(argv[2]), threads = atoi(argv[3]);
    n = atol(argv[4]);
    for (int c = 0; c < children; c++) {
        pid_t pid = fork();
        if (pid < 0)
            return 1;
        if (pid == 0) {
            pthread_t t[64];
            for (int i = 0; i < threads; i++)
                pthread_create(&t[i], NULL, worker, NULL);
            for (int i = 0; i < threads; i++)
                pthread_join(t[i], NULL);
            _exit(0);
        }
    }
    pid_t g = fork();
    if (g == 0) {
        execl(argv[5], "stat_loop", path, argv[4], "/nonexistent-vrift", "0", (char *)NULL);
        _exit(127);
    }
    int status, failures = 0;
    while (wait(&status) > 0)
        failures += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return failures ? 1 : 0;
}
