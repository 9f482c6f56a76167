"""cffi (ABI mode) over the shim's manifest header, plus libc's statx."""

from __future__ import annotations

import re
from functools import cache

import cffi
import vrift_shim

_INT_DEFINE = re.compile(r"#define\s+\w+\s+(0x[0-9a-fA-F]+|\d+)\s*$")


def _cdef_source(text: str) -> str:
    return "\n".join(
        ln for ln in text.splitlines() if not ln.lstrip().startswith("#") or _INT_DEFINE.match(ln.strip())
    )


@cache
def ffi() -> cffi.FFI:
    f = cffi.FFI()
    f.cdef("#define VRIFT_BYTE_ORDER_MARK 0x01020304")
    f.cdef(_cdef_source((vrift_shim.header_path().parent / "vrift_manifest.h").read_text()))
    f.cdef(
        "int statx(int dirfd, const char *pathname, int flags, unsigned int mask, struct vrift_statx *buf);"
    )
    return f


@cache
def libc():
    return ffi().dlopen(None)


def const(name: str) -> int:
    return getattr(libc(), name)
