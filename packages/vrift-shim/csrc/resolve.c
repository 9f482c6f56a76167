/*
 * resolve.c — lazy dlsym(RTLD_NEXT) for the real functions.
 *
 * Lazily, per symbol, so loading the shim costs nothing per exec for
 * symbols a program never calls. No lock is held around dlsym (that
 * would deadlock against dlopen's loader lock on another thread); two
 * threads resolving the same symbol store the same pointer, a benign
 * race. A per-thread guard stops dlsym -> allocator -> wrapper -> dlsym
 * recursion: the inner call gets NULL and fails or uses a raw syscall.
 */
#define _GNU_SOURCE
#include <dlfcn.h>

#include "shim.h"

static VR_TLS int vr_resolving;

void *vr_resolve_slow(void **slot, const char *name)
{
    if (vr_resolving)
        return NULL;
    vr_resolving = 1;
    int saved = errno;
    void *p = dlsym(RTLD_NEXT, name);
    errno = saved;
    vr_resolving = 0;
    if (p)
        __atomic_store_n(slot, p, __ATOMIC_RELAXED);
    return p;
}
