/*
 * vfs_track.c — which fds and DIR streams refer to projected entries.
 *
 * fstat on a tracked fd is served, openat relative to a tracked directory
 * fd is resolved inside the manifest, and readdir on a tracked stream gets
 * the served inode numbers. Duplicates follow dup/dup2/dup3/F_DUPFD; close
 * and close_range forget. Lock-free: a relaxed store per change.
 */
#define _GNU_SOURCE
#include "vfs_internal.h"

#define VR_FD_MAX 65536
#define VR_DIR_SLOTS 512

static uint32_t fd_ent[VR_FD_MAX]; /* vr_enc(proj, entry), 0 = untracked */
static struct {
    DIR *d;
    uint32_t ent;
} dir_tab[VR_DIR_SLOTS];

void vr_track_fd(int fd, int pi, uint32_t idx)
{
    if (fd >= 0 && fd < VR_FD_MAX)
        __atomic_store_n(&fd_ent[fd], vr_enc(pi, idx), __ATOMIC_RELAXED);
}

uint32_t vr_fd_lookup(int fd)
{
    return (fd >= 0 && fd < VR_FD_MAX) ? __atomic_load_n(&fd_ent[fd], __ATOMIC_RELAXED) : 0;
}

void vr_vfs_close(int fd)
{
    if (fd >= 0 && fd < VR_FD_MAX)
        __atomic_store_n(&fd_ent[fd], 0, __ATOMIC_RELAXED);
}

void vr_vfs_close_range(unsigned first, unsigned last)
{
    for (unsigned fd = first; fd <= last && fd < VR_FD_MAX; fd++)
        fd_ent[fd] = 0;
}

void vr_vfs_dup(int oldfd, int newfd)
{
    if (newfd >= 0 && newfd < VR_FD_MAX)
        __atomic_store_n(&fd_ent[newfd], vr_fd_lookup(oldfd), __ATOMIC_RELAXED);
}

static size_t dir_slot(DIR *d) { return ((uintptr_t)d >> 4) % VR_DIR_SLOTS; }

void vr_track_dir(DIR *d, uint32_t ent)
{
    size_t s = dir_slot(d);
    for (size_t i = 0; i < VR_DIR_SLOTS; i++) {
        size_t k = (s + i) % VR_DIR_SLOTS;
        DIR *expect = NULL;
        if (dir_tab[k].d == d ||
            __atomic_compare_exchange_n(&dir_tab[k].d, &expect, d, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            __atomic_store_n(&dir_tab[k].ent, ent, __ATOMIC_RELEASE);
            return;
        }
    }
}

uint32_t vr_dir_lookup(DIR *d)
{
    size_t s = dir_slot(d);
    for (size_t i = 0; i < VR_DIR_SLOTS; i++) {
        size_t k = (s + i) % VR_DIR_SLOTS;
        DIR *cur = __atomic_load_n(&dir_tab[k].d, __ATOMIC_ACQUIRE);
        if (cur == d)
            return __atomic_load_n(&dir_tab[k].ent, __ATOMIC_ACQUIRE);
        if (cur == NULL)
            return 0;
    }
    return 0;
}

void vr_vfs_closedir(DIR *d)
{
    size_t s = dir_slot(d);
    for (size_t i = 0; i < VR_DIR_SLOTS; i++) {
        size_t k = (s + i) % VR_DIR_SLOTS;
        if (dir_tab[k].d == d) {
            /* keep the key (probe chains stay intact), drop the meaning */
            __atomic_store_n(&dir_tab[k].ent, 0, __ATOMIC_RELEASE);
            return;
        }
        if (dir_tab[k].d == NULL)
            return;
    }
}
