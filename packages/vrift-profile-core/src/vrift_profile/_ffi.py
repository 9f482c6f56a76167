"""cffi (ABI mode) over the shim's profile-format header.

The header in vrift_shim is the single source of truth for the layout;
vrift_shim.cdef_source gives it as cffi's cdef takes it (the vrift
headers it includes inlined, include guards dropped), so cffi sees its
structs, enums and integer #defines and nothing else.

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
import tempfile
from functools import cache
from pathlib import Path

import vrift_shim

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
    source = vrift_shim.cdef_source(vrift_shim.header_path().name) + "\n" + _EXTRA_CDEF
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


@cache
def enum_names(enum: str, prefix: str) -> tuple[str, ...]:
    """The members of `enum` (e.g. "enum vrift_op") in value order, lower-cased
    after `prefix`, without the COUNT sentinel; the values must run 0..n-1."""
    members = ffi().typeof(enum).relements
    names = sorted((v, k) for k, v in members.items() if k != f"{prefix}COUNT")
    if [v for v, _ in names] != list(range(len(names))):
        raise ValueError(f"{enum}: values are not 0..{len(names) - 1}")
    return tuple(k[len(prefix) :].lower() for _, k in names)


def calibrate_clock() -> tuple[int, int, int]:
    """(clock_source, mult, shift) measured by the shim itself, so every
    process of a session converts TSC ticks with the same factor."""
    f = ffi()
    lib = f.dlopen(str(vrift_shim.library_path()))
    mult = f.new("uint64_t *")
    shift = f.new("uint32_t *")
    source = lib.vrift_shim_calibrate_clock(mult, shift)
    return int(source), int(mult[0]), int(shift[0])
