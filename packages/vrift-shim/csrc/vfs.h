/*
 * vfs.h — the VFS side of the shim: projections served from manifests.
 *
 * Every hook returns 1 when the VFS handled the call (result in *ret,
 * errno set as the real call would), 0 when the caller should go on with
 * the real function. All hooks are no-ops unless vr_vfs_count > 0, which
 * only `vrift run --vfs` (VRIFT_VFS) makes true.
 */
#ifndef VRIFT_VFS_H
#define VRIFT_VFS_H

#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "shim.h"

VR_HIDDEN extern int vr_vfs_count;

VR_HIDDEN void vr_vfs_init(const char *spec);

VR_HIDDEN int vr_vfs_stat(int dirfd, const char *path, int flags, struct stat *st, enum vrift_op op,
                          int *ret);
VR_HIDDEN int vr_vfs_fstat(int fd, struct stat *st, int *ret);
VR_HIDDEN int vr_vfs_statx(int dirfd, const char *path, int flags, unsigned mask, void *stx, int *ret);
VR_HIDDEN int vr_vfs_access(int dirfd, const char *path, int mode, int flags, int *ret);
VR_HIDDEN int vr_vfs_readlink(int dirfd, const char *path, char *buf, size_t n, ssize_t *ret);
VR_HIDDEN int vr_vfs_open(int dirfd, const char *path, int flags, mode_t mode, int *ret);
VR_HIDDEN FILE *vr_vfs_fopen(const char *path, const char *mode, FILE *(*real)(const char *, const char *),
                             int *handled);
VR_HIDDEN void vr_vfs_opendir(const char *path, DIR *d);
VR_HIDDEN void vr_vfs_fdopendir(int fd, DIR *d);
VR_HIDDEN void vr_vfs_fix_dirent(DIR *d, const char *name, ino_t *ino);
VR_HIDDEN void vr_vfs_closedir(DIR *d);
VR_HIDDEN void vr_vfs_close(int fd);
VR_HIDDEN void vr_vfs_close_range(unsigned first, unsigned last);
VR_HIDDEN void vr_vfs_dup(int oldfd, int newfd);

/* The object rule (vfs_cow.c). Does an open with these flags change the
 * file? Before a call that changes the inode (dirfd, path) reaches, copy
 * it out of the store if it is a blob (its data too, unless the call
 * truncates it: keep_data = 0): 0, or -1 with errno when the copy
 * failed (the call must then fail with it), or 1 when the call's own
 * path still reaches the blob (a /proc/self/fd link to a served fd) and
 * must be made on `redirect` (PATH_MAX bytes; NULL: fail with EROFS). */
VR_HIDDEN int vr_vfs_open_changes(int flags);
VR_HIDDEN int vr_vfs_before_change(int dirfd, const char *path, int nofollow, int keep_data, uint64_t ctl,
                                   char *redirect);
VR_HIDDEN void vr_vfs_before_create(int dirfd, const char *path);
/* For a call on an fd: 0 when the fd may be used, 1 when it refers to a
 * blob and the call must be made on `path` (the private copy) instead,
 * -1 with errno. */
VR_HIDDEN int vr_vfs_fd_change_path(int fd, char *path, size_t cap);
/* After a successful call that changes names (unlink, rename, mkdir,
 * rmdir, symlink, link target): never serve this name or its parent
 * again; `gone`: the name and everything below it disappear. */
VR_HIDDEN void vr_vfs_name_changed(int dirfd, const char *path, int gone);
/* Before rename: a projected file is made private first (returns 0). */
VR_HIDDEN int vr_vfs_before_rename(int dirfd, const char *path);
/* After a successful inode change by path or fd: stop serving that entry. */
VR_HIDDEN void vr_vfs_inode_changed(int dirfd, const char *path, int nofollow);
VR_HIDDEN void vr_vfs_fd_changed(int fd);
/* Before flock/fcntl locks: a blob fd moves to the private copy (0, or -1/errno). */
VR_HIDDEN int vr_vfs_before_lock(int fd);

#endif
