/*
 * timing.c — which calls are timed (format 1.3, docs/format.md).
 *
 * Two clock reads cost ~20-40 ns here, more than counting a call, and
 * the cheap operations (stat, fstat, read, readdir...) are most calls of
 * a build. So every call is counted, but of those operations each thread
 * times the first VRIFT_SAMPLE_EXACT_FIRST calls (a short process's few
 * calls stay exact), then each call with probability 1/period (a
 * per-thread countdown over geometric gaps drawn from xorshift64: a
 * Bernoulli process, so no workload can fall into step with it), and
 * weighs it by the period. The session header names the period and the
 * sampled set. A VFS run times every call (the time-saved estimate
 * compares served with real calls).
 */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <unistd.h>

#include "rawsys.h"
#include "shim.h"

uint64_t vr_sampled_ops;
uint64_t vr_sample_mask;
uint64_t vr_hot_mask;
VR_TLS uint32_t vr_hot_gap;
VR_TLS uint8_t vr_hot_pick;
VR_TLS uint8_t vr_hot_only;
VR_TLS uint32_t vr_gap;
VR_TLS uint16_t vr_seen[VRIFT_OP_COUNT];

void vr_timing_init(const struct vrift_header *h)
{
    uint64_t period, ops;
    if (h->pre.minor >= 3 && h->pre.header_len >= sizeof *h) {
        period = h->timing_sample_period;
        ops = h->timing_sampled_ops;
    } else { /* 1.0-1.2: readdir alone */
        period = VRIFT_SAMPLE_PERIOD_1_0;
        ops = 1ull << VRIFT_OP_READDIR;
    }
    if (period < 2 || period > (1u << 20) || (period & (period - 1)) || vr_vfs_count) {
        period = 1; /* exact: every call timed */
        ops = 0;
    }
    vr_sample_mask = period - 1;
    vr_sampled_ops = ops;
    uint64_t hot = h->pre.minor >= 4 && h->pre.header_len >= sizeof *h ? h->hot_sample_period : 1;
    if (hot < 1 || hot > (1u << 20) || (hot & (hot - 1)))
        hot = 1;
    vr_hot_mask = hot - 1;
}

static VR_TLS uint64_t vr_coin_state;
static VR_TLS uint64_t vr_coin_bits; /* unused random bits, and how many */
static VR_TLS unsigned vr_coin_left;

static uint64_t next_random(void)
{
    uint64_t x = vr_coin_state;
    if (x == 0) /* the thread's first draw: any nonzero state, different per thread */
        x = vr_clock() ^ ((uint64_t)vr_syscall(SYS_gettid) << 32) ^ 0x9E3779B97F4A7C15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    vr_coin_state = x ? x : 1;
    return x;
}

/* A geometric gap: trials until the first success, each trial a fresh
 * log2(period)-bit slice of xorshift64 output being zero (p = 1/period). */
static uint32_t draw_gap(uint64_t mask)
{
    unsigned bits = (unsigned)__builtin_popcountll(mask);
    if (bits == 0)
        return 1;
    uint32_t k = 1;
    for (;;) {
        if (vr_coin_left < bits) {
            vr_coin_bits = next_random();
            vr_coin_left = 64;
        }
        uint64_t slice = vr_coin_bits & mask;
        vr_coin_bits >>= bits;
        vr_coin_left -= bits;
        if (slice == 0 || k == UINT32_MAX)
            return k;
        k++;
    }
}

uint32_t vr_draw_gap(void)
{
    return draw_gap(vr_sample_mask);
}

uint32_t vr_draw_hot_gap(void)
{
    return draw_gap(vr_hot_mask);
}
