"""cffi (ABI mode) over the shim's profile-format header.

The header in vrift_shim is the single source of truth for the layout;
this module only strips what cffi's cdef cannot parse (include guards,
#include) and keeps its structs, enums and integer #defines.
"""

from __future__ import annotations

import re
from functools import cache

import cffi
import vrift_shim

_INT_DEFINE = re.compile(r"#define\s+\w+\s+(0x[0-9a-fA-F]+|\d+)\s*$")


def cdef_source(header_text: str) -> str:
    kept = []
    for line in header_text.splitlines():
        if line.lstrip().startswith("#") and not _INT_DEFINE.match(line.strip()):
            continue
        kept.append(line)
    return "\n".join(kept)


@cache
def ffi() -> cffi.FFI:
    f = cffi.FFI()
    f.cdef(cdef_source(vrift_shim.header_path().read_text()))
    f.cdef("int vrift_shim_calibrate_clock(uint64_t *mult, uint32_t *shift);")
    return f


@cache
def constants() -> dict[str, int]:
    """Every integer constant and enum value the header defines."""
    f = ffi()
    lib = f.dlopen(None)
    names = [n for n in dir(lib) if n.startswith("VRIFT_")]
    return {n: getattr(lib, n) for n in names}


def enum_names(prefix: str, count_name: str) -> list[str]:
    """Lower-cased enum members after `prefix`, in value order, without the COUNT sentinel."""
    c = constants()
    n = c[count_name]
    out = [""] * n
    for name, value in c.items():
        if name.startswith(prefix) and name != count_name and 0 <= value < n:
            out[value] = name[len(prefix) :].lower()
    return out


def calibrate_clock() -> tuple[int, int, int]:
    """(clock_source, mult, shift) measured by the shim itself, so every
    process of a session converts TSC ticks with the same factor."""
    f = ffi()
    lib = f.dlopen(str(vrift_shim.library_path()))
    mult = f.new("uint64_t *")
    shift = f.new("uint32_t *")
    source = lib.vrift_shim_calibrate_clock(mult, shift)
    return int(source), int(mult[0]), int(shift[0])
