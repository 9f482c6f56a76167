"""A projection's dirty table (layout: the shim's vrift_vfs_state.h).

vrift_vfs creates it empty when it mounts a projection; the shim marks
every path changed through it, and never serves a marked path again.
Reading it here tells which paths the shim marked, with the shim's own
rules: the key of a path, the flag bits, linear probing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import _ffi
from .errors import VfsError
from .pathhash import path_hash


def new_table(slots: int | None = None) -> bytes:
    """An empty dirty table of `slots` entries (a power of two)."""
    ffi = _ffi.ffi()
    if slots is None:
        slots = _ffi.const("VRIFT_DIRTY_SLOTS")
    if slots < 1 or slots & (slots - 1):
        raise ValueError(f"dirty table of {slots} entries: not a power of two")
    head = ffi.new("struct vrift_dirty_header *")
    head.magic = _ffi.const("VRIFT_DIRTY_MAGIC")
    head.slots = slots
    return bytes(ffi.buffer(head)) + bytes(ffi.sizeof("uint64_t") * slots)


def _flag_bits() -> dict[str, int]:
    return {f: _ffi.const(f"VRIFT_DIRTY_{f.upper()}") for f in ("done", "failed", "gone")}


@dataclass(frozen=True)
class DirtyTable:
    slots: int
    all_dirty: bool  # the table filled up: the shim serves nothing of the projection
    gone_marks: int  # entries marked gone
    entries: tuple[int, ...]  # key | flags, 0 = empty

    def flags(self, rel: bytes) -> frozenset[str]:
        """How the shim marked the path `rel` (relative to the root): a set of
        "done", "failed", "gone"; empty when unmarked."""
        bits = _flag_bits()
        mask = 0
        for b in bits.values():
            mask |= b
        key = (path_hash(rel) | 1) & ~mask
        for i in range(_ffi.const("VRIFT_DIRTY_PROBES")):
            v = self.entries[(key + i) & (self.slots - 1)]
            if v == 0:
                break
            if v & ~mask == key:
                return frozenset(f for f, b in bits.items() if v & b)
        return frozenset()


def read_table(path: Path) -> DirtyTable:
    ffi = _ffi.ffi()
    data = path.read_bytes()
    size = ffi.sizeof("struct vrift_dirty_header")
    if len(data) < size:
        raise VfsError(f"{path}: not a dirty table (too short)")
    head = ffi.cast("struct vrift_dirty_header *", ffi.from_buffer(data))
    slots = int(head.slots)
    if head.magic != _ffi.const("VRIFT_DIRTY_MAGIC") or slots < 1 or slots & (slots - 1):
        raise VfsError(f"{path}: not a dirty table")
    if len(data) < size + 8 * slots:
        raise VfsError(f"{path}: truncated dirty table")
    entries = tuple(memoryview(data)[size : size + 8 * slots].cast("Q"))
    return DirtyTable(slots, bool(head.all_dirty), int(head.gone_marks), entries)
