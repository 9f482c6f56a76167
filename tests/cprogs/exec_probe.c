/* exec_probe: execvp/execlp FILE through the PATH given, and report the
 * errno when it fails (the exec family returns only then).
 * usage: exec_probe vp|lp|vpe PATH FILE [ARG] */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: exec_probe vp|lp|vpe PATH FILE [ARG]\n");
        return 2;
    }
    setenv("PATH", argv[2], 1);
    char *args[] = {argv[3], argc > 4 ? argv[4] : NULL, NULL};
    extern char **environ;
    if (strcmp(argv[1], "vp") == 0)
        execvp(argv[3], args);
    else if (strcmp(argv[1], "lp") == 0)
        execlp(argv[3], argv[3], args[1], (char *)NULL);
    else
        execvpe(argv[3], args, environ);
    printf("errno=%d\n", errno);
    return 1;
}
