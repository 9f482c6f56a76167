/* vfork_exit: a vfork child that ends with _exit(7) while running in its
 * parent's memory, then the parent's own exit status (argv[1]). The
 * shim's _exit wrapper must end neither the parent's slot nor its status. */
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct stat st;
    stat("/", &st); /* the parent claims its slot */
    pid_t pid = vfork();
    if (pid == 0)
        _exit(7);
    int status = 0;
    waitpid(pid, &status, 0);
    stat("/", &st);
    return !WIFEXITED(status) || WEXITSTATUS(status) != 7 ? 100 : (argc > 1 ? atoi(argv[1]) : 0);
}
