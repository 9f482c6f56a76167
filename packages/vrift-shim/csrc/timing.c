/*
 * timing.c — which calls are timed (format 1.3, docs/format.md).
 *
 * Two clock reads cost ~20-40 ns here, more than counting a call, and
 * the cheap operations (stat, fstat, read, readdir...) are most calls of
 * a build. So every call is counted, but of those operations each thread
 * times the first 64 calls (a short process's few calls stay exact), then
 * each call with probability 1/period, decided by a per-thread xorshift64
 * coin, and weighs it by the period. The session header names the period
 * and the sampled set. A VFS run times every call (the time-saved
 * estimate compares served with real calls).
 */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

uint64_t vr_sampled_ops;
uint64_t vr_sample_mask;
VR_TLS uint64_t vr_coin_state;
VR_TLS uint16_t vr_seen[VRIFT_OP_COUNT];

void vr_timing_init(const struct vrift_header *h)
{
    uint64_t period, ops;
    if (h->pre.minor >= 3 && h->pre.header_len >= sizeof *h) {
        period = h->timing_sample_period;
        ops = h->timing_sampled_ops;
    } else { /* 1.0-1.2: readdir alone, 1 in 16 */
        period = 16;
        ops = 1ull << VRIFT_OP_READDIR;
    }
    if (period < 2 || period > (1u << 20) || (period & (period - 1)) || vr_vfs_count) {
        period = 1; /* exact: every call timed */
        ops = 0;
    }
    vr_sample_mask = period - 1;
    vr_sampled_ops = ops;
}

/* A thread's first coin: any nonzero state, different per thread. */
uint64_t vr_coin_seed(void)
{
    uint64_t x = vr_clock() ^ ((uint64_t)syscall(SYS_gettid) << 32) ^ 0x9E3779B97F4A7C15ull;
    return x ? x : 1;
}
