/* stat_forever: stat() PATH every millisecond until killed (live-control tests). */
#include <sys/stat.h>
#include <time.h>

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    struct stat st;
    struct timespec ms = {0, 1000000};
    for (;;) {
        stat(argv[1], &st);
        nanosleep(&ms, NULL);
    }
}
