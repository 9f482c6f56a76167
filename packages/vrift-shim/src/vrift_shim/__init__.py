"""Locate vrift's LD_PRELOAD shim and the C header that defines the profile format."""

from __future__ import annotations

from pathlib import Path

__all__ = ["header_path", "library_path", "ShimNotBuiltError"]

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
    for src in [*csrc.iterdir(), *(_HERE / "include").iterdir()]:
        if src.suffix in (".c", ".h"):
            ns = src.stat().st_mtime_ns
            if ns > newest_ns:
                newest, newest_ns = src, ns
    return newest


def library_path() -> Path:
    """Absolute path of libvrift_shim.so, for LD_PRELOAD. Raises
    ShimNotBuiltError (one line, for the user) when it is missing or stale."""
    lib = _HERE / "libvrift_shim.so"
    if not lib.is_file():
        raise ShimNotBuiltError(f"{lib} is missing: reinstall vrift-shim, or {_rebuild_hint()}")
    stale = _newest_source(lib)
    if stale is not None:
        raise ShimNotBuiltError(f"{lib} is older than {stale.name}: {_rebuild_hint()}")
    return lib


def header_path() -> Path:
    """The profile-format header: the single source of truth for its layout."""
    return _HERE / "include" / "vrift_profile.h"
