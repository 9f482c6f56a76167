/* dlopen_list LIB...: dlopen each LIB (RTLD_NOW) and print whether it
 * loaded; then one stat("/") so that the process counts something. Built
 * by tests/shim/test_loader_audit.py with a DT_RUNPATH of its own. */
#include <dlfcn.h>
#include <stdio.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
    struct stat st;
    for (int i = 1; i < argc; i++)
        printf("%s %s\n", argv[i], dlopen(argv[i], RTLD_NOW) ? "loaded" : "missing");
    return stat("/", &st) == 0 ? 0 : 1;
}
