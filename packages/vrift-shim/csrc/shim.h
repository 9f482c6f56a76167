/*
 * shim.h — what the shim's translation units share: the session state,
 * the clock, and the inline counting helpers used by every wrapper.
 *
 * Hot-path rules (docs/shim.md): with profiling off a wrapper costs one
 * load and one predictable branch; with it on, two clock reads and a few
 * adds into this process's own slot (locked only when another thread or
 * process may write it). No locks, no malloc, no syscalls, errno untouched.
 */
#ifndef VRIFT_SHIM_H
#define VRIFT_SHIM_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "vrift_profile.h"

#define VR_EXPORT __attribute__((visibility("default")))
#define VR_HIDDEN __attribute__((visibility("hidden")))
#define VR_LIKELY(x) __builtin_expect(!!(x), 1)
#define VR_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define VR_TLS __thread __attribute__((tls_model("initial-exec")))

/* Layout facts the Python reader relies on too (tests/test_vectors.py). */
_Static_assert(sizeof(struct vrift_preamble) == 32, "preamble is frozen at 32 bytes");
_Static_assert(sizeof(struct vrift_field) == 64, "field rows are 64 bytes");
_Static_assert(sizeof(struct vrift_slot_head) == 64, "slot head is one cache line");
_Static_assert(sizeof(struct vrift_hot_entry) == 64, "hot entry is one cache line");
/* Header sizes by minor version: 1.0 and 1.1 = VRIFT_HEADER_LEN_1_0, 1.2 and 1.3 = 440, 1.4 and 1.5 = 448,
 * 1.6 on = 968. */
_Static_assert(offsetof(struct vrift_header, vfs_projections) == VRIFT_HEADER_LEN_1_0, "1.2 appends");
_Static_assert(offsetof(struct vrift_header, slots_ready) == 440, "1.4 appends");
_Static_assert(offsetof(struct vrift_header, ghosts_started) == 448, "1.6 appends");
_Static_assert(sizeof(struct vrift_header) == 968, "format 1.6 header size");
_Static_assert(offsetof(struct vrift_header, pre) == 0, "preamble first");
_Static_assert(sizeof(struct vrift_header) % 8 == 0, "header keeps u64 alignment");

/* ---- session state (session.c) ---- */

_Static_assert(offsetof(struct vrift_header, reset_generation) ==
                   offsetof(struct vrift_header, enabled) + 4 &&
               offsetof(struct vrift_header, enabled) % 8 == 0,
               "enabled and reset_generation form one aligned control word");

/* The control word: header->enabled (low half: 0 off, else the mode) and
 * header->reset_generation (high half), read with one load per call.
 * Points at a static zero until a session is attached. */
VR_HIDDEN extern const uint64_t *vr_control_word;
VR_HIDDEN extern struct vrift_header *vr_hdr;
/* Set once by the constructor: this process has a session attached or a
 * projection to serve. 0: every wrapper is a jump to libc. */
VR_HIDDEN extern int vr_attached;
/* This process image's slot: NULL until its first counted call claims
 * it (and again in a fork child). The thread that claimed it counts in
 * it; every other thread counts in a row of its own (format 1.4). */
VR_HIDDEN extern struct vrift_counters *vr_counters;
/* This thread's counter row and the generation it holds counts of:
 * written by this thread alone (and a signal handler running on it). */
VR_HIDDEN extern VR_TLS struct vrift_counters *vr_row;
VR_HIDDEN extern VR_TLS uint32_t vr_row_gen;
/* Slot 0's counters, shared by every thread that found no row of its
 * own: the only counters with more than one writer. */
VR_HIDDEN extern struct vrift_counters *vr_overflow_counters;
VR_HIDDEN extern int vr_use_tsc;
VR_HIDDEN extern uint64_t vr_tsc_mult;
VR_HIDDEN extern uint32_t vr_tsc_shift;

/* Claim this thread's row (the image's slot for its first counting
 * thread), or start a new reset generation in it. */
VR_HIDDEN struct vrift_counters *vr_claim_row(uint32_t gen);
VR_HIDDEN uint64_t vr_monotonic_ns(void);

/* ---- the life of a process image (lifetime.c; format 1.5) ---- */

_Static_assert(offsetof(struct vrift_slot, life) ==
                   offsetof(struct vrift_slot, counters) + sizeof(struct vrift_counters),
               "a row's life follows its counters directly");

/* Constructor: note where argv's strings are (copied at the claim). */
VR_HIDDEN void vr_life_note_args(int argc, char **argv);
/* Constructor and fork child: the image begins now. */
VR_HIDDEN void vr_life_mark_start(void);
/* Constructor of an attached process: hook its exit. */
VR_HIDDEN void vr_life_attach(void);
/* Slot claim of a process image (after its head's pid, ppid and start
 * time are written): command line, cwd, start clock; moves the start
 * time back to when the image began. */
VR_HIDDEN void vr_life_claim(struct vrift_slot *s);

/* 1.6: a program that runs unseen gets a ghost image slot (pid, parent,
 * its name, argv, cwd, start; life.unseen = hot + 1, or
 * VRIFT_GHOST_NO_ENTRY for hot < 0), listed in header.ghosts so that the
 * parent's wait records its end. Touches only the session file and makes
 * raw syscalls (a vfork child claims one before it execs). Returns the
 * slot index, 0 if none was left. */
VR_HIDDEN uint32_t vr_ghost_begin(uint32_t pid, uint32_t ppid, const char *path, char *const argv[], long hot,
                                  uint64_t start_realtime_ns, uint64_t start_clock);
/* The exec it stood for failed: the ghost never ran (readers skip it). */
VR_HIDDEN void vr_ghost_cancel(uint32_t idx);
/* The session's clocks as a ghost's start takes them (no vDSO). */
VR_HIDDEN uint64_t vr_life_realtime_now(void);
VR_HIDDEN uint64_t vr_life_clock_now(void);
/* A new image (constructor) or a fork child begins with this pid: a ghost
 * listed with it is either the program that exec'd this image (it ends
 * now) or a dead one whose pid is reused; either way no wait may credit
 * it with this process's end. `exec`: 0 in a fork child (a new process:
 * any such ghost is stale). Only when the session has ghosts. */
VR_HIDDEN void vr_ghost_successor(int exec);

/* A fresh slot (never handed out before) with its disk blocks reserved,
 * for the caller to fill in and publish (session.c); NULL when none is
 * left. Touches only the session file. */
VR_HIDDEN struct vrift_slot *vr_fresh_slot(uint32_t *idx_out);

/* The life record of the row whose counters are `c`. */
static inline struct vrift_life *vr_life_of(struct vrift_counters *c)
{
    return (struct vrift_life *)(void *)(c + 1);
}

/* VRIFT_PROFILE's value read as a flag: -1 unset or empty, 0 for 0, false,
 * no, off (any case), else 1. The constructor's rule; exec.c applies it to a
 * child's environment. */
VR_HIDDEN int vr_env_flag(const char *v);

/* ---- lazy symbol resolution (resolve.c) ---- */

/* Returns the next definition of `name` after the shim, or NULL while a
 * resolution is already in progress on this thread (dlsym re-entering a
 * wrapper through a preloaded allocator): callers then fail with ENOSYS
 * or use a raw syscall. */
VR_HIDDEN void *vr_resolve_slow(void **slot, const char *name);

static inline void *vr_resolve(void **slot, const char *name)
{
    void *p = __atomic_load_n(slot, __ATOMIC_RELAXED);
    if (VR_LIKELY(p != NULL))
        return p;
    return vr_resolve_slow(slot, name);
}

/* ---- clock and counting (inline, hot path) ---- */

#define VR_MODE(ctl) ((uint32_t)(ctl))
#define VR_GEN(ctl) ((uint32_t)((ctl) >> 32))

static inline uint64_t vr_control(void)
{
    return __atomic_load_n(vr_control_word, __ATOMIC_RELAXED);
}

static inline uint64_t vr_clock(void)
{
#if defined(__x86_64__) || defined(__i386__)
    if (VR_LIKELY(vr_use_tsc))
        return __builtin_ia32_rdtsc();
#endif
    return vr_monotonic_ns();
}

/* A call's start is its clock reading with the low bit used as a tag:
 * 0 = not timed; low bit 0 = timed with weight 1; low bit 1 = timed on
 * the sample, weight `period` (one clock tick, < 1 ns, is lost). */
#define VR_T0(clock) (((clock) & ~1ull) | 2ull) /* never 0 */

/* Start of a call the VFS served (always timed in timing mode: the
 * time-saved estimate needs every served call's cost). */
static inline uint64_t vr_start(uint64_t ctl)
{
    return (VR_MODE(ctl) & VRIFT_MODE_TIME) ? VR_T0(vr_clock()) : 0;
}

/* ---- sampled timing (timing.c; format 1.3) ----
 * Operations in vr_sampled_ops: each thread times its first
 * VRIFT_SAMPLE_EXACT_FIRST calls of the operation (weight 1), then each
 * call with probability 1/(vr_sample_mask + 1) (weight = the period): an
 * independent coin per call (xorshift64 per thread), so no periodic
 * workload can fall into step with it. */
VR_HIDDEN extern uint64_t vr_sampled_ops;
VR_HIDDEN extern uint64_t vr_sample_mask;
VR_HIDDEN void vr_timing_init(const struct vrift_header *h);
VR_HIDDEN extern VR_TLS uint32_t vr_gap;
VR_HIDDEN extern VR_TLS uint16_t vr_seen[VRIFT_OP_COUNT];
/* Calls until the next timed one: geometric with p = 1/period (>= 1). */
VR_HIDDEN uint32_t vr_draw_gap(void);

/* Start of a call of `op` (a constant in every wrapper): 0 when it is
 * not timed, else VR_T0 with the weight tag. Past the exact phase, one
 * countdown per thread over all sampled calls: with geometric gaps (a
 * memoryless Bernoulli process), every call is timed independently with
 * probability 1/period, at the cost of a decrement per call. */
static inline uint64_t vr_start_op(uint64_t ctl, enum vrift_op op)
{
    if (!(VR_MODE(ctl) & VRIFT_MODE_TIME))
        return 0;
    if (!((vr_sampled_ops >> op) & 1))
        return VR_T0(vr_clock());
    if (VR_UNLIKELY(vr_seen[op] < VRIFT_SAMPLE_EXACT_FIRST)) {
        vr_seen[op]++;
        return VR_T0(vr_clock());
    }
    uint32_t g = vr_gap;
    if (VR_UNLIKELY(g == 0))
        g = vr_draw_gap(); /* the thread's first sampled call */
    if (VR_LIKELY(--g != 0)) {
        vr_gap = g;
        return 0;
    }
    vr_gap = vr_draw_gap();
    return VR_T0(vr_clock()) | 1;
}

/* Hot paths on a sample (format 1.4): the countdown to the next path call
 * recorded, and for the call in progress whether it is (vr_hot_pick) and
 * whether it is timed for that alone (vr_hot_only: its time does not enter
 * the operation's figures). */
VR_HIDDEN extern uint64_t vr_hot_mask;
VR_HIDDEN extern VR_TLS uint32_t vr_hot_gap;
VR_HIDDEN extern VR_TLS uint8_t vr_hot_pick;
VR_HIDDEN extern VR_TLS uint8_t vr_hot_only;
VR_HIDDEN uint32_t vr_draw_hot_gap(void);

/* The thread's hot-path countdown: 1 when this path call is the one the
 * sample records (then the next gap is drawn). */
static inline int vr_hot_due(void)
{
    uint32_t g = vr_hot_gap;
    if (VR_UNLIKELY(g == 0))
        g = vr_draw_hot_gap(); /* the thread's first path call */
    if (VR_LIKELY(--g != 0)) {
        vr_hot_gap = g;
        return 0;
    }
    vr_hot_gap = vr_draw_hot_gap();
    return 1;
}

/* vr_start_op for a call naming `path`: also decides whether the hot-path
 * table records it. */
static inline uint64_t vr_start_path(uint64_t ctl, enum vrift_op op, const char *path)
{
    uint64_t t0 = vr_start_op(ctl, op);
    if ((VR_MODE(ctl) & VRIFT_MODE_HOT) && path && vr_hot_due()) {
        vr_hot_pick = 1;
        if (!t0 && (VR_MODE(ctl) & VRIFT_MODE_TIME)) {
            t0 = VR_T0(vr_clock());
            vr_hot_only = 1;
        }
    }
    return t0;
}

/* The weight of a timed call started at t0. */
static inline uint64_t vr_weight(uint64_t t0)
{
    return (t0 & 1) ? vr_sample_mask + 1 : 1;
}

static inline uint64_t vr_elapsed_ns(uint64_t t0, uint64_t t1)
{
    t0 &= ~3ull;
    if (t1 < t0)
        return 0;
    uint64_t d = t1 - t0;
    if (vr_use_tsc)
        return (uint64_t)(((unsigned __int128)d * vr_tsc_mult) >> vr_tsc_shift);
    return d;
}

static inline unsigned vr_bucket(uint64_t ns)
{
    unsigned b = 63u - (unsigned)__builtin_clzll(ns | 1);
    return b < VRIFT_HIST_BUCKETS ? b : VRIFT_HIST_BUCKETS - 1;
}

/* Every row has one writer, its thread: one unlocked add instruction is
 * enough (a signal handler runs between instructions, never inside one)
 * and ~3x cheaper than a locked one. Only the overflow slot is shared. */
static inline int vr_shared(const struct vrift_counters *c)
{
    return c == vr_overflow_counters;
}

static inline void vr_inc(uint64_t *p, uint64_t v, int shared)
{
#if defined(__x86_64__)
    if (!shared) {
        __asm__ volatile("addq %1, %0" : "+m"(*p) : "er"(v));
        return;
    }
#else
    (void)shared;
#endif
    __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

/* This thread's row: one TLS load and a compare on the hot path. */
static inline struct vrift_counters *vr_slot(uint32_t gen)
{
    struct vrift_counters *c = vr_row;
    if (VR_UNLIKELY(c == NULL || vr_row_gen != gen))
        c = vr_claim_row(gen);
    return c;
}

static inline void vr_count_errors(struct vrift_op_stats *s, int err, int shared)
{
    vr_inc(&s->errors, 1, shared);
    if (err == ENOENT)
        vr_inc(&s->enoent, 1, shared);
    else if (err == EACCES)
        vr_inc(&s->eacces, 1, shared);
}

/* Count one finished call started at t0 (vr_start_op; 0: not timed).
 * `err` is the errno the call left, read only when `failed`. Never
 * touches errno. Returns the call's latency (0 when not timed). */
VR_HIDDEN extern int vr_vfs_count;
/* Record a path call in the hot-path table with `weight` (the sample
 * period): calls and errors add the weight, latency ns x weight. */
VR_HIDDEN void vr_hot_record(uint64_t ctl, enum vrift_op op, int dirfd, const char *path, uint64_t ns,
                             int failed, uint64_t weight);

static inline uint64_t vr_record_as(enum vrift_op op, uint64_t ctl, uint64_t t0, int failed, int err,
                                    int served);

static inline uint64_t vr_record(enum vrift_op op, uint64_t ctl, uint64_t t0, int failed, int err)
{
    return vr_record_as(op, ctl, t0, failed, err, 0);
}

/* `served`: the VFS answered it (counted as handled); otherwise, in a
 * process with a VFS, the call went to the file system (passthrough). */
static inline uint64_t vr_record_as(enum vrift_op op, uint64_t ctl, uint64_t t0, int failed, int err,
                                    int served)
{
    uint64_t t1 = t0 ? vr_clock() : 0;
    struct vrift_counters *c = vr_slot(VR_GEN(ctl));
    if (VR_UNLIKELY(c == NULL))
        return 0;
    int shared = vr_shared(c);
    struct vrift_op_stats *s = &c->op[op];
    uint64_t ns = 0;
    vr_inc(&s->calls, 1, shared);
    if (t0) {
        uint64_t w = vr_weight(t0);
        ns = vr_elapsed_ns(t0, t1);
        vr_inc(&s->latency_ns, ns * w, shared);
        vr_inc(&s->histogram[vr_bucket(ns)], w, shared);
        vr_inc(&c->timed[op], 1, shared);
        vr_life_of(c)->last_clock = t1; /* the image's last activity, if it is killed */
    }
    if (VR_UNLIKELY(failed))
        vr_count_errors(s, err, shared);
    if (VR_UNLIKELY(vr_vfs_count))
        vr_inc(&c->misc[served ? VRIFT_MISC_VFS_HANDLED : VRIFT_MISC_VFS_PASSTHROUGH], 1, shared);
    return ns;
}

/* ---- hashing: vrift's 64-bit hash, 8 bytes a step (vrift_vfs/pathhash.py is its twin) ---- */

static inline uint64_t vr_mix(uint64_t h, uint64_t w)
{
    h ^= w;
    h *= 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

static inline uint64_t vr_hash_bytes(uint64_t seed, const char *p, size_t n)
{
    uint64_t h = seed ^ (n * 0xC2B2AE3D27D4EB4Full);
    while (n >= 8) {
        uint64_t w;
        __builtin_memcpy(&w, p, 8);
        h = vr_mix(h, w);
        p += 8;
        n -= 8;
    }
    uint64_t tail = 0;
    __builtin_memcpy(&tail, p, n);
    h = vr_mix(h, tail | ((uint64_t)n << 56));
    return h ? h : 1; /* 0 marks empty table entries */
}

#define VR_PATH_SEED 0x6A09E667F3BCC908ull

/* ---- hot paths (hotpaths.c) ---- */

VR_HIDDEN void vr_cwd_changed(void);
/* Name a program this image ran that vrift cannot follow (exec.c):
 * `why` holds VRIFT_HOT_UNSEEN_* reason bits. */
VR_HIDDEN long vr_hot_note_unseen(int dirfd, const char *path, uint64_t why);
/* The run noted as entry `hot` never happened (its exec failed). */
VR_HIDDEN void vr_hot_unnote_unseen(long hot);
/* The cached working directory (NULL if unknown); length in *len. */
VR_HIDDEN const char *vr_cwd(size_t *len);


/* vr_record for a call that names a path (relative to `dirfd`), started
 * by vr_start_path. */
static inline void vr_record_path(enum vrift_op op, uint64_t ctl, uint64_t t0, int failed, int err,
                                  int dirfd, const char *path)
{
    if (VR_LIKELY(!vr_hot_pick)) {
        vr_record(op, ctl, t0, failed, err);
        return;
    }
    uint64_t ns;
    if (vr_hot_only) { /* timed for the hot-path table alone */
        ns = t0 ? vr_elapsed_ns(t0, vr_clock()) : 0; /* 0: a signal handler's call took the pick */
        vr_record(op, ctl, 0, failed, err);
    } else {
        ns = vr_record(op, ctl, t0, failed, err);
    }
    vr_hot_pick = vr_hot_only = 0;
    vr_hot_record(ctl, op, dirfd, path, ns, failed, vr_hot_mask + 1);
}

/* The hot-path sample decided after the call, its time known (calls the
 * VFS handles: a VFS run times every call). */
static inline void vr_hot_after(uint64_t ctl, enum vrift_op op, int dirfd, const char *path, uint64_t ns,
                                int failed)
{
    if (!(VR_MODE(ctl) & VRIFT_MODE_HOT) || !path || !vr_hot_due())
        return;
    vr_hot_record(ctl, op, dirfd, path, ns, failed, vr_hot_mask + 1);
}

/* vr_record, then the hot-path sample: for VFS paths started by vr_start. */
static inline void vr_record_path_after(enum vrift_op op, uint64_t ctl, uint64_t t0, int failed, int err,
                                        int dirfd, const char *path)
{
    vr_hot_after(ctl, op, dirfd, path, vr_record(op, ctl, t0, failed, err), failed);
}

/* Count a call without timing it (tail-called dlopen). */
static inline void vr_record_untimed(enum vrift_op op, uint64_t ctl, int failed, int err)
{
    struct vrift_counters *c = vr_slot(VR_GEN(ctl));
    if (VR_UNLIKELY(c == NULL))
        return;
    int shared = vr_shared(c);
    struct vrift_op_stats *s = &c->op[op];
    vr_inc(&s->calls, 1, shared);
    if (VR_UNLIKELY(failed))
        vr_count_errors(s, err, shared);
}

/* Count a failure of `op` whose call was counted already (exec). */
static inline void vr_add_errors(uint64_t ctl, enum vrift_op op, int err)
{
    struct vrift_counters *c = vr_slot(VR_GEN(ctl));
    if (VR_LIKELY(c != NULL))
        vr_count_errors(&c->op[op], err, vr_shared(c));
}

static inline void vr_add_misc(uint64_t ctl, enum vrift_misc m, uint64_t v)
{
    struct vrift_counters *c = vr_slot(VR_GEN(ctl));
    if (VR_LIKELY(c != NULL))
        vr_inc(&c->misc[m], v, vr_shared(c));
}

/* vr_record for a call the VFS answered itself: counted as handled, and
 * its serving time kept for the time-saved estimate. */
static inline void vr_record_served(enum vrift_op op, uint64_t ctl, uint64_t t0, int failed, int err,
                                    int served_calls_misc)
{
    if (!VR_MODE(ctl))
        return;
    vr_record_as(op, ctl, t0, failed, err, 1);
    if (served_calls_misc >= 0)
        vr_add_misc(ctl, (enum vrift_misc)served_calls_misc, 1);
}

/* ---- the dynamic loader's objects (loader.c) ---- */

/* At attach: the startup objects, pending until the image's slot exists. */
VR_HIDDEN void vr_loader_attach(void);
/* The image just took its slot `c`: add what is pending. */
VR_HIDDEN void vr_loader_claimed(struct vrift_counters *c);
/* Account what dlopen loaded since the last call; `dlopen_next`: one is
 * about to run (dlopen's wrapper), 0 at exit. */
VR_HIDDEN void vr_loader_account(uint64_t ctl, int dlopen_next);
VR_HIDDEN extern int vr_loader_dirty;
/* Something may be left to account: a dlopen ran since, or the loader is
 * audited (its dlmopen and last dlopen are seen only there). */
VR_HIDDEN int vr_loader_pending(void);
/* Only the audit module's figures (no dl_iterate_phdr, which takes the
 * loader's lock: not safe in a fork child of a threaded program). */
VR_HIDDEN void vr_loader_account_audit(uint64_t ctl);
struct vrift_loader_audit;
extern struct vrift_loader_audit *vrift_loader_audit; /* loader.c: exported for the audit module */
/* The image is about to end (_exit) or exec: account the audit module's
 * figures since the last look, if the calling process owns its slot (not
 * a vfork child, which runs in its parent's memory). */
VR_HIDDEN void vr_life_before_end(void);

/* ---- stdio (stdio.c) ---- */

/* Count the reads and writes of glibc's FILE streams from now on. */
VR_HIDDEN void vr_stdio_init(void);

/* ---- session file creation/validation shared with the exported API ---- */

VR_HIDDEN uint64_t vr_layout_file_size(uint32_t slot_count);
VR_HIDDEN void vr_layout_reserved(uint32_t slot_count, uint64_t *slots_end, uint64_t *hot_start);
VR_HIDDEN void vr_layout_write(struct vrift_header *h, uint32_t slot_count,
                               const char *creator);

#endif
