/*
 * vrift_vfs_state.h — the state of a projection, shared by vrift_vfs
 * (Python, which creates it) and the shim (which reads and updates it).
 * Like vrift_profile.h it stays inside the C subset cffi parses.
 *
 * Each projection is registered per user in the state directory's
 * projections/, under an ID derived from its root:
 *
 *   ID.proj    the descriptor: text, one absolute path a line, in the
 *              order of enum vrift_proj_line. The shim reads the first
 *              VRIFT_PROJ_SHIM_LINES lines and ignores the rest.
 *   ID.dirty   the dirty table: paths changed through the shim (copied on
 *              write, unlinked, renamed...), never served again.
 *
 * The dirty table is a struct vrift_dirty_header followed by `slots`
 * u64 entries, shared writable by every process of every session.
 * An entry is a path's key with flag bits: key = (h | 1) with the flag
 * bits cleared, h the path hash (vrift's 64-bit hash of the path relative
 * to the root, seeded like the manifest's); 0 is empty. A path's entry is
 * found by linear probing from key & (slots - 1), at most
 * VRIFT_DIRTY_PROBES entries; a writer that finds no room sets all_dirty
 * and the projection is served no more.
 */
#ifndef VRIFT_VFS_STATE_H
#define VRIFT_VFS_STATE_H
#include <stdint.h>

#define VRIFT_DIRTY_MAGIC 0x59545249445256 /* "VRDIRTY", little-endian */
#define VRIFT_DIRTY_SLOTS 65536            /* what vrift_vfs creates (any power of two reads) */
#define VRIFT_DIRTY_PROBES 64

/* Flag bits of an entry. No flag: a copy out of the store is running. */
#define VRIFT_DIRTY_DONE 0x8000000000000000   /* changed: never serve it again */
#define VRIFT_DIRTY_FAILED 0x4000000000000000 /* a copy failed: serve it, retry */
#define VRIFT_DIRTY_GONE 0x2000000000000000   /* renamed away or removed, with all below it */

struct vrift_dirty_header {
    uint64_t magic;             /* VRIFT_DIRTY_MAGIC */
    uint64_t slots;             /* entries after the header: a power of two */
    uint64_t all_dirty;         /* set when the table is full: serve nothing */
    uint64_t gone_marks;        /* entries marked GONE: 0 spares the walk up a path */
    uint64_t dirty_reserved[4]; /* the entries start on a cache line */
};

/* The lines of a descriptor, first line 0. */
enum vrift_proj_line {
    VRIFT_PROJ_LINE_ROOT = 0,      /* the projection's root (physical path) */
    VRIFT_PROJ_LINE_MANIFEST = 1,  /* the manifest version it is pinned to */
    VRIFT_PROJ_LINE_DIRTY = 2,     /* its dirty table */
    VRIFT_PROJ_LINE_STORE = 3,     /* the store root: blobs are STORE/blobs/ab/cdef... */
    VRIFT_PROJ_LINE_MECHANISM = 4, /* reflink, hardlink or copy (vrift_vfs only) */
    VRIFT_PROJ_LINES = 5,
    VRIFT_PROJ_SHIM_LINES = 4
};

#endif
