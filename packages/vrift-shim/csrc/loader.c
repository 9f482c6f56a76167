/*
 * loader.c — what the dynamic loader mapped, derived from its result.
 *
 * ld.so opens, reads, fstats, mmaps and closes every shared object before
 * any preloaded code runs, and again inside dlopen, with its own internal
 * system calls: no wrapper sees them (a Python import storm loses ~15% of
 * its file system calls this way). What the shim can see cheaply is the
 * result, the objects loaded (dl_iterate_phdr, no system call). Each one
 * not accounted yet adds 1 to `loader_objects` and its PT_LOAD segments to
 * `loader_segments`; readers derive the loader's system calls from them
 * (per object an openat, a read of the ELF header, an fstat, a close, and
 * one mmap per segment) and say they are derived. Not visible this way:
 * failed search probes along RUNPATH, and the time the loader took: those
 * come from the loader audit module (audit/loader_audit.c, `--loader`),
 * when it runs, through `vrift_loader_audit`.
 *
 * Accounted at attach (the program's startup libraries: kept pending until
 * the image claims its slot, so a process that counts nothing still takes
 * none), before each dlopen (what the previous ones loaded: dlopen itself
 * must stay a tail call), and at exit.
 */
#define _GNU_SOURCE
#include <link.h>
#include <string.h>

#include "loader_audit.h"
#include "shim.h"

/* Set by the loader audit module when the loader maps this library
 * (before any of its code runs); NULL without LD_AUDIT. Exported so that
 * the module finds it (loader_audit.h). */
VR_EXPORT struct vrift_loader_audit *vrift_loader_audit;

static unsigned long long vr_loader_adds; /* dlpi_adds when last accounted */
int vr_loader_dirty;                     /* a dlopen ran since */
static int vr_loader_busy;               /* one thread accounts at a time; others leave it to the next */

#define RING 256

struct tally {
    unsigned long long adds;
    unsigned n;
    uint8_t segments[RING]; /* PT_LOAD count of the last RING objects, 0: not a loaded file */
    const char *interp;     /* the program's PT_INTERP: ld.so, mapped by the kernel */
};

static int visit(struct dl_phdr_info *info, size_t size, void *data)
{
    struct tally *t = data;
    if (size < offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs)
        return 1; /* no dlpi_adds: nothing to go by */
    t->adds = info->dlpi_adds;
    unsigned seg = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type == PT_LOAD)
            seg++;
        if (t->n == 0 && info->dlpi_phdr[i].p_type == PT_INTERP)
            t->interp = (const char *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    }
    /* The program, the vDSO and ld.so are mapped by the kernel, not opened by the loader. */
    const char *name = info->dlpi_name;
    int file = t->n > 0 && name && name[0] && strncmp(name, "linux-vdso", 10) != 0 &&
               !(t->interp && strcmp(name, t->interp) == 0);
    t->segments[t->n % RING] = file ? (uint8_t)(seg < 255 ? seg : 255) : 0;
    t->n++;
    return 0;
}

/* Objects loaded since the last call: *objects and *segments. */
static void tally_new(uint64_t *objects, uint64_t *segments)
{
    struct tally t = {0};
    dl_iterate_phdr(visit, &t);
    *objects = *segments = 0;
    if (!t.adds || t.adds <= vr_loader_adds)
        return;
    /* the newest objects are the last ones visited */
    unsigned long long fresh = t.adds - vr_loader_adds;
    vr_loader_adds = t.adds;
    unsigned k = fresh < t.n ? (unsigned)fresh : t.n;
    if (k > RING)
        k = RING;
    for (unsigned i = t.n - k; i < t.n; i++)
        if (t.segments[i % RING]) {
            (*objects)++;
            *segments += t.segments[i % RING];
        }
}

/* The audit module's figures: what grew since they were last accounted
 * (each of its fields only grows; a fork child inherits what its parent
 * accounted, so it adds only its own). */
struct audit_delta {
    uint64_t probes, hits, ns;
};
static struct vrift_loader_audit vr_audit_seen;

static void audit_new(struct audit_delta *d)
{
    const struct vrift_loader_audit *a = __atomic_load_n(&vrift_loader_audit, __ATOMIC_ACQUIRE);
    d->probes = d->hits = d->ns = 0;
    if (!a || a->version != VRIFT_AUDIT_VERSION)
        return;
    uint64_t probes = __atomic_load_n(&a->probes, __ATOMIC_RELAXED);
    uint64_t hits = __atomic_load_n(&a->probe_hits, __ATOMIC_RELAXED);
    uint64_t time = __atomic_load_n(&a->time, __ATOMIC_RELAXED);
    d->probes = probes - vr_audit_seen.probes;
    d->hits = hits - vr_audit_seen.probe_hits;
    /* ticks to ns with the session's clock; no session TSC: not timed */
    if (a->clock == VRIFT_AUDIT_CLOCK_TSC && vr_use_tsc)
        d->ns = vr_elapsed_ns(0, time - vr_audit_seen.time);
    vr_audit_seen.probes = probes;
    vr_audit_seen.probe_hits = hits;
    vr_audit_seen.time = time;
}

static uint64_t vr_loader_pending_objects, vr_loader_pending_segments;
static struct audit_delta vr_audit_pending;

void vr_loader_attach(void)
{
    tally_new(&vr_loader_pending_objects, &vr_loader_pending_segments);
    audit_new(&vr_audit_pending); /* startup: the module timed it up to every object mapped */
}

void vr_loader_claimed(struct vrift_counters *c)
{
    c->misc[VRIFT_MISC_LOADER_OBJECTS] += vr_loader_pending_objects;
    c->misc[VRIFT_MISC_LOADER_SEGMENTS] += vr_loader_pending_segments;
    vr_loader_pending_objects = vr_loader_pending_segments = 0;
    if (__atomic_load_n(&vrift_loader_audit, __ATOMIC_RELAXED)) {
        c->misc[VRIFT_MISC_LOADER_AUDITED] += 1;
        c->misc[VRIFT_MISC_LOADER_PROBES] += vr_audit_pending.probes;
        c->misc[VRIFT_MISC_LOADER_PROBE_HITS] += vr_audit_pending.hits;
        c->misc[VRIFT_MISC_LOADER_NS] += vr_audit_pending.ns;
        vr_audit_pending.probes = vr_audit_pending.hits = vr_audit_pending.ns = 0;
    }
}

int vr_loader_pending(void)
{
    return vr_loader_dirty || __atomic_load_n(&vrift_loader_audit, __ATOMIC_RELAXED) != NULL;
}

/* The audit module's figures since the last look: plain loads, no lock. */
static void account_audit(uint64_t ctl)
{
    struct audit_delta d;
    audit_new(&d);
    if (d.probes || d.hits || d.ns) {
        vr_add_misc(ctl, VRIFT_MISC_LOADER_PROBES, d.probes);
        vr_add_misc(ctl, VRIFT_MISC_LOADER_PROBE_HITS, d.hits);
        vr_add_misc(ctl, VRIFT_MISC_LOADER_NS, d.ns);
    }
}

void vr_loader_account(uint64_t ctl, int dlopen_next)
{
    if (__atomic_exchange_n(&vr_loader_busy, 1, __ATOMIC_ACQUIRE))
        return;
    if (VR_MODE(ctl)) {
        if (vr_loader_dirty) {
            uint64_t objects, segments;
            tally_new(&objects, &segments);
            if (objects) {
                vr_add_misc(ctl, VRIFT_MISC_LOADER_OBJECTS, objects);
                vr_add_misc(ctl, VRIFT_MISC_LOADER_SEGMENTS, segments);
            }
        }
        account_audit(ctl); /* the audit module also sees dlmopen, which no wrapper marks */
    }
    vr_loader_dirty = dlopen_next;
    __atomic_store_n(&vr_loader_busy, 0, __ATOMIC_RELEASE);
}

void vr_loader_account_audit(uint64_t ctl)
{
    if (!__atomic_load_n(&vrift_loader_audit, __ATOMIC_RELAXED) || !VR_MODE(ctl) ||
        __atomic_exchange_n(&vr_loader_busy, 1, __ATOMIC_ACQUIRE))
        return;
    account_audit(ctl);
    __atomic_store_n(&vr_loader_busy, 0, __ATOMIC_RELEASE);
}
