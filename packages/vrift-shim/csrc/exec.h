/*
 * exec.h — what the exec wrappers (interpose.c) use from exec.c.
 */
#ifndef VRIFT_EXEC_H
#define VRIFT_EXEC_H

#include <stddef.h>
#include <stdint.h>

/* Count an exec attempt of (dirfd, path) (execveat flags) about to be
 * made, and note the program if it will run unseen. */
void vr_exec_attempt(uint64_t ctl, int dirfd, const char *path, int flags, char *const envp[])
    __attribute__((visibility("hidden")));
/* The attempt returned: count its failure. */
void vr_exec_failed(uint64_t ctl, int err) __attribute__((visibility("hidden")));
/* execvp/execvpe: glibc's PATH search, each probe a counted execve. */
int vr_execvpe_search(const char *file, char *const argv[], char *const envp[], int exec_script)
    __attribute__((visibility("hidden")));
/* posix_spawnp's program as its child will find it (in buf), for
 * classification; NULL if none is found. */
const char *vr_spawnp_program(const char *file, char *buf, size_t size) __attribute__((visibility("hidden")));

#endif
