/* stat_loop: stat() an existing path N times and lstat() a missing path M
 * times. Used by tests that assert exact counts. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: stat_loop EXISTING N MISSING M\n");
        return 2;
    }
    struct stat st;
    long n = atol(argv[2]), m = atol(argv[4]), ok = 0, fail = 0;
    for (long i = 0; i < n; i++)
        ok += stat(argv[1], &st) == 0;
    for (long i = 0; i < m; i++)
        fail += lstat(argv[3], &st) != 0;
    printf("%ld %ld\n", ok, fail);
    return 0;
}
