"""cffi (ABI mode) over the shim's VFS headers (the manifest, a projection's
state), plus libc's statx."""

from __future__ import annotations

from functools import cache

import cffi
import vrift_shim


@cache
def ffi() -> cffi.FFI:
    f = cffi.FFI()
    f.cdef(vrift_shim.cdef_source("vrift_manifest.h", "vrift_vfs_state.h"))
    f.cdef(
        "int statx(int dirfd, const char *pathname, int flags, unsigned int mask, struct vrift_statx *buf);"
    )
    return f


@cache
def libc():
    return ffi().dlopen(None)


def const(name: str) -> int:
    return getattr(libc(), name)
