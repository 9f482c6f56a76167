"""Locate vrift's LD_PRELOAD shim and the C header that defines the profile format."""

from __future__ import annotations

from pathlib import Path

__all__ = ["header_path", "library_path", "ShimNotBuiltError"]

_HERE = Path(__file__).resolve().parent


class ShimNotBuiltError(RuntimeError):
    """libvrift_shim.so is missing (the package was not built)."""


def library_path() -> Path:
    """Absolute path of libvrift_shim.so, for LD_PRELOAD."""
    lib = _HERE / "libvrift_shim.so"
    if not lib.is_file():
        raise ShimNotBuiltError(
            f"{lib} is missing: reinstall vrift-shim (or build it: python packages/vrift-shim/build_shim.py)"
        )
    return lib


def header_path() -> Path:
    """The profile-format header: the single source of truth for its layout."""
    return _HERE / "include" / "vrift_profile.h"
