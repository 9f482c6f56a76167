/*
 * vfs_lookup.c — from (dirfd, path) to a manifest entry, and the dirty table.
 *
 * A path is looked up the way the kernel would walk the ingested tree:
 * component by component from the projection root, following symlinks
 * stored in the manifest (relative, or absolute into the same projection;
 * 40 hops at most), resolving ".." physically, and honouring a trailing
 * '/' (the result must be a directory). Whatever leaves the manifest
 * (a symlink out of the projection, ".." above the root, a name the
 * manifest does not hold) is not served: the real call answers it.
 *
 * The common case costs one hash and one probe: a path already in normal
 * form that names an entry is exact, because manifest paths are the
 * physical paths of the ingested walk (no symlink inside them). Only a
 * miss in a manifest that holds symlinks, a path with ".", "..", "//" or
 * a trailing '/', or a symlink to follow takes the walk.
 *
 * The dirty table (shared by every process of every session) holds paths
 * changed through the shim. A changed path is never served again; a
 * renamed or removed one is "gone" and hides everything below it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "rawsys.h"
#include "vfs_internal.h"

#define MAX_HOPS 40

/* ---- the dirty table ---- */

/* The slot's flags for `h` (0: clean). Waits, bounded, while another
 * process is copying that path out of the store. */
uint64_t vr_dirty_flags(struct vr_proj *p, uint64_t h)
{
    if (__atomic_load_n(&p->dirty_head->all_dirty, __ATOMIC_ACQUIRE))
        return VR_DIRTY_DONE;
    uint64_t key = vr_dirty_key(h), mask = p->dirty_slots - 1;
    for (uint64_t i = 0; i < VRIFT_DIRTY_PROBES; i++) {
        uint64_t *slot = &p->dirty[(key + i) & mask];
        uint64_t v = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
        if (v == 0)
            return 0;
        if ((v & ~VR_DIRTY_FLAGS) != key)
            continue;
        for (int w = 0; w < 2000 && !(v & VR_DIRTY_FLAGS); w++) {
            struct timespec ts = {0, 500000};
            vr_syscall(SYS_nanosleep, &ts, NULL);
            v = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
        }
        return (v & VR_DIRTY_FLAGS) ? (v & VR_DIRTY_FLAGS) : VR_DIRTY_DONE;
    }
    return 0;
}

/* flags == 0: claim `h` for a copy (returns the slot; NULL when the path
 * is already changed or being changed, or the table is full). Otherwise
 * mark it with `flags` (DONE, DONE|GONE). */
uint64_t *vr_dirty_claim(struct vr_proj *p, uint64_t h, uint64_t flags)
{
    uint64_t key = vr_dirty_key(h), mask = p->dirty_slots - 1;
    uint64_t want = key | flags;
    for (uint64_t i = 0; i < VRIFT_DIRTY_PROBES; i++) {
        uint64_t *slot = &p->dirty[(key + i) & mask];
        uint64_t v = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
        if (v == 0 && __atomic_compare_exchange_n(slot, &v, want, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            if (flags & VR_DIRTY_GONE)
                __atomic_fetch_add(&p->dirty_head->gone_marks, 1, __ATOMIC_RELEASE);
            return slot;
        }
        if ((v & ~VR_DIRTY_FLAGS) != key)
            continue;
        if (!flags) {
            if ((v & VR_DIRTY_FAILED) &&
                __atomic_compare_exchange_n(slot, &v, key, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return slot; /* retry a failed copy */
            return NULL;
        }
        uint64_t merged = (v & (VR_DIRTY_DONE | VR_DIRTY_GONE)) | flags;
        if ((merged & VR_DIRTY_GONE) && !(v & VR_DIRTY_GONE))
            __atomic_fetch_add(&p->dirty_head->gone_marks, 1, __ATOMIC_RELEASE);
        __atomic_store_n(slot, key | merged, __ATOMIC_RELEASE);
        return NULL;
    }
    __atomic_store_n(&p->dirty_head->all_dirty, 1, __ATOMIC_RELEASE); /* full: stop serving this projection */
    return NULL;
}

/* Is `rel` or a directory above it gone? Costs nothing until something
 * in the projection has been renamed away or removed. */
static int gone(struct vr_proj *p, const char *rel, size_t n)
{
    if (!__atomic_load_n(&p->dirty_head->gone_marks, __ATOMIC_ACQUIRE))
        return 0;
    for (size_t i = 1; i <= n; i++)
        if ((i == n || rel[i] == '/') &&
            (vr_dirty_flags(p, vr_hash_bytes(VR_PATH_SEED, rel, i)) & VR_DIRTY_GONE))
            return 1;
    return 0;
}

/* ---- the manifest ---- */

static int bloom_has(const struct vr_proj *p, uint64_t h)
{
    uint64_t bits = p->m->bloom_bits, h2 = (h >> 32) | 1;
    for (uint64_t i = 0; i < VRIFT_BLOOM_HASHES; i++) {
        uint64_t b = (h + i * h2) & (bits - 1);
        if (!(p->bloom[b >> 6] & (1ull << (b & 63))))
            return 0;
    }
    return 1;
}

/* The manifest is untrusted: an entry whose strings lie outside the
 * string table is treated as absent (checked on use, not at attach, so
 * attaching costs nothing per exec whatever the manifest's size). */
static int entry_ok(const struct vr_proj *p, const struct vrift_manifest_entry *e)
{
    uint64_t size = p->m->strings_size;
    if ((uint64_t)e->path_off + e->path_len >= size)
        return 0;
    return e->type != VRIFT_ENTRY_SYMLINK || (uint64_t)e->target_off + e->target_len < size;
}

int64_t vr_index_find(const struct vr_proj *p, const char *rel, size_t n, uint64_t h)
{
    uint64_t mask = p->m->index_slots - 1;
    for (uint64_t i = 0; i <= mask; i++) {
        uint32_t v = p->index[(h + i) & mask];
        if (v == 0 || v > p->m->entry_count)
            return -1;
        const struct vrift_manifest_entry *e = &p->entries[v - 1];
        if (e->path_hash == h && e->path_len == n && entry_ok(p, e) &&
            memcmp(vr_entry_path(p, e), rel, n) == 0)
            return v - 1;
    }
    return -1;
}

enum found { NOT_SERVED = 0, FOUND = 1, BLOOM_MISS = 2, INDEX_MISS = 3 };

/* Bloom, then index. */
static enum found find(const struct vr_proj *p, const char *rel, size_t n, uint64_t *h, int64_t *idx)
{
    *h = vr_hash_bytes(VR_PATH_SEED, rel, n);
    if (!bloom_has(p, *h))
        return BLOOM_MISS;
    *idx = vr_index_find(p, rel, n, *h);
    return *idx < 0 ? INDEX_MISS : FOUND;
}

/* ---- locating and walking ---- */

int vr_projection_of(const char *abs, size_t len)
{
    for (int pi = 0; pi < vr_vfs_count; pi++) {
        const struct vr_proj *p = &vr_projs[pi];
        if (p->m && len >= p->root_len && memcmp(abs, p->root, p->root_len) == 0 &&
            (len == p->root_len || abs[p->root_len] == '/'))
            return pi;
    }
    return -1;
}

/* Which projection (dirfd, path) starts in, and the path below its root
 * as spelled (not yet normal). */
static int locate(int dirfd, const char *path, char *raw, size_t cap, size_t *raw_len)
{
    if (!path || !*path)
        return -1;
    size_t plen = strnlen(path, PATH_MAX + 1);
    if (plen > PATH_MAX)
        return -1;
    if (path[0] != '/' && dirfd != AT_FDCWD) {
        uint32_t v = vr_fd_lookup(dirfd);
        if (!v)
            return -1;
        int pi = vr_dec_proj(v);
        const struct vr_proj *p = &vr_projs[pi];
        const struct vrift_manifest_entry *d = &p->entries[vr_dec_idx(v)];
        if (d->type != VRIFT_ENTRY_DIR || d->path_len + 1 + plen >= cap)
            return -1;
        memcpy(raw, vr_entry_path(p, d), d->path_len);
        raw[d->path_len] = '/';
        memcpy(raw + d->path_len + 1, path, plen + 1);
        *raw_len = d->path_len + 1 + plen;
        return pi;
    }
    char tmp[2 * PATH_MAX];
    const char *abs = path;
    size_t alen = plen;
    if (path[0] != '/') {
        size_t clen;
        const char *cwd = vr_cwd(&clen);
        if (!cwd || clen + 1 + plen >= sizeof tmp)
            return -1;
        memcpy(tmp, cwd, clen);
        tmp[clen] = '/';
        memcpy(tmp + clen + 1, path, plen + 1);
        abs = tmp;
        alen = clen + 1 + plen;
    }
    int pi = vr_projection_of(abs, alen);
    if (pi < 0)
        return -1;
    size_t rl = vr_projs[pi].root_len;
    if (alen - rl >= cap)
        return -1;
    memcpy(raw, abs + rl, alen - rl + 1);
    *raw_len = alen - rl;
    return pi;
}

/* Already normal: no empty, "." or ".." component, no leading or
 * trailing '/'. */
static int is_normal(const char *s, size_t n)
{
    if (n && (s[0] == '/' || s[n - 1] == '/'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (i && s[i] != '/')
            continue;
        size_t c = i ? i + 1 : 0; /* start of a component */
        if (c < n && (s[c] == '/' || (s[c] == '.' && (c + 1 == n || s[c + 1] == '/' ||
                                                      (s[c + 1] == '.' && (c + 2 == n || s[c + 2] == '/'))))))
            return 0;
    }
    return 1;
}

/* The kernel's walk over the manifest. Returns FOUND with out->rel/idx set,
 * a miss kind, or NOT_SERVED. */
static enum found walk(struct vr_proj *p, const char *raw, size_t raw_len, int flags, struct vr_hit *out)
{
    char bufs[2][2 * PATH_MAX];
    int which = 0;
    if (raw_len >= sizeof bufs[0])
        return NOT_SERVED;
    memcpy(bufs[0], raw, raw_len + 1);
    const char *rem = bufs[0];
    size_t rem_len = raw_len, pos = 0;
    char *cur = out->rel;
    size_t cur_len = 0;
    int hops = 0;
    int64_t idx = -1;
    uint64_t h = 0;
    for (;;) {
        while (pos < rem_len && rem[pos] == '/')
            pos++;
        if (pos >= rem_len)
            break;
        size_t end = pos;
        while (end < rem_len && rem[end] != '/')
            end++;
        const char *name = rem + pos;
        size_t nl = end - pos;
        size_t next = end;
        while (next < rem_len && rem[next] == '/')
            next++;
        int last = next >= rem_len, slash_after = end < rem_len;
        pos = end;
        if (nl == 1 && name[0] == '.')
            continue;
        if (nl == 2 && name[0] == '.' && name[1] == '.') {
            if (cur_len == 0)
                return NOT_SERVED; /* above the projection root */
            while (cur_len > 0 && cur[cur_len - 1] != '/')
                cur_len--;
            if (cur_len > 0)
                cur_len--;
            idx = vr_index_find(p, cur, cur_len, h = vr_hash_bytes(VR_PATH_SEED, cur, cur_len));
            if (idx < 0)
                return NOT_SERVED;
            continue;
        }
        size_t cand_len = cur_len + (cur_len ? 1 : 0) + nl;
        if (cand_len >= PATH_MAX)
            return NOT_SERVED;
        char cand[PATH_MAX];
        memcpy(cand, cur, cur_len);
        if (cur_len)
            cand[cur_len] = '/';
        memcpy(cand + cand_len - nl, name, nl);
        enum found f = find(p, cand, cand_len, &h, &idx);
        if (f != FOUND)
            return last ? f : NOT_SERVED;
        const struct vrift_manifest_entry *e = &p->entries[idx];
        if (e->type == VRIFT_ENTRY_SYMLINK && (!last || slash_after || (flags & VR_FOLLOW))) {
            if (vr_dirty_flags(p, h) & (VR_DIRTY_DONE | VR_DIRTY_GONE))
                return NOT_SERVED; /* the link itself changed */
            if (++hops > MAX_HOPS)
                return NOT_SERVED;
            const char *t = p->strings + e->target_off;
            size_t tl = e->target_len, rest = rem_len - pos;
            char *nb = bufs[which ^ 1];
            size_t o = 0;
            if (tl && t[0] == '/') { /* absolute: only into this same projection */
                if (tl < p->root_len || memcmp(t, p->root, p->root_len) != 0 ||
                    (tl > p->root_len && t[p->root_len] != '/'))
                    return NOT_SERVED;
                t += p->root_len;
                tl -= p->root_len;
                cur_len = 0;
            }
            if (tl + rest >= sizeof bufs[0])
                return NOT_SERVED;
            memcpy(nb, t, tl); /* the rest still starts with its '/' */
            o = tl;
            memcpy(nb + o, rem + pos, rest);
            o += rest;
            nb[o] = '\0';
            which ^= 1;
            rem = nb;
            rem_len = o;
            pos = 0;
            continue;
        }
        if (!last || slash_after) {
            if (e->type != VRIFT_ENTRY_DIR)
                return NOT_SERVED; /* ENOTDIR: the kernel says so */
        }
        memcpy(cur, cand, cand_len);
        cur_len = cand_len;
    }
    cur[cur_len] = '\0';
    out->rel_len = cur_len;
    if (cur_len == 0)
        idx = vr_index_find(p, "", 0, h = vr_hash_bytes(VR_PATH_SEED, "", 0));
    if (idx < 0)
        return NOT_SERVED;
    out->idx = (uint32_t)idx;
    out->hash = h;
    return FOUND;
}

/* The full lookup, counting bloom rejects, manifest hits and misses
 * (when `ctl` counts). Returns 1 with *out filled for a servable entry. */
int vr_lookup(int dirfd, const char *path, int flags, uint64_t ctl, struct vr_hit *out)
{
    char raw[2 * PATH_MAX];
    size_t raw_len;
    int pi = locate(dirfd, path, raw, sizeof raw, &raw_len);
    if (pi < 0)
        return 0;
    struct vr_proj *p = &vr_projs[pi];
    const char *r = raw;
    while (raw_len && *r == '/') {
        r++;
        raw_len--;
    }
    enum found f = NOT_SERVED;
    int64_t idx = -1;
    uint64_t h = 0;
    if (is_normal(r, raw_len) && raw_len < PATH_MAX) {
        f = find(p, r, raw_len, &h, &idx);
        if (f == FOUND) {
            const struct vrift_manifest_entry *e = &p->entries[idx];
            if (e->type == VRIFT_ENTRY_SYMLINK && (flags & VR_FOLLOW)) {
                f = walk(p, r, raw_len, flags, out);
            } else {
                memcpy(out->rel, r, raw_len);
                out->rel[raw_len] = '\0';
                out->rel_len = raw_len;
                out->idx = (uint32_t)idx;
                out->hash = h;
            }
        } else if (p->m->symlink_count) {
            f = walk(p, r, raw_len, flags, out); /* a symlinked directory on the way? */
        }
    } else {
        f = walk(p, r, raw_len, flags, out);
    }
    if (f != FOUND) {
        if (VR_MODE(ctl) && f == BLOOM_MISS)
            vr_add_misc(ctl, VRIFT_MISC_BLOOM_REJECTS, 1);
        else if (VR_MODE(ctl) && f == INDEX_MISS)
            vr_add_misc(ctl, VRIFT_MISC_MANIFEST_MISSES, 1);
        return 0;
    }
    uint64_t df = vr_dirty_flags(p, out->hash);
    if ((df & VR_DIRTY_GONE) || gone(p, out->rel, out->rel_len))
        return 0;
    if ((df & VR_DIRTY_DONE) && !(flags & VR_DIRTY_OK))
        return 0;
    if (VR_MODE(ctl))
        vr_add_misc(ctl, VRIFT_MISC_MANIFEST_HITS, 1);
    out->pi = pi;
    out->e = &p->entries[out->idx];
    return 1;
}

int vr_abs_path(const struct vr_proj *p, const char *rel, size_t rel_len, char *out, size_t cap)
{
    if (p->root_len + 1 + rel_len + 1 > cap)
        return 0;
    memcpy(out, p->root, p->root_len);
    size_t o = p->root_len;
    if (rel_len) {
        out[o++] = '/';
        memcpy(out + o, rel, rel_len);
        o += rel_len;
    }
    out[o] = '\0';
    return 1;
}

/* store/blobs/ab/cdef...[.x]: the exec bit is part of a blob's identity
 * (execve checks the inode's mode), so an executable file has its own
 * 0555 blob. */
int vr_blob_path(const struct vr_proj *p, const struct vrift_manifest_entry *e, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    if (p->store_len + 8 + 2 * VRIFT_BLOB_HASH_LEN + 4 >= cap)
        return 0;
    memcpy(out, p->store, p->store_len);
    size_t o = p->store_len;
    memcpy(out + o, "/blobs/", 7);
    o += 7;
    for (int i = 0; i < VRIFT_BLOB_HASH_LEN; i++) {
        out[o++] = hex[e->blob[i] >> 4];
        out[o++] = hex[e->blob[i] & 15];
        if (i == 0)
            out[o++] = '/';
    }
    if (e->st.stx_mode & 0111) {
        memcpy(out + o, VRIFT_BLOB_EXEC_SUFFIX, sizeof VRIFT_BLOB_EXEC_SUFFIX - 1);
        o += sizeof VRIFT_BLOB_EXEC_SUFFIX - 1;
    }
    out[o] = '\0';
    return 1;
}
