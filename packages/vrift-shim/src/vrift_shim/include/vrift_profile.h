/*
 * vrift_profile.h — the binary layout of a vrift profile session file.
 *
 * This header is the single source of truth for the format. The shim
 * (C) includes it; vrift_profile (Python) feeds it to cffi's cdef, so it
 * must stay inside the C subset cffi parses: plain structs, enums and
 * integer #defines. No macros with arguments, no expressions in #define,
 * no _Static_assert here (those live in csrc/shim.h). Every layout fact
 * Python needs comes from here through cffi (sizeof, offsetof, these
 * constants and enums); nothing is copied by hand.
 *
 * A session file is:
 *
 *   [struct vrift_header]         frozen 32-byte preamble + session state + layout
 *   [struct vrift_field  x N]     append-only table naming every counter in a slot
 *   [slot 0 .. slot_count-1]      one per process image; slot 0 is the shared
 *                                 overflow slot for images that found no free slot
 *
 * Each slot is a struct vrift_slot_head followed by the counter block
 * (struct vrift_counters). Readers must locate counters through the field
 * table (by name) and bounds-check every offset: the file is untrusted.
 *
 * Version rules: the preamble never changes. A minor version only appends
 * (new header fields in `reserved`, new fields at the end of the counter
 * block, new field-table rows). A major version changes the layout and
 * gets its own reader.
 */
#ifndef VRIFT_PROFILE_H
#define VRIFT_PROFILE_H
#include <stdint.h>

#include "vrift_common.h"

#define VRIFT_MAGIC 0x56524654
#define VRIFT_VERSION_MAJOR 1
#define VRIFT_VERSION_MINOR 6

/* Header length by minor version: 1.0 and 1.1 wrote the header up to
 * vfs_projections (248 bytes); 1.2 appended the projection table, and
 * 1.3 and 1.4 only used reserved space. Frozen: csrc/shim.h checks it. */
#define VRIFT_HEADER_LEN_1_0 248

/* log2 latency histogram: bucket i holds integer ns in [2^i, 2^(i+1)),
 * bucket 0 also holds 0 ns, the last bucket holds everything >= 2^31 ns. */
#define VRIFT_HIST_BUCKETS 32
#define VRIFT_FIELD_NAME_LEN 48
#define VRIFT_COMM_LEN 32
#define VRIFT_CREATOR_LEN 32
/* 1.5: what a slot keeps of its process image's life (struct vrift_life) */
#define VRIFT_CMDLINE_LEN 256
#define VRIFT_CWD_LEN 192

/* How a creator lays a file out (readers go by the header's offsets):
 * the field table starts and each slot is padded to a cache line; the
 * slots, the hot-path table and the end of the file to a page. */
#define VRIFT_ALIGN_LINE 64
#define VRIFT_ALIGN_PAGE 4096

/* Slots a new session lays out unless told otherwise (one per process
 * image, one more per extra counting thread; ~6.3 KB each since 1.5).
 * Their disk blocks are reserved a chunk at a time (1.4: slots_ready). */
#define VRIFT_DEFAULT_SLOT_COUNT 4096
/* Slots reserved on disk at a time (format 1.4: header.slots_ready). */
#define VRIFT_SLOT_CHUNK 64

/* Hot-path table (format 1.1): distinct paths, their calls and time. */
#define VRIFT_HOT_DEFAULT_ENTRIES 16384
#define VRIFT_HOT_DEFAULT_ARENA 1048576
#define VRIFT_HOT_MAX_PROBE 32

/* Sampled timing (format 1.3). Every call is counted. Of the cheap,
 * frequent operations in the sampled set, each thread times the first
 * VRIFT_SAMPLE_EXACT_FIRST calls of each operation, then each further call
 * with probability 1/period (an independent coin per call, so no workload
 * can fall into step with it); every other call is timed. Each timed call
 * adds its latency and its histogram bucket with a weight, 1 or `period`
 * (Horvitz-Thompson): latency_ns and the histogram are unbiased estimates
 * of the total time and of the distribution over all calls, and
 * OP.timed_calls counts the calls really timed (docs/format.md). Period 1
 * (--exact-timing) times every call. The default set: stat, fstat, lstat,
 * statx, read, write, readdir (bits by enum vrift_op). Sessions before
 * 1.6 also sampled access and close: their totals are dominated by rare
 * slow calls, which a 1-in-16 sample misses or weighs 16 times
 * (benchmarks/sampling_same_run.py), and timing each costs ~20 ns. */
#define VRIFT_DEFAULT_SAMPLE_PERIOD 16
#define VRIFT_DEFAULT_SAMPLED_OPS 4495
#define VRIFT_SAMPLE_EXACT_FIRST 64
/* Files of format 1.0-1.2 name no sample: readdir alone was timed, one
 * call in this many (a shim attaching to such a file, and readers of it,
 * go by this). */
#define VRIFT_SAMPLE_PERIOD_1_0 16

/* The VFS time-saved baseline (csrc/vfs_serve.c): of every
 * VRIFT_VFS_SHADOW_PERIOD calls the VFS serves on a thread (a power of
 * two), the first VRIFT_VFS_SHADOW_RUN are also made for real into a
 * scratch buffer and timed (the vfs_shadow_* counters), in timing
 * sessions only. Bursts, not single calls: a real call alone among
 * served ones finds colder caches than one in a stream. */
#define VRIFT_VFS_SHADOW_RUN 48
#define VRIFT_VFS_SHADOW_PERIOD 4096

/* Hot paths (format 1.4): each path call is recorded with probability
 * 1/hot_sample_period (a per-thread countdown over geometric gaps, like
 * timing), adding the period to its entry's calls (and errors), and its
 * latency times the period (the call is timed for it if it was not
 * already; that time does not enter the operation's figures). So each
 * process touches few table pages, and the entries are unbiased
 * estimates, exact enough to rank. 1 = every path call (--exact-timing). */
#define VRIFT_DEFAULT_HOT_SAMPLE_PERIOD 64

/* 1.6: the newest ghost images (programs run unseen) a wait looks for its
 * child among (header.ghosts), and the `unseen` mark of a ghost whose
 * program has no hot-path entry. */
#define VRIFT_GHOST_RING 64
#define VRIFT_GHOST_NO_ENTRY 0xFFFFFFFF

/* VFS projections recorded per session (format 1.2). */
#define VRIFT_MAX_PROJECTIONS 8

/* Operation classes. Several libc entry points map to one class
 * (docs/symbols.md lists them). Append only. */
enum vrift_op {
    VRIFT_OP_STAT = 0,
    VRIFT_OP_FSTAT,
    VRIFT_OP_LSTAT,
    VRIFT_OP_STATX,
    VRIFT_OP_ACCESS,
    VRIFT_OP_OPEN,
    VRIFT_OP_CLOSE,
    VRIFT_OP_READ,
    VRIFT_OP_WRITE,
    VRIFT_OP_MMAP,
    VRIFT_OP_MUNMAP,
    VRIFT_OP_OPENDIR,
    VRIFT_OP_READDIR,
    VRIFT_OP_CLOSEDIR,
    VRIFT_OP_READLINK,
    VRIFT_OP_REALPATH,
    VRIFT_OP_DLOPEN,
    VRIFT_OP_EXEC,              /* 1.4: the exec family and posix_spawn(p), never timed;
                                   each PATH probe of execvp* is one call */
    VRIFT_OP_COUNT
};

/* Scalar counters of a slot that are not per operation. Append only. */
enum vrift_misc {
    VRIFT_MISC_BYTES_READ = 0,
    VRIFT_MISC_BYTES_WRITTEN,
    /* VFS (format 1.2): see docs/vfs.md */
    VRIFT_MISC_VFS_HANDLED,         /* calls the VFS answered (memory or CAS) */
    VRIFT_MISC_VFS_PASSTHROUGH,     /* counted calls of VFS processes that went to the file system */
    VRIFT_MISC_MANIFEST_HITS,
    VRIFT_MISC_MANIFEST_MISSES,
    VRIFT_MISC_BLOOM_REJECTS,
    VRIFT_MISC_CAS_HITS,
    VRIFT_MISC_CAS_MISSES,
    VRIFT_MISC_COW_COPIES,
    VRIFT_MISC_COW_BYTES,
    VRIFT_MISC_VFS_SERVED_CALLS_STAT,   /* served from memory, per class, */
    VRIFT_MISC_VFS_SERVED_NS_STAT,      /* with the time serving took:    */
    VRIFT_MISC_VFS_SERVED_CALLS_LSTAT,  /* the time-saved estimate's input */
    VRIFT_MISC_VFS_SERVED_NS_LSTAT,
    VRIFT_MISC_VFS_SERVED_CALLS_FSTAT,
    VRIFT_MISC_VFS_SERVED_NS_FSTAT,
    VRIFT_MISC_VFS_SERVED_CALLS_STATX,
    VRIFT_MISC_VFS_SERVED_NS_STATX,
    VRIFT_MISC_VFS_SERVED_CALLS_ACCESS,
    VRIFT_MISC_VFS_SERVED_NS_ACCESS,
    VRIFT_MISC_VFS_SERVED_CALLS_READLINK,
    VRIFT_MISC_VFS_SERVED_NS_READLINK,
    /* bursts of served calls also made for real, timed (VRIFT_VFS_SHADOW_RUN
     * of every VRIFT_VFS_SHADOW_PERIOD): the measured cost of what serving
     * avoids (time-saved baseline) */
    VRIFT_MISC_VFS_SHADOW_CALLS_STAT,
    VRIFT_MISC_VFS_SHADOW_NS_STAT,
    VRIFT_MISC_VFS_SHADOW_CALLS_LSTAT,
    VRIFT_MISC_VFS_SHADOW_NS_LSTAT,
    VRIFT_MISC_VFS_SHADOW_CALLS_FSTAT,
    VRIFT_MISC_VFS_SHADOW_NS_FSTAT,
    VRIFT_MISC_VFS_SHADOW_CALLS_STATX,
    VRIFT_MISC_VFS_SHADOW_NS_STATX,
    VRIFT_MISC_VFS_SHADOW_CALLS_ACCESS,
    VRIFT_MISC_VFS_SHADOW_NS_ACCESS,
    VRIFT_MISC_VFS_SHADOW_CALLS_READLINK,
    VRIFT_MISC_VFS_SHADOW_NS_READLINK,
    /* 1.4: programs this image ran that vrift cannot follow (exec.c) */
    VRIFT_MISC_UNSEEN_STATIC,       /* statically linked: LD_PRELOAD does not apply */
    VRIFT_MISC_UNSEEN_SETID,        /* set-user/group-ID: the loader ignores LD_PRELOAD */
    VRIFT_MISC_UNSEEN_NO_PRELOAD,   /* its environment drops the shim or counting */
    /* 1.4: what the dynamic loader mapped (loader.c); its system calls are derived from these */
    VRIFT_MISC_LOADER_OBJECTS,      /* shared objects the loader opened and mapped */
    VRIFT_MISC_LOADER_SEGMENTS,     /* their PT_LOAD segments (one mmap each) */
    /* 1.6: the loader audit module (--loader: LD_AUDIT), counted inside the loader */
    VRIFT_MISC_LOADER_AUDITED,      /* process images whose loader was audited */
    VRIFT_MISC_LOADER_PROBES,       /* paths the loader tried to open while searching */
    VRIFT_MISC_LOADER_PROBE_HITS,   /* probes that loaded an object (the rest failed) */
    VRIFT_MISC_LOADER_NS,           /* time in the loader: startup, then each dlopen's loading */
    VRIFT_MISC_COUNT
};

/* The unit (enum vrift_unit) of each misc counter, named after it. */
enum vrift_misc_unit {
    VRIFT_UNITOF_BYTES_READ = 3,
    VRIFT_UNITOF_BYTES_WRITTEN = 3,
    VRIFT_UNITOF_VFS_HANDLED = 1,
    VRIFT_UNITOF_VFS_PASSTHROUGH = 1,
    VRIFT_UNITOF_MANIFEST_HITS = 1,
    VRIFT_UNITOF_MANIFEST_MISSES = 1,
    VRIFT_UNITOF_BLOOM_REJECTS = 1,
    VRIFT_UNITOF_CAS_HITS = 1,
    VRIFT_UNITOF_CAS_MISSES = 1,
    VRIFT_UNITOF_COW_COPIES = 1,
    VRIFT_UNITOF_COW_BYTES = 3,
    VRIFT_UNITOF_VFS_SERVED_CALLS_STAT = 1,
    VRIFT_UNITOF_VFS_SERVED_NS_STAT = 2,
    VRIFT_UNITOF_VFS_SERVED_CALLS_LSTAT = 1,
    VRIFT_UNITOF_VFS_SERVED_NS_LSTAT = 2,
    VRIFT_UNITOF_VFS_SERVED_CALLS_FSTAT = 1,
    VRIFT_UNITOF_VFS_SERVED_NS_FSTAT = 2,
    VRIFT_UNITOF_VFS_SERVED_CALLS_STATX = 1,
    VRIFT_UNITOF_VFS_SERVED_NS_STATX = 2,
    VRIFT_UNITOF_VFS_SERVED_CALLS_ACCESS = 1,
    VRIFT_UNITOF_VFS_SERVED_NS_ACCESS = 2,
    VRIFT_UNITOF_VFS_SERVED_CALLS_READLINK = 1,
    VRIFT_UNITOF_VFS_SERVED_NS_READLINK = 2,
    VRIFT_UNITOF_VFS_SHADOW_CALLS_STAT = 1,
    VRIFT_UNITOF_VFS_SHADOW_NS_STAT = 2,
    VRIFT_UNITOF_VFS_SHADOW_CALLS_LSTAT = 1,
    VRIFT_UNITOF_VFS_SHADOW_NS_LSTAT = 2,
    VRIFT_UNITOF_VFS_SHADOW_CALLS_FSTAT = 1,
    VRIFT_UNITOF_VFS_SHADOW_NS_FSTAT = 2,
    VRIFT_UNITOF_VFS_SHADOW_CALLS_STATX = 1,
    VRIFT_UNITOF_VFS_SHADOW_NS_STATX = 2,
    VRIFT_UNITOF_VFS_SHADOW_CALLS_ACCESS = 1,
    VRIFT_UNITOF_VFS_SHADOW_NS_ACCESS = 2,
    VRIFT_UNITOF_VFS_SHADOW_CALLS_READLINK = 1,
    VRIFT_UNITOF_VFS_SHADOW_NS_READLINK = 2,
    VRIFT_UNITOF_UNSEEN_STATIC = 1,
    VRIFT_UNITOF_UNSEEN_SETID = 1,
    VRIFT_UNITOF_UNSEEN_NO_PRELOAD = 1,
    VRIFT_UNITOF_LOADER_OBJECTS = 1,
    VRIFT_UNITOF_LOADER_SEGMENTS = 1,
    VRIFT_UNITOF_LOADER_AUDITED = 1,
    VRIFT_UNITOF_LOADER_PROBES = 1,
    VRIFT_UNITOF_LOADER_PROBE_HITS = 1,
    VRIFT_UNITOF_LOADER_NS = 2
};

enum vrift_field_kind {
    VRIFT_KIND_COUNTER = 1,     /* monotonic u64 */
    VRIFT_KIND_HISTOGRAM = 2    /* `count` u64 log2-ns buckets */
};

/* Readers name a unit after its member: "events", "ns", "bytes". */
enum vrift_unit {
    VRIFT_UNIT_EVENTS = 1,
    VRIFT_UNIT_NS = 2,
    VRIFT_UNIT_BYTES = 3
};

/* The unit (enum vrift_unit) of each member of struct vrift_op_stats,
 * named after it: the field table has a row OP.MEMBER for each (an array
 * member is a histogram), then, after the misc counters, OP.timed_calls
 * (1.3, struct vrift_counters.timed). */
enum vrift_op_field_unit {
    VRIFT_OPUNITOF_CALLS = 1,
    VRIFT_OPUNITOF_ERRORS = 1,
    VRIFT_OPUNITOF_ENOENT = 1,
    VRIFT_OPUNITOF_EACCES = 1,
    VRIFT_OPUNITOF_LATENCY_NS = 2,
    VRIFT_OPUNITOF_HISTOGRAM = 2,
    VRIFT_OPUNITOF_TIMED_CALLS = 1
};

enum vrift_clock_source {
    VRIFT_CLOCK_MONOTONIC = 0,  /* clock_gettime(CLOCK_MONOTONIC) */
    VRIFT_CLOCK_TSC = 1         /* invariant TSC, ns = (ticks * clock_mult) >> 32 */
};

/* What counting does, as bits of the `enabled` word (0 = stopped). */
enum vrift_mode {
    VRIFT_MODE_COUNT = 1,       /* calls, errors, bytes */
    VRIFT_MODE_TIME = 2,        /* latency sums and histograms (two clock reads) */
    VRIFT_MODE_HOT = 4,         /* the shared hot-path table */
    VRIFT_MODE_FULL = 7,
    VRIFT_MODE_DEFAULT = 7,     /* 1.4: count, time, and hot paths on a sample */
    VRIFT_MODE_NO_HOT = 3,      /* count and time (--no-hot-paths) */
    VRIFT_MODE_COUNTERS = 1
};

enum vrift_slot_state {
    VRIFT_SLOT_FREE = 0,
    VRIFT_SLOT_LIVE = 1,        /* head written; counters belong to `pid` */
    VRIFT_SLOT_OVERFLOW = 2     /* slot 0: shared by images that found no free slot */
};

/* A VFS projection used in a session, registered once by the first
 * process that serves it, so disk figures are not summed per process.
 * `id` 0 = free slot. */
struct vrift_session_projection {
    uint64_t id;
    uint64_t original_bytes;
    uint64_t unique_bytes;
};

/* The first 32 bytes: frozen forever, whatever the version. */
struct vrift_preamble {
    uint32_t magic;             /* VRIFT_MAGIC */
    uint32_t byte_order;        /* VRIFT_BYTE_ORDER_MARK in the creator's byte order */
    uint16_t major;
    uint16_t minor;
    uint32_t header_len;        /* sizeof(struct vrift_header) of the creator */
    uint32_t ready;             /* 0 while the creator fills the file, then 1 */
    uint32_t preamble_reserved;
    uint64_t file_size;         /* total bytes the creator reserved */
};

struct vrift_header {
    struct vrift_preamble pre;

    /* live state: `enabled` and `reset_generation` share one aligned
     * 8-byte word so the shim reads both with a single load per call */
    uint32_t enabled;           /* 0: stopped; else the mode counting runs in */
    uint32_t reset_generation;  /* bumped by every reset; slots of an older
                                   generation hold only pre-reset counts */
    uint64_t start_realtime_ns; /* CLOCK_REALTIME at session creation */
    uint64_t start_monotonic_ns;
    uint64_t reset_realtime_ns; /* last reset, 0 if never */
    uint64_t stop_realtime_ns;  /* last stop, 0 while enabled */

    /* clock used by every process of the session for latency */
    uint64_t clock_mult;
    uint32_t clock_shift;
    uint32_t clock_source;      /* enum vrift_clock_source */

    /* layout */
    uint32_t field_count;
    uint32_t field_size;        /* sizeof(struct vrift_field) */
    uint32_t field_table_offset;
    uint32_t op_count;
    uint32_t misc_count;
    uint32_t hist_buckets;
    uint32_t slot_count;
    uint32_t slot_size;         /* head + counters, padded to 64 bytes */
    uint64_t slots_offset;

    /* slot allocation: bump counter, never reused within a session */
    uint64_t slots_next;        /* next slot index to hand out (starts at 1) */
    uint64_t slots_overflowed;  /* process images that counted into slot 0 */

    uint32_t creator_pid;
    uint32_t hot_sample_period; /* 1.4: 1 in this many path calls is recorded in the hot-path
                                   table, weighted by it (1: every call; 0 before 1.4: every call) */
    char creator[VRIFT_CREATOR_LEN];
    uint32_t mode;              /* enum vrift_mode: what `enabled` becomes on start */
    uint32_t timing_sample_period; /* 1.3: 1 = every call timed; else a power of two
                                      (1.0-1.2 files: 0, VRIFT_SAMPLE_PERIOD_1_0) */

    /* hot-path table (1.1); hot_count == 0: none */
    uint64_t hot_offset;        /* struct vrift_hot_entry[hot_count] */
    uint32_t hot_count;         /* a power of two */
    uint32_t hot_arena_size;    /* bytes for the path strings */
    uint64_t hot_arena_offset;
    uint64_t hot_arena_used;    /* bump allocator; starts at 1 (offset 0 = no path) */
    uint64_t hot_dropped;       /* path calls not recorded: no free entry in reach */
    uint64_t hot_unresolved;    /* path calls relative to a directory fd: not recorded */
    uint64_t timing_sampled_ops; /* 1.3: bit i set: operation i is timed on the sample */

    /* VFS projections used in the session (1.2) */
    struct vrift_session_projection vfs_projections[VRIFT_MAX_PROJECTIONS];

    /* 1.4 (appended: the header is 448 bytes): slots below this index have
     * their disk blocks reserved. A file reserves the header, the hot-path
     * table and its first VRIFT_SLOT_CHUNK slots; a process that claims a
     * slot past slots_ready reserves its chunk first (fallocate), or counts
     * in the overflow slot if it cannot: a full disk never makes a write
     * into the mapping fail (SIGBUS). */
    uint64_t slots_ready;

    /* 1.6 (appended: the header is 968 bytes): a program a process of the
     * session runs unseen (static, set-ID, or with an environment that
     * drops vrift) gets a slot of its own, a "ghost" image (life.unseen set,
     * no counters), claimed by whoever starts it: the process that execs it,
     * or posix_spawn's caller. Its parent's wait records its end and status
     * there. ghosts_started counts them (0: a wait looks no further); the
     * newest VRIFT_GHOST_RING are listed, pid << 32 | slot index, so that a
     * wait finds its child's ghost without a scan. */
    uint64_t ghosts_started;
    uint64_t ghosts[VRIFT_GHOST_RING];
};

/* One row of the field table: a named run of u64 inside a slot. */
struct vrift_field {
    char name[VRIFT_FIELD_NAME_LEN];  /* NUL-terminated, e.g. "stat.calls" */
    uint16_t kind;                    /* enum vrift_field_kind */
    uint16_t unit;                    /* enum vrift_unit */
    uint32_t count;                   /* number of u64 values */
    uint32_t offset;                  /* byte offset from the slot start */
    uint32_t field_reserved;
};

struct vrift_slot_head {
    uint32_t state;             /* enum vrift_slot_state; written last */
    uint32_t pid;
    uint32_t ppid;
    uint32_t reset_generation;  /* generation the counters belong to; the
                                   owner zeroes them when the header's moves on */
    uint64_t start_realtime_ns;
    char comm[VRIFT_COMM_LEN];  /* program_invocation_short_name */
    /* 1.4: a process image counts in one row per thread, so that no add
     * needs a lock. The first thread to count takes the image's slot
     * (owner_slot 0); every other thread takes a row of its own, a slot
     * whose owner_slot is the index of the image's slot (same pid, ppid
     * and comm). Readers fold thread rows into their image. */
    uint32_t owner_slot;
    uint32_t tid;               /* the thread of a thread row (0 in the image's slot) */
};

#define VRIFT_HOT_COMM_LEN 16

/* 1.4: an entry of the hot-path table whose `ops` has VRIFT_HOT_UNSEEN set
 * is not a path calls named but a program a command ran that vrift could
 * not follow; `calls` counts the runs, the reason bits say why. */
#define VRIFT_HOT_UNSEEN 0x8000000000000000
#define VRIFT_HOT_UNSEEN_STATIC 0x4000000000000000
#define VRIFT_HOT_UNSEEN_SETID 0x2000000000000000
#define VRIFT_HOT_UNSEEN_NO_PRELOAD 0x1000000000000000

/* One distinct (command, path) pair. Claimed by a CAS of `hash` from 0;
 * the claimer then writes `comm`, copies the path into the arena and
 * publishes `path_off` last. Counters are shared by every process of the
 * session (locked adds). */
struct vrift_hot_entry {
    uint64_t hash;              /* of command and path; 0: empty */
    uint32_t path_off;          /* into the arena; 0 until the path is stored */
    uint32_t path_len;
    uint64_t calls;
    uint64_t errors;
    uint64_t latency_ns;        /* over timed calls; a sampled call adds ns x period (1.3) */
    uint64_t ops;               /* bit i set: operation i (enum vrift_op) hit it */
    char comm[VRIFT_HOT_COMM_LEN]; /* the command, truncated like Linux's comm */
};

struct vrift_op_stats {
    uint64_t calls;
    uint64_t errors;            /* calls that returned failure */
    uint64_t enoent;
    uint64_t eacces;
    uint64_t latency_ns;        /* sum over timed calls, each with its weight (1.3; see above) */
    uint64_t histogram[VRIFT_HIST_BUCKETS];
};

struct vrift_counters {
    struct vrift_op_stats op[VRIFT_OP_COUNT];
    uint64_t misc[VRIFT_MISC_COUNT];
    uint64_t timed[VRIFT_OP_COUNT];  /* 1.3: calls really timed (OP.timed_calls) */
};

/* 1.5: who saw how a process image ended (vrift_life.status_from). */
enum vrift_status_from {
    VRIFT_STATUS_UNKNOWN = 0,   /* not seen (yet): running, killed, or ended by exec */
    VRIFT_STATUS_SELF = 1,      /* the image itself: exit(), return from main, _exit() */
    VRIFT_STATUS_PARENT = 2,    /* its parent's wait (a child killed by a signal) */
    VRIFT_STATUS_LAUNCHER = 3   /* `vrift profile run`, which started it */
};

/* 1.5: the life of a process image, after its counters (never zeroed by a
 * reset). Written by the image at its slot claim (argv, cwd, start_clock),
 * at each timed call (last_clock: every row, by its own thread) and at its
 * exit; by its parent's wait when a signal killed it; by the launcher.
 * Times of the clock kind are in the session clock (ticks or ns, see
 * clock_source); a reader turns them into real time with the pair
 * (start_clock, head.start_realtime_ns). status_from is stored last. */
struct vrift_life {
    uint64_t last_clock;        /* session clock at the row's last timed call; 0: none */
    uint64_t start_clock;       /* session clock when the slot was claimed */
    uint64_t end_realtime_ns;   /* CLOCK_REALTIME of its end: its own exit (status_from
                                   SELF), else its reaping by the parent or launcher
                                   that recorded the status; 0: not seen */
    int32_t status;             /* a wait status (W_EXITCODE / signal), per status_from */
    uint32_t status_from;       /* enum vrift_status_from */
    uint32_t argc;              /* 0: command line unknown */
    uint32_t cmdline_len;       /* bytes of the whole argv (NUL-separated); more than
                                   VRIFT_CMDLINE_LEN: `cmdline` holds the first ones */
    uint32_t cwd_len;           /* strlen of the working directory; 0: unknown; more than
                                   VRIFT_CWD_LEN - 1: `cwd` holds "..." and its tail */
    uint32_t unseen;            /* 1.6: 0 for an image vrift ran in; else this slot is a ghost
                                   (header.ghosts): a program that ran unseen, with its start,
                                   end and status only; its hot-path entry's index + 1, or
                                   VRIFT_GHOST_NO_ENTRY */
    char cmdline[VRIFT_CMDLINE_LEN]; /* argv[0] NUL argv[1] NUL ...  */
    char cwd[VRIFT_CWD_LEN];    /* NUL-terminated */
};

struct vrift_slot {
    struct vrift_slot_head head;
    struct vrift_counters counters;
    struct vrift_life life;     /* 1.5 */
};

#endif
