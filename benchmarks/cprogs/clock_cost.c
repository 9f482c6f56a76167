/* clock_cost: ns per clock read on this machine, the floor under the
 * shim's "latency" mode (two reads per timed call).
 * prints "rdtsc X" (x86 only) and "clock_gettime X" (CLOCK_MONOTONIC).
 * usage: clock_cost [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    volatile unsigned long long sink = 0;
    struct timespec ts;
    double t0;
#if defined(__x86_64__) || defined(__i386__)
    t0 = now_ns();
    for (long i = 0; i < n; i++)
        sink += __rdtsc();
    printf("rdtsc %.2f\n", (now_ns() - t0) / n);
#endif
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sink += (unsigned long long)ts.tv_nsec;
    }
    printf("clock_gettime %.2f\n", (now_ns() - t0) / n);
    return 0;
}
