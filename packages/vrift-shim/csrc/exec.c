/*
 * exec.c — exec and spawn calls, and the programs the shim cannot follow.
 *
 * Every exec attempt is counted as op "exec" before it is made (a
 * successful one never returns), and its failure, if it returns, as an
 * error with its errno. The execvp family searches PATH here, one
 * counted execve per probe, because glibc's own search calls its
 * internal execve, which no wrapper sees: a build's failed PATH probes
 * are then counted as the kernel sees them.
 *
 * Before the attempt, the program it names is classified (counting
 * sessions only): a new image runs without vrift when it is statically
 * linked (no PT_INTERP: LD_PRELOAD does not apply), set-user/group-ID
 * for another user (the loader ignores LD_PRELOAD), or when the
 * environment it gets no longer preloads the shim or turns counting on
 * (env -i, sudo). Such a program is counted per reason (misc counters)
 * and named in the hot-path table (an entry flagged VRIFT_HOT_UNSEEN),
 * so `show` can say what ran unseen. Raw syscalls only; errno untouched.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

#include "exec.h"
#include "rawsys.h"
#include "shim.h"

/* The environment variable `name` (with its '=') in envp: first match,
 * like getenv. */
static const char *env_in(char *const envp[], const char *name, size_t len)
{
    for (char *const *e = envp; e && *e; e++)
        if (strncmp(*e, name, len) == 0)
            return *e + len;
    return NULL;
}

/* Will the new image, given envp, load the shim and count? (The rule of
 * session.c's constructor: VRIFT_PROFILE=1, or VRIFT_PROFILE_PATH set
 * and VRIFT_PROFILE not 0/false/no/off.) */
static int env_follows(char *const envp[])
{
    const char *pre = env_in(envp, "LD_PRELOAD=", 11);
    if (!pre || !strstr(pre, "libvrift_shim"))
        return 0;
    int flag = vr_env_flag(env_in(envp, "VRIFT_PROFILE=", 14));
    const char *path = env_in(envp, "VRIFT_PROFILE_PATH=", 19);
    return flag > 0 || (flag < 0 && path && *path);
}

/* Why the program open on `fd` would run unseen (VRIFT_HOT_UNSEEN_* bits),
 * 0 if it would not, or if that cannot be told. */
static uint64_t program_unseen_fd(int fd)
{
    struct stat st;
    if (SYS2(SYS_fstat, fd, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    uint64_t why = 0;
    if (((st.st_mode & S_ISUID) && st.st_uid != (uid_t)SYS0(SYS_geteuid)) ||
        ((st.st_mode & S_ISGID) && st.st_gid != (gid_t)SYS0(SYS_getegid)))
        why |= VRIFT_HOT_UNSEEN_SETID;
    struct statfs sf; /* set-ID bits mean nothing on a nosuid mount */
    if (why && SYS2(SYS_fstatfs, fd, &sf) == 0 && (sf.f_flags & ST_NOSUID))
        why = 0;
    Elf64_Ehdr eh;
    if (vr_sys(SYS_pread64, fd, (long)&eh, sizeof eh, 0, 0, 0) != (long)sizeof eh ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_phentsize != sizeof(Elf64_Phdr))
        return why; /* a script (its interpreter is what runs) or not ELF64 */
    Elf64_Phdr ph[16];
    for (unsigned i = 0; i < eh.e_phnum; i += 16) {
        unsigned n = eh.e_phnum - i < 16 ? eh.e_phnum - i : 16;
        long want = (long)(n * sizeof ph[0]);
        if (vr_sys(SYS_pread64, fd, (long)ph, want, (long)(eh.e_phoff + i * sizeof ph[0]), 0, 0) != want)
            return why;
        for (unsigned k = 0; k < n; k++)
            if (ph[k].p_type == PT_INTERP)
                return why;
    }
    return why | VRIFT_HOT_UNSEEN_STATIC;
}

/* The same for the program (dirfd, path) with execveat's flags. */
static uint64_t program_unseen(int dirfd, const char *path, int flags)
{
    if ((flags & AT_EMPTY_PATH) && path && !path[0])
        return program_unseen_fd(dirfd);
    int oflags = O_RDONLY | O_CLOEXEC | O_NOCTTY | ((flags & AT_SYMLINK_NOFOLLOW) ? O_NOFOLLOW : 0);
    long fd = SYS4(SYS_openat, dirfd, path, oflags, 0);
    if (fd < 0)
        return 0; /* missing (the exec fails too), or execute-only: cannot tell */
    uint64_t why = program_unseen_fd((int)fd);
    SYS1(SYS_close, fd);
    return why;
}

static const enum vrift_misc misc_of_reason[] = {
    VRIFT_MISC_UNSEEN_STATIC, VRIFT_MISC_UNSEEN_SETID, VRIFT_MISC_UNSEEN_NO_PRELOAD};
static const uint64_t reason_bits[] = {VRIFT_HOT_UNSEEN_STATIC, VRIFT_HOT_UNSEEN_SETID,
                                       VRIFT_HOT_UNSEEN_NO_PRELOAD};

void vr_exec_attempt(uint64_t ctl, int dirfd, const char *path, int flags, char *const argv[],
                     char *const envp[], int in_place, struct vr_exec_note *note)
{
    note->why = 0;
    note->hot = -1;
    note->ghost = 0;
    note->start_realtime_ns = note->start_clock = 0;
    if (!VR_MODE(ctl))
        return;
    vr_record_untimed(VRIFT_OP_EXEC, ctl, 0, 0);
    if (in_place)
        vr_life_before_end(); /* the loader's last figures, before the image is replaced */
    if (!path)
        return;
    uint64_t why = program_unseen(dirfd, path, flags);
    if (!env_follows(envp)) {
        /* only a program that exists is noted (a failing PATH probe is not) */
        if (why || ((flags & AT_EMPTY_PATH) && !path[0]) || SYS4(SYS_faccessat, dirfd, path, X_OK, 0) == 0)
            why |= VRIFT_HOT_UNSEEN_NO_PRELOAD;
    }
    if (!why)
        return;
    for (size_t i = 0; i < sizeof reason_bits / sizeof reason_bits[0]; i++)
        if (why & reason_bits[i])
            vr_add_misc(ctl, misc_of_reason[i], 1);
    /* fexecve and execveat(fd, "", AT_EMPTY_PATH): the program's name is the fd's */
    char named[PATH_MAX];
    if (!path[0] && (flags & AT_EMPTY_PATH) && vr_fd_path(dirfd, named, sizeof named)) {
        path = named;
        dirfd = AT_FDCWD;
    }
    note->why = why;
    note->hot = vr_hot_note_unseen(dirfd, path, why);
    if (in_place) /* this process becomes the program: its ghost is this pid */
        note->ghost = vr_ghost_begin((uint32_t)SYS0(SYS_getpid), (uint32_t)SYS0(SYS_getppid),
                                     path[0] ? path : "(fd)", argv, note->hot, 0, 0);
    else { /* a spawn: its child starts now, the ghost once its pid is known */
        note->start_realtime_ns = vr_life_realtime_now();
        note->start_clock = vr_life_clock_now();
    }
}

void vr_exec_failed(uint64_t ctl, int err, const struct vr_exec_note *note)
{
    vr_ghost_cancel(note->ghost);
    if (!VR_MODE(ctl))
        return;
    vr_add_errors(ctl, VRIFT_OP_EXEC, err);
    /* It never ran: take its unseen run back (in the row it was counted in,
     * unless a reset zeroed that meanwhile: `ctl` is from before the call). */
    if (note->why && VR_GEN(vr_control()) == VR_GEN(ctl)) {
        for (size_t i = 0; i < sizeof reason_bits / sizeof reason_bits[0]; i++)
            if (note->why & reason_bits[i])
                vr_add_misc(ctl, misc_of_reason[i], (uint64_t)-1);
        vr_hot_unnote_unseen(note->hot);
    }
}

void vr_exec_spawned(pid_t pid, const char *path, char *const argv[], const struct vr_exec_note *note)
{
    if (note->why && pid > 0 && path)
        vr_ghost_begin((uint32_t)pid, (uint32_t)SYS0(SYS_getpid), path, argv, note->hot, note->start_realtime_ns,
                       note->start_clock);
}

/* glibc's __execvpe_common (posix/execvpe.c), with each probe a counted
 * execve: the same PATH rule (unset: "/bin:/usr/bin"; an empty element
 * is the working directory), the same errors that move on to the next
 * element, EACCES if any probe met it, and ENOEXEC run by /bin/sh.
 * Stack only: this runs in vfork children. */
static void script_execute(const char *file, char *const argv[], char *const envp[])
{
    int argc = 0;
    while (argv[argc])
        argc++;
    char *new_argv[argc > 1 ? argc + 2 : 3];
    new_argv[0] = (char *)"/bin/sh";
    new_argv[1] = (char *)file;
    if (argc > 1)
        memcpy(new_argv + 2, argv + 1, (size_t)argc * sizeof(char *));
    else
        new_argv[2] = NULL;
    execve(new_argv[0], new_argv, envp);
}

int vr_execvpe_search(const char *file, char *const argv[], char *const envp[], int exec_script)
{
    if (*file == '\0') {
        errno = ENOENT;
        return -1;
    }
    if (strchr(file, '/')) {
        execve(file, argv, envp);
        if (errno == ENOEXEC && exec_script)
            script_execute(file, argv, envp);
        return -1;
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin";
    size_t file_len = strnlen(file, NAME_MAX) + 1;
    size_t path_len = strnlen(path, PATH_MAX - 1) + 1;
    if (file_len > NAME_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    char buffer[path_len + file_len + 1];
    int got_eacces = 0;
    for (const char *p = path, *subp;; p = subp) {
        subp = strchrnul(p, ':');
        if ((size_t)(subp - p) >= path_len) { /* longer than PATH_MAX (glibc's rule, to the letter) */
            if (*subp == '\0')
                break;
            continue;
        }
        char *pend = mempcpy(buffer, p, (size_t)(subp - p));
        *pend = '/';
        memcpy(pend + (p < subp), file, file_len);
        execve(buffer, argv, envp);
        if (errno == ENOEXEC && exec_script)
            script_execute(buffer, argv, envp);
        switch (errno) {
        case EACCES:
            got_eacces = 1;
            /* fall through */
        case ENOENT:
        case ESTALE:
        case ENOTDIR:
        case ENODEV:
        case EHOSTUNREACH:
        case ETIMEDOUT:
            break;
        default:
            return -1;
        }
        if (*subp++ == '\0')
            break;
    }
    if (got_eacces)
        errno = EACCES;
    return -1;
}

/* posix_spawnp's program, for classification: the first PATH element
 * where `file` is executable, the child's search done here with raw
 * faccessat. Its probes happen in the child, inside glibc, where no
 * wrapper sees them: each element the child will try and fail before it
 * (ENOENT, EACCES, ENOTDIR: glibc's search moves on) is counted here as a
 * failed exec with that errno, so posix_spawnp's PATH probes count like
 * execvp's. NULL if no element has it (all but the last probe are counted
 * here then; the last is the spawn's own call, failing). */
const char *vr_spawnp_program(uint64_t ctl, const char *file, char *buf, size_t size)
{
    if (!file || !*file || strchr(file, '/'))
        return file;
    const char *path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin";
    size_t flen = strlen(file);
    int pending = 0; /* errno of the last failed probe, not yet counted */
    for (const char *p = path, *subp;; p = subp + 1) {
        subp = strchrnul(p, ':');
        size_t dlen = (size_t)(subp - p);
        if (dlen + flen + 2 <= size) {
            memcpy(buf, p, dlen);
            size_t at = dlen;
            if (dlen)
                buf[at++] = '/';
            memcpy(buf + at, file, flen + 1);
            long rc = SYS4(SYS_faccessat, AT_FDCWD, buf, X_OK, 0);
            if (pending)
                vr_record_untimed(VRIFT_OP_EXEC, ctl, 1, pending);
            if (rc == 0)
                return buf;
            pending = (int)-rc;
        }
        if (!*subp)
            return NULL;
    }
}
