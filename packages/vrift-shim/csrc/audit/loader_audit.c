/*
 * loader_audit.c — libvrift_audit.so, an LD_AUDIT module (rtld-audit(7))
 * that sees what no preloaded library can: the dynamic loader's own search
 * for each shared object, and the time the loader takes.
 *
 * `vrift run --loader` and `vrift profile run --loader` put it in LD_AUDIT.
 * The loader loads an audit module into a link-map namespace of its own,
 * with its own copy of every library it needs: this one needs none (built
 * -nostdlib, no DT_NEEDED, no undefined symbol), so all it costs a process
 * is mapping one small object and a few calls per object loaded.
 *
 * What it counts (struct vrift_loader_audit, loader_audit.h):
 *  - each path the loader tries while searching (la_objsearch with a search
 *    flag: RUNPATH, LD_LIBRARY_PATH, hwcaps subdirectories, the ld.so.cache
 *    answer, the default directories). The loader opens each one; the last
 *    probe of a search that loads an object (la_objopen follows) is a hit,
 *    every other one failed (ENOENT, mostly).
 *  - the loader's time, with the cycle counter: its search and mapping of
 *    objects, at startup from this module's load to the first
 *    la_activity(LA_ACT_CONSISTENT) (every startup object mapped), then in
 *    each later dlopen or dlmopen from LA_ACT_ADD to LA_ACT_CONSISTENT.
 *    Relocation and constructors are not bracketed by any audit call (and
 *    la_preinit only comes after every constructor), so they are left out.
 *
 * The shim (loader.c) adds these to the image's counters. To hand them over
 * the module finds the shim when the loader maps it (la_objopen) and stores
 * the tally's address in the shim's exported `vrift_loader_audit`, looked
 * up in the shim's GNU hash table: dlsym cannot cross namespaces, and the
 * module has no libc.
 *
 * Nothing here changes what the loader does: la_objsearch returns the name
 * it was given, la_objopen asks for no symbol-binding callbacks (so no PLT
 * call goes through an auditing trampoline).
 */
#define _GNU_SOURCE
#include <elf.h>
#include <link.h>
#include <stddef.h>
#include <stdint.h>

#include "loader_audit.h"

#define EXPORT __attribute__((visibility("default")))

static struct vrift_loader_audit tally = {
    .version = VRIFT_AUDIT_VERSION,
#if defined(__x86_64__) || defined(__i386__)
    .clock = VRIFT_AUDIT_CLOCK_TSC,
#else
    .clock = VRIFT_AUDIT_CLOCK_NONE,
#endif
};

static uint64_t t_add;      /* clock at the LA_ACT_ADD of the dlopen in progress; 0: none */
static int started;         /* the startup objects are loaded (their LA_ACT_CONSISTENT) */
static uint64_t pending;    /* probes of the search in progress */

static uint64_t now(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_ia32_rdtsc();
#else
    return 0;
#endif
}

/* Stores that the shim reads from its own code: plain, in order. */
static void bump(uint64_t *field, uint64_t by)
{
    __atomic_store_n(field, *field + by, __ATOMIC_RELAXED);
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = 0, m = 0;
    while (s[n])
        n++;
    while (tail[m])
        m++;
    if (m > n)
        return 0;
    for (size_t i = 0; i < m; i++)
        if (s[n - m + i] != tail[i])
            return 0;
    return 1;
}

static int same(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

/* The loader may already have rebased the dynamic section's addresses. */
static const void *dyn_ptr(ElfW(Addr) base, ElfW(Addr) p)
{
    return (const void *)(p < base ? base + p : p);
}

/* Address of the defined dynamic symbol `name` of the object mapped at
 * `base` with dynamic section `dyn`, by its GNU hash table; NULL if none. */
static void *gnu_lookup(ElfW(Addr) base, const ElfW(Dyn) *dyn, const char *name)
{
    const uint32_t *ht = NULL;
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    for (; dyn && dyn->d_tag != DT_NULL; dyn++) {
        if (dyn->d_tag == DT_GNU_HASH)
            ht = dyn_ptr(base, dyn->d_un.d_ptr);
        else if (dyn->d_tag == DT_SYMTAB)
            symtab = dyn_ptr(base, dyn->d_un.d_ptr);
        else if (dyn->d_tag == DT_STRTAB)
            strtab = dyn_ptr(base, dyn->d_un.d_ptr);
    }
    if (!ht || !symtab || !strtab || ht[0] == 0)
        return NULL;
    uint32_t nbuckets = ht[0], symoffset = ht[1], bloom_size = ht[2];
    const ElfW(Addr) *bloom = (const ElfW(Addr) *)(const void *)(ht + 4);
    const uint32_t *buckets = (const uint32_t *)(const void *)(bloom + bloom_size);
    const uint32_t *chain = buckets + nbuckets;
    uint32_t h = 5381;
    for (const char *c = name; *c; c++)
        h = h * 33 + (uint8_t)*c;
    uint32_t i = buckets[h % nbuckets];
    if (i < symoffset)
        return NULL;
    for (;; i++) {
        uint32_t ch = chain[i - symoffset];
        const ElfW(Sym) *s = &symtab[i];
        if ((ch | 1) == (h | 1) && s->st_shndx != SHN_UNDEF && same(strtab + s->st_name, name))
            return (void *)(base + s->st_value);
        if (ch & 1)
            return NULL;
    }
}

EXPORT unsigned int la_version(unsigned int version)
{
    tally.loaded = now();
    return version < LAV_CURRENT ? version : LAV_CURRENT;
}

EXPORT char *la_objsearch(const char *name, uintptr_t *cookie, unsigned int flag)
{
    (void)cookie;
    if (flag == LA_SER_ORIG) {
        pending = 0; /* a new search; the last one's probes all failed */
    } else {
        pending++;
        bump(&tally.probes, 1);
    }
    return (char *)name;
}

EXPORT unsigned int la_objopen(struct link_map *map, Lmid_t lmid, uintptr_t *cookie)
{
    (void)lmid;
    (void)cookie;
    if (pending) {
        bump(&tally.probe_hits, 1); /* the search's last probe found it */
        pending = 0;
    }
    const char *name = map->l_name;
    if (name && ends_with(name, "/libvrift_shim.so")) {
        struct vrift_loader_audit **slot = gnu_lookup(map->l_addr, map->l_ld, VRIFT_AUDIT_SYMBOL);
        if (slot)
            __atomic_store_n(slot, &tally, __ATOMIC_RELEASE);
    }
    return 0; /* no symbol-binding callbacks */
}

EXPORT void la_activity(uintptr_t *cookie, unsigned int flag)
{
    (void)cookie;
    if (!started) { /* startup: from this module's load to every startup object mapped */
        if (flag == LA_ACT_CONSISTENT) {
            started = 1;
            bump(&tally.time, now() - tally.loaded);
        }
        return;
    }
    if (flag == LA_ACT_ADD) {
        t_add = now();
    } else if (flag == LA_ACT_CONSISTENT && t_add) {
        bump(&tally.time, now() - t_add);
        t_add = 0;
    }
}
