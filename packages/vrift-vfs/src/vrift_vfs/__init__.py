"""vrift_vfs: content-addressed store, manifests and projections.

    store = Store.open()                       # $VRIFT_STORE or ~/.local/share/vrift/store
    report = ingest(store, "./site-packages", "deps")
    mount(store, "deps", "./proj/site-packages")

The manifest format is defined by the shim's C header vrift_manifest.h.
"""

from .errors import VfsError
from .ingest import IngestReport, ingest
from .manifest import Manifest, read_manifest
from .project import Projection, gc, list_projections, mount, umount
from .store import Store

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
