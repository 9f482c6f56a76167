/* errno_check: call wrapped functions in success and failure cases and
 * print each return value (normalised) and errno, including errno left
 * untouched on success. Output must be identical with and without the
 * shim. usage: errno_check DIR (an empty scratch directory) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHOW(label, expr)                                                      \
    do {                                                                       \
        errno = 4242;                                                          \
        long r_ = (long)(expr);                                                \
        printf("%-28s ret=%ld errno=%d\n", label, r_, errno);                  \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    if (chdir(argv[1]) != 0)
        return 2;
    struct stat st;
    char buf[256], longp[PATH_MAX + 100];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    int fd = open("f", O_CREAT | O_WRONLY, 0644);
    SHOW("write ok", write(fd, "hello", 5));
    SHOW("close ok", close(fd));
    symlink("f", "link");
    symlink("loop", "loop");
    SHOW("stat ok", stat("f", &st));
    SHOW("stat ENOENT", stat("missing", &st));
    SHOW("stat ENOTDIR", stat("f/x", &st));
    SHOW("stat ELOOP", stat("loop", &st));
    SHOW("stat ENAMETOOLONG", stat(longp, &st));
    SHOW("stat EFAULT", stat(NULL, &st));
    SHOW("lstat link ok", lstat("link", &st));
    SHOW("fstat EBADF", fstat(999, &st));
    SHOW("fstatat nofollow", fstatat(AT_FDCWD, "link", &st, AT_SYMLINK_NOFOLLOW));
    SHOW("fstatat EBADF", fstatat(999, "f", &st, 0));
    SHOW("access ok", access("f", R_OK));
    SHOW("access ENOENT", access("missing", F_OK));
    SHOW("open ENOENT", open("missing", O_RDONLY));
    SHOW("open EEXIST", open("f", O_CREAT | O_EXCL | O_WRONLY, 0600));
    SHOW("open EISDIR", open(".", O_WRONLY));
    SHOW("openat EBADF", openat(999, "f", O_RDONLY));
    fd = open("f", O_RDONLY);
    SHOW("read ok", read(fd, buf, sizeof buf));
    SHOW("read eof", read(fd, buf, sizeof buf));
    SHOW("pread ok", pread(fd, buf, 2, 1));
    SHOW("read EBADF", read(999, buf, 1));
    SHOW("write EBADF", write(fd, "x", 1));
    void *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    SHOW("mmap ok", m != MAP_FAILED);
    SHOW("munmap ok", munmap(m, 4096));
    SHOW("mmap EBADF", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 999, 0) == MAP_FAILED);
    SHOW("close ok", close(fd));
    SHOW("close EBADF", close(fd));
    SHOW("readlink ok", readlink("link", buf, sizeof buf));
    SHOW("readlink EINVAL", readlink("f", buf, sizeof buf));
    SHOW("fopen ENOENT", fopen("missing", "r") == NULL);
    FILE *f = fopen("f", "r");
    SHOW("fopen ok", f != NULL);
    SHOW("fclose ok", fclose(f));
    SHOW("opendir ENOTDIR", opendir("f") == NULL);
    DIR *d = opendir(".");
    int n = 0;
    errno = 4242;
    while (readdir(d))
        n++;
    printf("%-28s n=%d errno=%d\n", "readdir to end", n, errno);
    SHOW("closedir ok", closedir(d));
    SHOW("realpath ENOENT", realpath("missing/x", buf) == NULL);
    SHOW("realpath ok", realpath("link", NULL) != NULL);
    return 0;
}
