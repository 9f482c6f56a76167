/*
 * vfs_internal.h — what the VFS files of the shim share (not an API).
 *
 *   vfs_attach.c   reading projection descriptors, mapping manifests and
 *                  dirty tables, registering projections in the session
 *   vfs_track.c    fds and DIR streams opened on projected directories/files
 *   vfs_lookup.c   (dirfd, path) -> manifest entry, the way the kernel
 *                  walks it (symlinks, "..", trailing '/'), and the dirty table
 *   vfs_serve.c    answering stat/statx/access/readlink/open/readdir
 *   vfs_cow.c      the object rule: before a change, copy a store blob out
 */
#ifndef VRIFT_VFS_INTERNAL_H
#define VRIFT_VFS_INTERNAL_H

#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>

#include "vfs.h"
#include "vrift_manifest.h"
#include "vrift_vfs_state.h"

#define VR_MAX_PROJ 4

struct vr_proj {
    char root[PATH_MAX];
    size_t root_len;
    char store[PATH_MAX]; /* store root: blobs live in store/blobs/ab/cdef... */
    size_t store_len;
    uint64_t id;
    const struct vrift_manifest_header *m; /* NULL: protect-only (nothing served) */
    const struct vrift_manifest_entry *entries;
    const uint32_t *index;
    const uint64_t *bloom;
    const char *strings;
    struct vrift_dirty_header *dirty_head; /* the dirty table (vrift_vfs_state.h) */
    uint64_t *dirty;                       /* its entries */
    uint64_t dirty_slots;
    dev_t store_dev; /* st_dev of the store's blobs (0 until first needed) */
};

VR_HIDDEN extern struct vr_proj vr_projs[VR_MAX_PROJ];
VR_HIDDEN extern uid_t vr_uid, vr_euid;
VR_HIDDEN extern gid_t vr_gid, vr_egid;

/* ---- tracking (vfs_track.c) ---- */

/* A tracked fd or DIR stream names (projection, entry): encoded in 32 bits. */
static inline uint32_t vr_enc(int pi, uint32_t idx) { return (((uint32_t)pi << 28) | idx) + 1; }
static inline int vr_dec_proj(uint32_t v) { return (int)((v - 1) >> 28); }
static inline uint32_t vr_dec_idx(uint32_t v) { return (v - 1) & 0x0FFFFFFFu; }

VR_HIDDEN void vr_track_fd(int fd, int pi, uint32_t idx);
VR_HIDDEN uint32_t vr_fd_lookup(int fd);
VR_HIDDEN void vr_track_dir(DIR *d, uint32_t ent);
VR_HIDDEN uint32_t vr_dir_lookup(DIR *d);

/* ---- the dirty table (vfs_lookup.c; its format: vrift_vfs_state.h) ----
 * One slot per changed path: key | flags. DONE: changed, never serve it
 * again; FAILED: a copy failed (serve, retry); GONE: renamed away or
 * removed, and so is everything below it; no flag: a copy is running. */
#define VR_DIRTY_DONE ((uint64_t)VRIFT_DIRTY_DONE)
#define VR_DIRTY_FAILED ((uint64_t)VRIFT_DIRTY_FAILED)
#define VR_DIRTY_GONE ((uint64_t)VRIFT_DIRTY_GONE)
#define VR_DIRTY_FLAGS (VR_DIRTY_DONE | VR_DIRTY_FAILED | VR_DIRTY_GONE)

static inline uint64_t vr_dirty_key(uint64_t h) { return (h | 1) & ~VR_DIRTY_FLAGS; }
VR_HIDDEN uint64_t vr_dirty_flags(struct vr_proj *p, uint64_t h);
VR_HIDDEN uint64_t *vr_dirty_claim(struct vr_proj *p, uint64_t h, uint64_t flags);

/* ---- projections this process does not serve (vfs_attach.c) ---- */
VR_HIDDEN int vr_attach_other(const char *where, size_t wl, struct vr_proj *out);
VR_HIDDEN void vr_detach(struct vr_proj *p);

/* ---- lookup (vfs_lookup.c) ---- */

#define VR_FOLLOW 1  /* follow a symlink in the last component */
#define VR_DIRTY_OK 2 /* also return a changed entry (never a gone one): a directory to track */

struct vr_hit {
    int pi;
    uint32_t idx;
    uint64_t hash;
    const struct vrift_manifest_entry *e;
    char rel[PATH_MAX];
    size_t rel_len;
};

static inline const char *vr_entry_path(const struct vr_proj *p, const struct vrift_manifest_entry *e)
{
    return p->strings + e->path_off;
}

VR_HIDDEN int64_t vr_index_find(const struct vr_proj *p, const char *rel, size_t n, uint64_t h);
VR_HIDDEN int vr_lookup(int dirfd, const char *path, int flags, uint64_t ctl, struct vr_hit *out);
VR_HIDDEN int vr_projection_of(const char *abs, size_t len);
VR_HIDDEN int vr_abs_path(const struct vr_proj *p, const char *rel, size_t rel_len, char *out, size_t cap);
VR_HIDDEN int vr_blob_path(const struct vr_proj *p, const struct vrift_manifest_entry *e, char *out, size_t cap);

#endif
