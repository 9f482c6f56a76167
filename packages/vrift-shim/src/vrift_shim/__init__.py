"""Locate vrift's LD_PRELOAD shim and the C headers that define vrift's file formats."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = [
    "audit_library_path",
    "cdef_source",
    "header_path",
    "include_dir",
    "library_path",
    "ShimNotBuiltError",
]

_HERE = Path(__file__).resolve().parent


class ShimNotBuiltError(RuntimeError):
    """libvrift_shim.so is missing, or older than the C sources it is built from."""


def _rebuild_hint() -> str:
    return "rebuild it: python packages/vrift-shim/build_shim.py (or scripts/bootstrap)"


def _newest_source(lib: Path) -> Path | None:
    """In a source checkout (an editable install), the newest C file or header
    changed after `lib` was built; None when the library is current or when
    there are no sources beside it (an installed wheel carries none).

    An editable install does not rebuild the shim when csrc/ changes: without
    this check a `git pull` or a branch switch would silently run the old
    library against new Python readers of its format."""
    csrc = _HERE.parent.parent / "csrc"
    if not (csrc / "session.c").is_file():
        return None
    built = lib.stat().st_mtime_ns
    newest = None
    newest_ns = built
    audit = csrc / "audit"
    sources = [*csrc.iterdir(), *(audit.iterdir() if audit.is_dir() else ()), *(_HERE / "include").iterdir()]
    for src in sources:
        if src.suffix in (".c", ".h"):
            ns = src.stat().st_mtime_ns
            if ns > newest_ns:
                newest, newest_ns = src, ns
    return newest


def library_path() -> Path:
    """Absolute path of libvrift_shim.so, for LD_PRELOAD. Raises
    ShimNotBuiltError (one line, for the user) when it is missing or stale."""
    return _built("libvrift_shim.so")


def audit_library_path() -> Path:
    """Absolute path of libvrift_audit.so, the loader audit module, for
    LD_AUDIT (`vrift run --loader`). Raises ShimNotBuiltError like
    library_path()."""
    return _built("libvrift_audit.so")


def _built(name: str) -> Path:
    lib = _HERE / name
    if not lib.is_file():
        raise ShimNotBuiltError(f"{lib} is missing: reinstall vrift-shim, or {_rebuild_hint()}")
    stale = _newest_source(lib)
    if stale is not None:
        raise ShimNotBuiltError(f"{lib} is older than {stale.name}: {_rebuild_hint()}")
    return lib


def include_dir() -> Path:
    """The format headers: the single source of truth for every layout."""
    return _HERE / "include"


def header_path() -> Path:
    """The profile-format header."""
    return include_dir() / "vrift_profile.h"


_INT_DEFINE = re.compile(r"#define\s+\w+\s+(0x[0-9a-fA-F]+|\d+)\b")
_LOCAL_INCLUDE = re.compile(r'#include\s+"(vrift_\w+\.h)"')


def cdef_source(*headers: str) -> str:
    """The named headers (e.g. "vrift_profile.h") as cffi's cdef takes them:
    each vrift header they include inlined once, in place; include guards,
    system includes and string #defines dropped; integer #defines kept."""
    seen: set[str] = set()
    out: list[str] = []

    def add(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for line in (include_dir() / name).read_text().splitlines():
            s = line.strip()
            if m := _LOCAL_INCLUDE.match(s):
                add(m.group(1))
            elif not s.startswith("#") or _INT_DEFINE.match(s):
                out.append(line)

    for h in headers:
        add(h)
    return "\n".join(out)
