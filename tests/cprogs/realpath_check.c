/* realpath_check: for each argument print what realpath() returned, the
 * errno, and (on failure) the partial path left in the caller's buffer.
 * Run with and without profiling: the shim's counted realpath must print
 * exactly what glibc's does. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        char buf[PATH_MAX];
        memset(buf, 'x', sizeof buf);
        buf[sizeof buf - 1] = '\0';
        errno = 0;
        char *r = realpath(argv[i], buf);
        int e = errno;
        char *m = realpath(argv[i], NULL);
        int e2 = errno;
        printf("%s\t%s\terrno=%d\tbuf=%.200s\tmalloc=%s\terrno2=%d\n", argv[i], r ? r : "(null)", e,
               buf, m ? m : "(null)", e2);
        free(m);
    }
    return 0;
}
