/*
 * vrift_manifest.h — the binary manifest of an ingested tree (a "VRMF" file).
 *
 * Written by vrift_vfs (Python, through cffi over this header), mapped
 * read-only by the shim, which serves metadata calls from it. Like
 * vrift_profile.h it stays inside the C subset cffi parses.
 *
 *   [struct vrift_manifest_header]
 *   [struct vrift_manifest_entry x entry_count]   sorted by path
 *   [uint32_t index[index_slots]]                 open addressing on path_hash:
 *                                                 entry number + 1, 0 = empty
 *   [uint64_t bloom[bloom_bits / 64]]             bloom filter of path hashes
 *   [strings]                                     paths and symlink targets
 *
 * Paths are relative to the ingested root, without a leading '/'; the
 * root itself is "". The path hash is vrift's 64-bit hash of the path
 * bytes (csrc/shim.h vr_hash_bytes and vrift_vfs/pathhash.py, checked equal by tests).
 * Each entry keeps the statx record the original file returned (with
 * AT_SYMLINK_NOFOLLOW): that is what the shim serves, so a projected
 * tree looks exactly like the tree that was ingested.
 */
#ifndef VRIFT_MANIFEST_H
#define VRIFT_MANIFEST_H
#include <stdint.h>

#include "vrift_common.h"

#define VRIFT_MANIFEST_MAGIC 0x464D5256
#define VRIFT_MANIFEST_MAJOR 1
#define VRIFT_MANIFEST_MINOR 0
#define VRIFT_BLOB_HASH_LEN 32
#define VRIFT_MANIFEST_NAME_LEN 64
#define VRIFT_BLOOM_HASHES 3

/* Blobs: store/blobs/<2 hex>/<62 hex>, mode 0444; an executable file's
 * content is a separate blob with this suffix, mode 0555 (execve checks
 * the inode). Every blob's atime and mtime are this seal (2001-09-09,
 * nsec 0): with the store's st_dev it identifies a blob inode wherever a
 * program reaches it, and any write through a hard link breaks it. */
#define VRIFT_BLOB_EXEC_SUFFIX ".x"
#define VRIFT_BLOB_SEAL_SEC 1000000000

enum vrift_entry_type {
    VRIFT_ENTRY_FILE = 1,
    VRIFT_ENTRY_DIR = 2,
    VRIFT_ENTRY_SYMLINK = 3
};

/* Same layout as the kernel's struct statx (256 bytes). */
struct vrift_statx_timestamp {
    int64_t tv_sec;
    uint32_t tv_nsec;
    int32_t ts_reserved;
};

struct vrift_statx {
    uint32_t stx_mask;
    uint32_t stx_blksize;
    uint64_t stx_attributes;
    uint32_t stx_nlink;
    uint32_t stx_uid;
    uint32_t stx_gid;
    uint16_t stx_mode;
    uint16_t stx_spare0;
    uint64_t stx_ino;
    uint64_t stx_size;
    uint64_t stx_blocks;
    uint64_t stx_attributes_mask;
    struct vrift_statx_timestamp stx_atime;
    struct vrift_statx_timestamp stx_btime;
    struct vrift_statx_timestamp stx_ctime;
    struct vrift_statx_timestamp stx_mtime;
    uint32_t stx_rdev_major;
    uint32_t stx_rdev_minor;
    uint32_t stx_dev_major;
    uint32_t stx_dev_minor;
    uint64_t stx_mnt_id;
    uint32_t stx_dio_mem_align;
    uint32_t stx_dio_offset_align;
    uint64_t stx_spare3[12];
};

struct vrift_manifest_header {
    uint32_t magic;             /* VRIFT_MANIFEST_MAGIC */
    uint32_t byte_order;        /* VRIFT_BYTE_ORDER_MARK (vrift_common.h) */
    uint16_t major;
    uint16_t minor;
    uint32_t header_len;
    uint64_t file_size;

    uint64_t entry_count;
    uint64_t entries_offset;
    uint64_t index_offset;
    uint64_t index_slots;       /* a power of two, at least 2 x entry_count */
    uint64_t bloom_offset;
    uint64_t bloom_bits;        /* a power of two */
    uint64_t strings_offset;
    uint64_t strings_size;

    uint64_t original_bytes;    /* sum of the regular files' sizes */
    uint64_t unique_bytes;      /* sum of the distinct contents' sizes */
    uint64_t file_count;
    uint64_t dir_count;
    uint64_t symlink_count;
    uint64_t created_realtime_ns;
    char name[VRIFT_MANIFEST_NAME_LEN];
    uint64_t reserved[8];
};

struct vrift_manifest_entry {
    uint64_t path_hash;
    uint32_t path_off;          /* into the strings */
    uint32_t path_len;
    uint32_t type;              /* enum vrift_entry_type */
    uint32_t target_len;        /* symlink target, in the strings */
    uint32_t target_off;
    uint32_t entry_reserved0;
    uint8_t blob[VRIFT_BLOB_HASH_LEN]; /* BLAKE3 of a file's content */
    struct vrift_statx st;      /* what the original returned */
};

#endif
