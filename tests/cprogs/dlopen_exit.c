/* dlopen_exit HOW LIB...: dlopen each LIB (RTLD_NOW; dlmopen into a new
 * namespace with HOW "dlmopen"), one stat("/"), then end as HOW says:
 * "exit", "_exit" (no exit handlers, no destructors) or "dlmopen" (exit). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct stat st;
    int m = argc > 1 && strcmp(argv[1], "dlmopen") == 0;
    for (int i = 2; i < argc; i++)
        if (m)
            dlmopen(LM_ID_NEWLM, argv[i], RTLD_NOW);
        else
            dlopen(argv[i], RTLD_NOW);
    stat("/", &st);
    if (argc > 1 && strcmp(argv[1], "_exit") == 0)
        _exit(0);
    return 0;
}
