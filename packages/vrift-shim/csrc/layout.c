/*
 * layout.c — how a new session file is laid out and its self-describing
 * field table written. The Python writer (vrift_profile.writer) follows
 * the same rules; tests/profile_core/test_vectors.py proves both produce
 * byte-identical files.
 */
#include <string.h>

#include "shim.h"

static const char *const op_names[VRIFT_OP_COUNT] = {
    [VRIFT_OP_STAT] = "stat",         [VRIFT_OP_FSTAT] = "fstat",
    [VRIFT_OP_LSTAT] = "lstat",       [VRIFT_OP_STATX] = "statx",
    [VRIFT_OP_ACCESS] = "access",     [VRIFT_OP_OPEN] = "open",
    [VRIFT_OP_CLOSE] = "close",       [VRIFT_OP_READ] = "read",
    [VRIFT_OP_WRITE] = "write",       [VRIFT_OP_MMAP] = "mmap",
    [VRIFT_OP_MUNMAP] = "munmap",     [VRIFT_OP_OPENDIR] = "opendir",
    [VRIFT_OP_READDIR] = "readdir",   [VRIFT_OP_CLOSEDIR] = "closedir",
    [VRIFT_OP_READLINK] = "readlink", [VRIFT_OP_REALPATH] = "realpath",
    [VRIFT_OP_DLOPEN] = "dlopen",     [VRIFT_OP_EXEC] = "exec",
};

static const struct {
    const char *name;
    uint16_t unit;
} misc_fields[VRIFT_MISC_COUNT] = {
    [VRIFT_MISC_BYTES_READ] = {"bytes_read", VRIFT_UNITOF_BYTES_READ},
    [VRIFT_MISC_BYTES_WRITTEN] = {"bytes_written", VRIFT_UNITOF_BYTES_WRITTEN},
    [VRIFT_MISC_VFS_HANDLED] = {"vfs_handled", VRIFT_UNITOF_VFS_HANDLED},
    [VRIFT_MISC_VFS_PASSTHROUGH] = {"vfs_passthrough", VRIFT_UNITOF_VFS_PASSTHROUGH},
    [VRIFT_MISC_MANIFEST_HITS] = {"manifest_hits", VRIFT_UNITOF_MANIFEST_HITS},
    [VRIFT_MISC_MANIFEST_MISSES] = {"manifest_misses", VRIFT_UNITOF_MANIFEST_MISSES},
    [VRIFT_MISC_BLOOM_REJECTS] = {"bloom_rejects", VRIFT_UNITOF_BLOOM_REJECTS},
    [VRIFT_MISC_CAS_HITS] = {"cas_hits", VRIFT_UNITOF_CAS_HITS},
    [VRIFT_MISC_CAS_MISSES] = {"cas_misses", VRIFT_UNITOF_CAS_MISSES},
    [VRIFT_MISC_COW_COPIES] = {"cow_copies", VRIFT_UNITOF_COW_COPIES},
    [VRIFT_MISC_COW_BYTES] = {"cow_bytes", VRIFT_UNITOF_COW_BYTES},
    [VRIFT_MISC_VFS_SERVED_CALLS_STAT] = {"vfs_served_calls_stat", VRIFT_UNITOF_VFS_SERVED_CALLS_STAT},
    [VRIFT_MISC_VFS_SERVED_NS_STAT] = {"vfs_served_ns_stat", VRIFT_UNITOF_VFS_SERVED_NS_STAT},
    [VRIFT_MISC_VFS_SERVED_CALLS_LSTAT] = {"vfs_served_calls_lstat", VRIFT_UNITOF_VFS_SERVED_CALLS_LSTAT},
    [VRIFT_MISC_VFS_SERVED_NS_LSTAT] = {"vfs_served_ns_lstat", VRIFT_UNITOF_VFS_SERVED_NS_LSTAT},
    [VRIFT_MISC_VFS_SERVED_CALLS_FSTAT] = {"vfs_served_calls_fstat", VRIFT_UNITOF_VFS_SERVED_CALLS_FSTAT},
    [VRIFT_MISC_VFS_SERVED_NS_FSTAT] = {"vfs_served_ns_fstat", VRIFT_UNITOF_VFS_SERVED_NS_FSTAT},
    [VRIFT_MISC_VFS_SERVED_CALLS_STATX] = {"vfs_served_calls_statx", VRIFT_UNITOF_VFS_SERVED_CALLS_STATX},
    [VRIFT_MISC_VFS_SERVED_NS_STATX] = {"vfs_served_ns_statx", VRIFT_UNITOF_VFS_SERVED_NS_STATX},
    [VRIFT_MISC_VFS_SERVED_CALLS_ACCESS] = {"vfs_served_calls_access", VRIFT_UNITOF_VFS_SERVED_CALLS_ACCESS},
    [VRIFT_MISC_VFS_SERVED_NS_ACCESS] = {"vfs_served_ns_access", VRIFT_UNITOF_VFS_SERVED_NS_ACCESS},
    [VRIFT_MISC_VFS_SERVED_CALLS_READLINK] = {"vfs_served_calls_readlink", VRIFT_UNITOF_VFS_SERVED_CALLS_READLINK},
    [VRIFT_MISC_VFS_SERVED_NS_READLINK] = {"vfs_served_ns_readlink", VRIFT_UNITOF_VFS_SERVED_NS_READLINK},
    [VRIFT_MISC_VFS_SHADOW_CALLS_STAT] = {"vfs_shadow_calls_stat", VRIFT_UNITOF_VFS_SHADOW_CALLS_STAT},
    [VRIFT_MISC_VFS_SHADOW_NS_STAT] = {"vfs_shadow_ns_stat", VRIFT_UNITOF_VFS_SHADOW_NS_STAT},
    [VRIFT_MISC_VFS_SHADOW_CALLS_LSTAT] = {"vfs_shadow_calls_lstat", VRIFT_UNITOF_VFS_SHADOW_CALLS_LSTAT},
    [VRIFT_MISC_VFS_SHADOW_NS_LSTAT] = {"vfs_shadow_ns_lstat", VRIFT_UNITOF_VFS_SHADOW_NS_LSTAT},
    [VRIFT_MISC_VFS_SHADOW_CALLS_FSTAT] = {"vfs_shadow_calls_fstat", VRIFT_UNITOF_VFS_SHADOW_CALLS_FSTAT},
    [VRIFT_MISC_VFS_SHADOW_NS_FSTAT] = {"vfs_shadow_ns_fstat", VRIFT_UNITOF_VFS_SHADOW_NS_FSTAT},
    [VRIFT_MISC_VFS_SHADOW_CALLS_STATX] = {"vfs_shadow_calls_statx", VRIFT_UNITOF_VFS_SHADOW_CALLS_STATX},
    [VRIFT_MISC_VFS_SHADOW_NS_STATX] = {"vfs_shadow_ns_statx", VRIFT_UNITOF_VFS_SHADOW_NS_STATX},
    [VRIFT_MISC_VFS_SHADOW_CALLS_ACCESS] = {"vfs_shadow_calls_access", VRIFT_UNITOF_VFS_SHADOW_CALLS_ACCESS},
    [VRIFT_MISC_VFS_SHADOW_NS_ACCESS] = {"vfs_shadow_ns_access", VRIFT_UNITOF_VFS_SHADOW_NS_ACCESS},
    [VRIFT_MISC_VFS_SHADOW_CALLS_READLINK] = {"vfs_shadow_calls_readlink", VRIFT_UNITOF_VFS_SHADOW_CALLS_READLINK},
    [VRIFT_MISC_VFS_SHADOW_NS_READLINK] = {"vfs_shadow_ns_readlink", VRIFT_UNITOF_VFS_SHADOW_NS_READLINK},
    [VRIFT_MISC_UNSEEN_STATIC] = {"unseen_static", VRIFT_UNITOF_UNSEEN_STATIC},
    [VRIFT_MISC_UNSEEN_SETID] = {"unseen_setid", VRIFT_UNITOF_UNSEEN_SETID},
    [VRIFT_MISC_UNSEEN_NO_PRELOAD] = {"unseen_no_preload", VRIFT_UNITOF_UNSEEN_NO_PRELOAD},
    [VRIFT_MISC_LOADER_OBJECTS] = {"loader_objects", VRIFT_UNITOF_LOADER_OBJECTS},
    [VRIFT_MISC_LOADER_SEGMENTS] = {"loader_segments", VRIFT_UNITOF_LOADER_SEGMENTS},
    [VRIFT_MISC_LOADER_AUDITED] = {"loader_audited", VRIFT_UNITOF_LOADER_AUDITED},
    [VRIFT_MISC_LOADER_PROBES] = {"loader_probes", VRIFT_UNITOF_LOADER_PROBES},
    [VRIFT_MISC_LOADER_PROBE_HITS] = {"loader_probe_hits", VRIFT_UNITOF_LOADER_PROBE_HITS},
    [VRIFT_MISC_LOADER_NS] = {"loader_ns", VRIFT_UNITOF_LOADER_NS},
};

/* The row of member `m` (M in capitals) of struct vrift_op_stats: named
 * after the member, its unit VRIFT_OPUNITOF_M. Python reads the members
 * from the header; test_vectors.py proves both tables are the same. */
#define OP_ROW(m, M, kind, count)                                                              \
    put_field(f++, n, #m, kind, VRIFT_OPUNITOF_##M, count, base + offsetof(struct vrift_op_stats, m))
#define FIELDS_PER_OP 6
/* per op, then the scalars, then (1.3) each op's timed_calls */
#define FIELD_COUNT (VRIFT_OP_COUNT * FIELDS_PER_OP + VRIFT_MISC_COUNT + VRIFT_OP_COUNT)

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

static uint32_t field_table_offset(void)
{
    return (uint32_t)align_up(sizeof(struct vrift_header), VRIFT_ALIGN_LINE);
}

static uint64_t slots_offset(void)
{
    uint64_t table_end = field_table_offset() + (uint64_t)FIELD_COUNT * sizeof(struct vrift_field);
    return align_up(table_end, VRIFT_ALIGN_PAGE);
}

static uint32_t slot_size(void)
{
    return (uint32_t)align_up(sizeof(struct vrift_slot), VRIFT_ALIGN_LINE);
}

static uint64_t hot_offset(uint32_t slot_count)
{
    return align_up(slots_offset() + (uint64_t)slot_count * slot_size(), VRIFT_ALIGN_PAGE);
}

static uint64_t hot_arena_offset(uint32_t slot_count)
{
    return hot_offset(slot_count) + (uint64_t)VRIFT_HOT_DEFAULT_ENTRIES * sizeof(struct vrift_hot_entry);
}

uint64_t vr_layout_file_size(uint32_t slot_count)
{
    return align_up(hot_arena_offset(slot_count) + VRIFT_HOT_DEFAULT_ARENA, VRIFT_ALIGN_PAGE);
}

/* What a new file reserves on disk: [0, *slots_end) (header, field table,
 * the first chunk of slots) and [*hot_start, file size) (the hot-path
 * table and its arena, written anywhere at any time). */
void vr_layout_reserved(uint32_t slot_count, uint64_t *slots_end, uint64_t *hot_start)
{
    uint32_t ready = slot_count < VRIFT_SLOT_CHUNK ? slot_count : VRIFT_SLOT_CHUNK;
    *slots_end = slots_offset() + (uint64_t)ready * slot_size();
    *hot_start = hot_offset(slot_count);
}

static void put_field(struct vrift_field *f, const char *prefix, const char *suffix,
                      uint16_t kind, uint16_t unit, uint32_t count, size_t offset)
{
    size_t n = 0;
    memset(f, 0, sizeof *f);
    for (const char *s = prefix; *s && n < VRIFT_FIELD_NAME_LEN - 1; s++)
        f->name[n++] = *s;
    if (suffix) {
        if (n < VRIFT_FIELD_NAME_LEN - 1)
            f->name[n++] = '.';
        for (const char *s = suffix; *s && n < VRIFT_FIELD_NAME_LEN - 1; s++)
            f->name[n++] = *s;
    }
    f->kind = kind;
    f->unit = unit;
    f->count = count;
    f->offset = (uint32_t)(offsetof(struct vrift_slot, counters) + offset);
}

/* Fill a zeroed mapping of vr_layout_file_size(slot_count) bytes. The
 * caller publishes it by storing pre.ready = 1 (release) afterwards. */
void vr_layout_write(struct vrift_header *h, uint32_t slot_count, const char *creator)
{
    h->pre.magic = VRIFT_MAGIC;
    h->pre.byte_order = VRIFT_BYTE_ORDER_MARK;
    h->pre.major = VRIFT_VERSION_MAJOR;
    h->pre.minor = VRIFT_VERSION_MINOR;
    h->pre.header_len = sizeof(struct vrift_header);
    h->pre.file_size = vr_layout_file_size(slot_count);

    h->mode = VRIFT_MODE_DEFAULT;
    h->enabled = VRIFT_MODE_DEFAULT;
    h->timing_sample_period = VRIFT_DEFAULT_SAMPLE_PERIOD;
    h->hot_sample_period = VRIFT_DEFAULT_HOT_SAMPLE_PERIOD;
    h->timing_sampled_ops = VRIFT_DEFAULT_SAMPLED_OPS;
    h->field_count = FIELD_COUNT;
    h->field_size = sizeof(struct vrift_field);
    h->field_table_offset = field_table_offset();
    h->op_count = VRIFT_OP_COUNT;
    h->misc_count = VRIFT_MISC_COUNT;
    h->hist_buckets = VRIFT_HIST_BUCKETS;
    h->slot_count = slot_count;
    h->slot_size = slot_size();
    h->slots_offset = slots_offset();
    h->slots_next = 1;
    h->slots_ready = slot_count < VRIFT_SLOT_CHUNK ? slot_count : VRIFT_SLOT_CHUNK;
    h->hot_offset = hot_offset(slot_count);
    h->hot_count = VRIFT_HOT_DEFAULT_ENTRIES;
    h->hot_arena_offset = hot_arena_offset(slot_count);
    h->hot_arena_size = VRIFT_HOT_DEFAULT_ARENA;
    h->hot_arena_used = 1;
    strncpy(h->creator, creator, VRIFT_CREATOR_LEN - 1);

    struct vrift_field *f = (struct vrift_field *)((char *)h + h->field_table_offset);
    for (int op = 0; op < VRIFT_OP_COUNT; op++) {
        size_t base = offsetof(struct vrift_counters, op) + (size_t)op * sizeof(struct vrift_op_stats);
        const char *n = op_names[op];
        OP_ROW(calls, CALLS, VRIFT_KIND_COUNTER, 1);
        OP_ROW(errors, ERRORS, VRIFT_KIND_COUNTER, 1);
        OP_ROW(enoent, ENOENT, VRIFT_KIND_COUNTER, 1);
        OP_ROW(eacces, EACCES, VRIFT_KIND_COUNTER, 1);
        OP_ROW(latency_ns, LATENCY_NS, VRIFT_KIND_COUNTER, 1);
        OP_ROW(histogram, HISTOGRAM, VRIFT_KIND_HISTOGRAM, VRIFT_HIST_BUCKETS);
    }
    for (int m = 0; m < VRIFT_MISC_COUNT; m++)
        put_field(f++, misc_fields[m].name, NULL, VRIFT_KIND_COUNTER, misc_fields[m].unit, 1,
                  offsetof(struct vrift_counters, misc) + (size_t)m * sizeof(uint64_t));
    for (int op = 0; op < VRIFT_OP_COUNT; op++)
        put_field(f++, op_names[op], "timed_calls", VRIFT_KIND_COUNTER, VRIFT_OPUNITOF_TIMED_CALLS, 1,
                  offsetof(struct vrift_counters, timed) + (size_t)op * sizeof(uint64_t));

    /* Slot 0 collects process images that found every slot taken. */
    struct vrift_slot_head *overflow = (struct vrift_slot_head *)((char *)h + h->slots_offset);
    strncpy(overflow->comm, "(overflow)", VRIFT_COMM_LEN - 1);
    overflow->state = VRIFT_SLOT_OVERFLOW;
}
