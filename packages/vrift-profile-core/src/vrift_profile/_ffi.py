"""cffi (ABI mode) over the shim's profile-format header.

The header in vrift_shim is the single source of truth for the layout;
this module only strips what cffi's cdef cannot parse (include guards,
#include) and keeps its structs, enums and integer #defines.

Parsing C with pycparser costs ~35 ms, a quarter of `vrift profile
show`'s budget, so the parsed FFI is emitted once as cffi's out-of-line
ABI module into the user's cache (named by a hash of the header text)
and imported from there afterwards. Without a writable cache it parses
in memory every time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import tempfile
from functools import cache
from pathlib import Path

import vrift_shim

_INT_DEFINE = re.compile(r"#define\s+\w+\s+(0x[0-9a-fA-F]+|\d+)\s*$")


def cdef_source(header_text: str) -> str:
    kept = []
    for line in header_text.splitlines():
        if line.lstrip().startswith("#") and not _INT_DEFINE.match(line.strip()):
            continue
        kept.append(line)
    return "\n".join(kept)


_EXTRA_CDEF = "int vrift_shim_calibrate_clock(uint64_t *mult, uint32_t *shift);"


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vrift"


def _parse(source: str):
    import cffi

    f = cffi.FFI()
    f.cdef(source)
    return f


def _cached(source: str):
    """Import the pre-parsed FFI for `source`, emitting it first if needed."""
    name = "_vrift_ffi_" + hashlib.sha256(source.encode()).hexdigest()[:16]
    path = _cache_dir() / f"{name}.py"
    if not path.exists():
        import cffi

        builder = cffi.FFI()
        builder.cdef(source)
        builder.set_source(name, None)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            import contextlib
            import io

            with contextlib.redirect_stdout(io.StringIO()):  # cffi announces "generating ..."
                builder.emit_python_code(tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ffi


@cache
def ffi():
    source = cdef_source(vrift_shim.header_path().read_text()) + "\n" + _EXTRA_CDEF
    try:
        return _cached(source)
    except Exception:  # unwritable cache, damaged cache file: parse in memory
        return _parse(source)


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
