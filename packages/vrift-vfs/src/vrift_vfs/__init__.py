"""vrift_vfs: content-addressed store, versioned manifests and projections.

    store = Store.open()                       # $VRIFT_STORE or ~/.local/share/vrift/store
    report = ingest(store, "./site-packages", "deps")     # writes manifests/deps/N.vmf
    mount(store, "deps", "./proj/site-packages")          # pinned to that version

The manifest format is defined by the shim's C header vrift_manifest.h.
Names load on first use (PEP 562): `vrift run --vfs` only needs the
projection registry and the struct reader, not cffi or BLAKE3.
`vrift verify` lives in vrift_vfs.verify (a module, not a name here).
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
    "MountResult": "project",
    "Projection": "project",
    "find_projection": "project",
    "list_projections": "project",
    "mount": "project",
    "umount": "project",
    "gc": "collect",
    "remove_name": "collect",
    "SEAL_NS": "store",
    "Store": "store",
}

__all__ = [
    "IngestReport",
    "Manifest",
    "MountResult",
    "Projection",
    "SEAL_NS",
    "Store",
    "VfsError",
    "find_projection",
    "gc",
    "ingest",
    "list_projections",
    "mount",
    "read_manifest",
    "remove_name",
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
    from .collect import gc, remove_name
    from .errors import VfsError
    from .ingest import IngestReport, ingest
    from .manifest import Manifest, read_manifest
    from .project import MountResult, Projection, find_projection, list_projections, mount, umount
    from .store import SEAL_NS, Store
