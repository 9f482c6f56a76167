"""vrift_vfs: content-addressed store, manifests and projections.

    store = Store.open()                       # $VRIFT_STORE or ~/.local/share/vrift/store
    report = ingest(store, "./site-packages", "deps")
    mount(store, "deps", "./proj/site-packages")

The manifest format is defined by the shim's C header vrift_manifest.h.
Names load on first use (PEP 562): `vrift run --vfs` only needs the
projection registry, not cffi or BLAKE3, and starts every build command.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_LAZY = {
    "VfsError": "errors",
    "IngestReport": "ingest",
    "ingest": "ingest",
    "Manifest": "manifest",
    "read_manifest": "manifest",
    "Projection": "project",
    "gc": "project",
    "list_projections": "project",
    "mount": "project",
    "umount": "project",
    "Store": "store",
}

__all__ = [
    "IngestReport",
    "Manifest",
    "Projection",
    "Store",
    "VfsError",
    "gc",
    "ingest",
    "list_projections",
    "mount",
    "read_manifest",
    "umount",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vrift_vfs' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from .errors import VfsError
    from .ingest import IngestReport, ingest
    from .manifest import Manifest, read_manifest
    from .project import Projection, gc, list_projections, mount, umount
    from .store import Store
