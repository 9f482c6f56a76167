/*
 * realpath.c — realpath() resolved through the shim's own wrappers.
 *
 * glibc's realpath calls readlink() on every path component internally,
 * bypassing the PLT: cc1 alone makes tens of thousands of such calls in
 * a build, invisible to an interposer. While profiling is on we resolve
 * the path ourselves, calling the wrapped readlink()/faccessat() so each
 * step is seen and counted (and later servable by the VFS). The walk
 * makes the same calls in the same order as glibc 2.36, so results,
 * errno and the partial path left in `resolved` on ENOENT match; any
 * case outside our fixed PATH_MAX buffers falls back to the real
 * realpath. With profiling off, the real realpath runs untouched.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

#define VR_MAXLINKS 40 /* glibc's __eloop_threshold() on Linux */

char *__realpath_chk(const char *, char *, size_t);

static void *real_realpath_ptr;

static char *real_realpath(const char *name, char *resolved)
{
    char *(*real)(const char *, char *) =
        (char *(*)(const char *, char *))vr_resolve(&real_realpath_ptr, "realpath");
    if (!real) {
        errno = ENOSYS;
        return NULL;
    }
    return real(name, resolved);
}

/* Does the rest of the path (after a component) force that component to
 * be a searchable directory: a trailing "/", "/." or "/.."? */
static int rest_needs_dir(const char *end)
{
    while (*end == '/') {
        while (*end == '/')
            end++;
        char c = *end++;
        if (c == '\0')
            return 1;
        if (c != '.')
            return 0;
        if (!*end || (*end == '.' && (!end[1] || end[1] == '/')))
            return 1;
    }
    return 0;
}

enum walk { WALK_OK, WALK_ERROR, WALK_TOO_BIG };

/* Resolve `name` into out[PATH_MAX]. On WALK_ERROR, errno is set and out
 * holds the partial path, as glibc leaves it. */
static enum walk walk(const char *name, char out[PATH_MAX])
{
    char pending[PATH_MAX], link[PATH_MAX], next[PATH_MAX];
    size_t len;
    int links = 0;

    if (strlen(name) >= PATH_MAX)
        return WALK_TOO_BIG;
    strcpy(pending, name);
    if (name[0] == '/') {
        out[0] = '/';
        len = 1;
    } else {
        if (!getcwd(out, PATH_MAX)) {
            if (errno == ERANGE)
                return WALK_TOO_BIG;
            out[0] = '\0';
            return WALK_ERROR;
        }
        len = strlen(out);
    }
    out[len] = '\0';

    const char *p = pending;
    while (*p) {
        while (*p == '/')
            p++;
        const char *end = p;
        while (*end && *end != '/')
            end++;
        size_t clen = (size_t)(end - p);
        if (clen == 0)
            break;
        if (clen == 1 && p[0] == '.') {
            p = end;
            continue;
        }
        if (clen == 2 && p[0] == '.' && p[1] == '.') {
            while (len > 1 && out[len - 1] != '/')
                len--;
            if (len > 1)
                len--;
            out[len] = '\0';
            p = end;
            continue;
        }
        if (len + 1 + clen + 2 >= PATH_MAX)
            return WALK_TOO_BIG;
        size_t comp_start = len;
        if (out[len - 1] != '/')
            out[len++] = '/';
        memcpy(out + len, p, clen);
        len += clen;
        out[len] = '\0';

        ssize_t n = readlink(out, link, sizeof link - 1);
        if (n >= 0) {
            if ((size_t)n >= sizeof link - 1)
                return WALK_TOO_BIG;
            if (++links > VR_MAXLINKS) {
                errno = ELOOP;
                return WALK_ERROR;
            }
            link[n] = '\0';
            size_t rest = strlen(end);
            if ((size_t)n + rest >= PATH_MAX)
                return WALK_TOO_BIG;
            memcpy(next, link, (size_t)n);
            memcpy(next + n, end, rest + 1);
            memcpy(pending, next, (size_t)n + rest + 1);
            if (link[0] == '/') {
                len = 1;
            } else {
                len = comp_start; /* drop the link's own component */
                if (len == 0)
                    len = 1;
            }
            out[len] = '\0';
            p = pending;
            continue;
        }
        if (rest_needs_dir(end)) {
            out[len] = '/';
            out[len + 1] = '\0';
            int ok = faccessat(AT_FDCWD, out, F_OK, AT_EACCESS) == 0;
            out[len] = '\0';
            if (!ok)
                return WALK_ERROR;
        } else if (errno != EINVAL) {
            return WALK_ERROR;
        }
        p = end;
    }
    return WALK_OK;
}

static char *counted_realpath(const char *name, char *resolved)
{
    if (!name) {
        errno = EINVAL;
        return NULL;
    }
    if (!name[0]) {
        errno = ENOENT;
        return NULL;
    }
    int e0 = errno;
    char out[PATH_MAX];
    switch (walk(name, out)) {
    case WALK_OK:
        if (resolved)
            return strcpy(resolved, out);
        return strdup(out);
    case WALK_ERROR: {
        int e = errno;
        /* glibc 2.35+ (CVE-2021-3998 fix) hands back the partial path
         * only for ENOENT. */
        if (resolved && e == ENOENT)
            strcpy(resolved, out);
        errno = e;
        return NULL;
    }
    case WALK_TOO_BIG:
    default:
        errno = e0;
        return real_realpath(name, resolved);
    }
}

VR_EXPORT char *realpath(const char *name, char *resolved)
{
    uint64_t ctl = vr_control();
    if (VR_LIKELY(!VR_MODE(ctl)))
        return real_realpath(name, resolved);
    uint64_t t0 = vr_start_path(ctl, VRIFT_OP_REALPATH, name);
    char *r = counted_realpath(name, resolved);
    int e = errno;
    vr_record_path(VRIFT_OP_REALPATH, ctl, t0, r == NULL, e, AT_FDCWD, name);
    errno = e;
    return r;
}

VR_EXPORT char *canonicalize_file_name(const char *name) { return realpath(name, NULL); }

VR_EXPORT char *__realpath_chk(const char *name, char *resolved, size_t resolvedlen)
{
    if (resolvedlen < PATH_MAX) { /* let glibc report the overflow its way */
        static void *p;
        char *(*real)(const char *, char *, size_t) =
            (char *(*)(const char *, char *, size_t))vr_resolve(&p, "__realpath_chk");
        if (real)
            return real(name, resolved, resolvedlen);
    }
    return realpath(name, resolved);
}
