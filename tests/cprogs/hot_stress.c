/* hot_stress: CHILDREN forked processes x THREADS threads each stat()
 * every one of the paths DIR/p0 .. DIR/p{PATHS-1}, ROUNDS times.
 * Exercises the shared hot-path table under concurrent writers.
 * usage: hot_stress DIR PATHS ROUNDS CHILDREN THREADS */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *dir;
static int paths, rounds;

static void *worker(void *arg)
{
    (void)arg;
    char p[4096];
    struct stat st;
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < paths; i++) {
            snprintf(p, sizeof p, "%s/p%d", dir, i);
            stat(p, &st);
        }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 6)
        return 2;
    dir = argv[1];
    paths = atoi(argv[2]);
    rounds = atoi(argv[3]);
    int children = atoi(argv[4]), threads = atoi(argv[5]);
    for (int c = 0; c < children; c++) {
        if (fork() == 0) {
            pthread_t t[64];
            for (int i = 0; i < threads; i++)
                pthread_create(&t[i], NULL, worker, NULL);
            for (int i = 0; i < threads; i++)
                pthread_join(t[i], NULL);
            _exit(0);
        }
    }
    int status, bad = 0;
    while (wait(&status) > 0)
        bad += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return bad != 0;
}
