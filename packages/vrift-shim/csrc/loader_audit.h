/*
 * loader_audit.h — what the loader audit module (audit/loader_audit.c,
 * libvrift_audit.so, loaded with LD_AUDIT by `vrift run --loader`) hands
 * to the shim of the same process image. Not part of any file format: both
 * sides are built together from this header.
 *
 * The module runs inside the dynamic loader, in a link-map namespace of its
 * own, before the shim is even mapped; the two cannot find each other with
 * dlsym. So when the loader maps the shim, the module looks up the shim's
 * exported `vrift_loader_audit` pointer in the shim's own dynamic symbol
 * table and points it at its tally. Every field only grows (one writer: the
 * loader calls auditors under its load lock); the shim adds what grew since
 * it last looked, as loader.c already does for the objects it maps.
 */
#ifndef VRIFT_LOADER_AUDIT_H
#define VRIFT_LOADER_AUDIT_H

#include <stdint.h>

#define VRIFT_AUDIT_SYMBOL "vrift_loader_audit"
#define VRIFT_AUDIT_VERSION 3

/* Unit of `time`. */
enum vrift_audit_clock {
    VRIFT_AUDIT_CLOCK_NONE = 0,  /* not timed (no cycle counter on this machine) */
    VRIFT_AUDIT_CLOCK_TSC = 1    /* rdtsc ticks: the shim converts with the session's clock */
};

struct vrift_loader_audit {
    uint32_t version;            /* VRIFT_AUDIT_VERSION */
    uint32_t clock;              /* enum vrift_audit_clock */
    uint64_t probes;             /* paths the loader tried while searching for an object
                                    (RUNPATH, LD_LIBRARY_PATH, hwcaps subdirectories, the
                                    ld.so.cache answer, the default dirs): one openat each */
    uint64_t probe_hits;         /* of those, the ones that loaded an object; the rest loaded
                                    nothing (their openat failed, mostly, or opened a file the
                                    loader rejected or had loaded already): readers take the
                                    difference, so that each field only grows */
    uint64_t loaded;             /* clock when the loader loaded this module */
    uint64_t time;               /* the loader's search and mapping: at startup from `loaded` to
                                    the first la_activity CONSISTENT, then each dlopen's from
                                    ADD to CONSISTENT (relocation and constructors left out) */
};

#endif
