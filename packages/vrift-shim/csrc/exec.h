/*
 * exec.h — what the exec wrappers (interpose.c) use from exec.c.
 */
#ifndef VRIFT_EXEC_H
#define VRIFT_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

/* What an exec attempt noted of its program: why it will run unseen (0:
 * it will be seen), its hot-path entry (-1: none), and the ghost slot
 * claimed for it (0: none). */
struct vr_exec_note {
    uint64_t why;
    long hot;
    uint32_t ghost;
    uint64_t start_realtime_ns;   /* a spawn's start, taken before the spawn */
    uint64_t start_clock;
};

/* Count an exec attempt of (dirfd, path) (execveat flags) about to be
 * made, and note the program if it will run unseen. `in_place`: this
 * process is about to become it (exec), so its ghost is claimed now; a
 * spawn claims it once the child's pid is known (vr_exec_spawned). */
void vr_exec_attempt(uint64_t ctl, int dirfd, const char *path, int flags, char *const argv[],
                     char *const envp[], int in_place, struct vr_exec_note *note)
    __attribute__((visibility("hidden")));
/* The attempt returned: count its failure (and drop its ghost). */
void vr_exec_failed(uint64_t ctl, int err, const struct vr_exec_note *note) __attribute__((visibility("hidden")));
/* posix_spawn(p) started `pid` running `path`: its ghost, if it runs unseen. */
void vr_exec_spawned(pid_t pid, const char *path, char *const argv[], const struct vr_exec_note *note)
    __attribute__((visibility("hidden")));
/* execvp/execvpe: glibc's PATH search, each probe a counted execve. */
int vr_execvpe_search(const char *file, char *const argv[], char *const envp[], int exec_script)
    __attribute__((visibility("hidden")));
/* posix_spawnp's program as its child will find it (in buf), for
 * classification; NULL if none is found. Counts the child's failed PATH
 * probes before it as failed exec calls. */
const char *vr_spawnp_program(uint64_t ctl, const char *file, char *buf, size_t size)
    __attribute__((visibility("hidden")));

#endif
