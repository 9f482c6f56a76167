/*
 * shim.h — what the shim's translation units share: the session state,
 * the clock, and the inline counting helpers used by every wrapper.
 *
 * Hot-path rules (docs/shim.md): with profiling off a wrapper costs one
 * load and one predictable branch; with it on, two clock reads and a few
 * relaxed atomic adds into this process's own slot. No locks, no malloc,
 * no syscalls, errno untouched.
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
_Static_assert(offsetof(struct vrift_header, pre) == 0, "preamble first");
_Static_assert(sizeof(struct vrift_header) % 8 == 0, "header keeps u64 alignment");

/* ---- session state (session.c) ---- */

/* Points at a zero word until a session is attached, then at
 * header->enabled: the one load every wrapper does first. */
VR_HIDDEN extern const uint32_t *vr_enabled_word;
VR_HIDDEN extern struct vrift_header *vr_hdr;
/* This process image's counters; NULL until its first counted call
 * claims a slot (and again in a fork child). */
VR_HIDDEN extern struct vrift_counters *vr_counters;
VR_HIDDEN extern int vr_use_tsc;
VR_HIDDEN extern uint64_t vr_tsc_mult;
VR_HIDDEN extern uint32_t vr_tsc_shift;

VR_HIDDEN struct vrift_counters *vr_claim_slot(void);
VR_HIDDEN uint64_t vr_monotonic_ns(void);

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

static inline uint32_t vr_on(void)
{
    return __atomic_load_n(vr_enabled_word, __ATOMIC_RELAXED);
}

static inline uint64_t vr_clock(void)
{
#if defined(__x86_64__) || defined(__i386__)
    if (VR_LIKELY(vr_use_tsc))
        return __builtin_ia32_rdtsc();
#endif
    return vr_monotonic_ns();
}

static inline uint64_t vr_elapsed_ns(uint64_t t0, uint64_t t1)
{
    uint64_t d = t1 - t0;
    if (t1 < t0)
        return 0;
    if (vr_use_tsc)
        return (uint64_t)(((unsigned __int128)d * vr_tsc_mult) >> vr_tsc_shift);
    return d;
}

static inline unsigned vr_bucket(uint64_t ns)
{
    unsigned b = 63u - (unsigned)__builtin_clzll(ns | 1);
    return b < VRIFT_HIST_BUCKETS ? b : VRIFT_HIST_BUCKETS - 1;
}

static inline void vr_add(uint64_t *p, uint64_t v)
{
    __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

static inline struct vrift_counters *vr_slot(void)
{
    struct vrift_counters *c = __atomic_load_n(&vr_counters, __ATOMIC_RELAXED);
    if (VR_UNLIKELY(c == NULL))
        c = vr_claim_slot();
    return c;
}

/* Count one finished call. `err` is the errno the call left (only read
 * when `failed`). Never touches errno. */
static inline void vr_record(enum vrift_op op, uint64_t t0, int failed, int err)
{
    uint64_t ns = vr_elapsed_ns(t0, vr_clock());
    struct vrift_counters *c = vr_slot();
    if (VR_UNLIKELY(c == NULL))
        return;
    struct vrift_op_stats *s = &c->op[op];
    vr_add(&s->calls, 1);
    vr_add(&s->latency_ns, ns);
    vr_add(&s->hist[vr_bucket(ns)], 1);
    if (VR_UNLIKELY(failed)) {
        vr_add(&s->errors, 1);
        if (err == ENOENT)
            vr_add(&s->enoent, 1);
        else if (err == EACCES)
            vr_add(&s->eacces, 1);
    }
}

/* Count a call without timing it (sampled readdir, tail-called dlopen). */
static inline void vr_record_untimed(enum vrift_op op, int failed, int err)
{
    struct vrift_counters *c = vr_slot();
    if (VR_UNLIKELY(c == NULL))
        return;
    struct vrift_op_stats *s = &c->op[op];
    vr_add(&s->calls, 1);
    if (VR_UNLIKELY(failed)) {
        vr_add(&s->errors, 1);
        if (err == ENOENT)
            vr_add(&s->enoent, 1);
        else if (err == EACCES)
            vr_add(&s->eacces, 1);
    }
}

static inline void vr_add_misc(enum vrift_misc m, uint64_t v)
{
    struct vrift_counters *c = vr_slot();
    if (VR_LIKELY(c != NULL))
        vr_add(&c->misc[m], v);
}

/* ---- session file creation/validation shared with the exported API ---- */

VR_HIDDEN uint64_t vr_layout_file_size(uint32_t slot_count);
VR_HIDDEN void vr_layout_write(struct vrift_header *h, uint32_t slot_count,
                               const char *creator);

#endif
