"""Write and read binary manifests (layout: the shim's vrift_manifest.h).

The reader treats the file as untrusted: sizes, offsets and string
references are bounds-checked, and anything wrong is one VfsError.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from . import _ffi
from .errors import VfsError
from .pathhash import bloom_bits, path_hash

ENTRY_TYPES = {"file": 1, "dir": 2, "symlink": 3}
TYPE_NAMES = {v: k for k, v in ENTRY_TYPES.items()}


@dataclass
class EntrySpec:
    """What the writer needs for one path."""

    path: bytes  # relative, no leading '/'; b"" for the root
    type: str
    statx: bytes  # the raw struct statx the original returned
    blob: bytes = b""  # 32-byte BLAKE3 digest, files only
    target: bytes = b""  # symlinks only


def _pow2_at_least(n: int) -> int:
    p = 1
    while p < n:
        p <<= 1
    return p


def _align(v: int, a: int = 64) -> int:
    return (v + a - 1) // a * a


def build(entries: list[EntrySpec], name: str, original_bytes: int, unique_bytes: int) -> bytes:
    ffi = _ffi.ffi()
    entries = sorted(entries, key=lambda e: e.path)
    n = len(entries)
    hsize = ffi.sizeof("struct vrift_manifest_header")
    esize = ffi.sizeof("struct vrift_manifest_entry")
    slots = _pow2_at_least(max(8, 2 * n))
    bits = _pow2_at_least(max(512, 16 * n))
    strings = bytearray(b"\0")  # offset 0 unused
    entries_at = _align(hsize)
    index_at = _align(entries_at + n * esize)
    bloom_at = _align(index_at + 4 * slots)
    strings_at = _align(bloom_at + bits // 8)
    # strings first, so their size is known
    refs = []
    for e in entries:
        p_off = len(strings)
        strings += e.path + b"\0"
        t_off = len(strings) if e.target else 0
        if e.target:
            strings += e.target + b"\0"
        refs.append((p_off, t_off))
    total = strings_at + len(strings)
    buf = bytearray(total)
    cbuf = ffi.from_buffer(buf)
    h = ffi.cast("struct vrift_manifest_header *", cbuf)
    h.magic = _ffi.const("VRIFT_MANIFEST_MAGIC")
    h.byte_order = _ffi.const("VRIFT_BYTE_ORDER_MARK")
    h.major = _ffi.const("VRIFT_MANIFEST_MAJOR")
    h.minor = _ffi.const("VRIFT_MANIFEST_MINOR")
    h.header_len = hsize
    h.file_size = total
    h.entry_count = n
    h.entries_offset = entries_at
    h.index_offset = index_at
    h.index_slots = slots
    h.bloom_offset = bloom_at
    h.bloom_bits = bits
    h.strings_offset = strings_at
    h.strings_size = len(strings)
    h.original_bytes = original_bytes
    h.unique_bytes = unique_bytes
    h.file_count = sum(1 for e in entries if e.type == "file")
    h.dir_count = sum(1 for e in entries if e.type == "dir")
    h.symlink_count = sum(1 for e in entries if e.type == "symlink")
    h.created_realtime_ns = time.time_ns()
    nm = name.encode()[: _ffi.const("VRIFT_MANIFEST_NAME_LEN") - 1]
    ffi.memmove(h.name, nm, len(nm))
    index = ffi.cast("uint32_t *", cbuf + index_at)
    bloom = ffi.cast("uint64_t *", cbuf + bloom_at)
    k = _ffi.const("VRIFT_BLOOM_HASHES")
    for i, (e, (p_off, t_off)) in enumerate(zip(entries, refs, strict=True)):
        ent = ffi.cast("struct vrift_manifest_entry *", cbuf + entries_at + i * esize)
        ph = path_hash(e.path)
        ent.path_hash = ph
        ent.path_off, ent.path_len = p_off, len(e.path)
        ent.type = ENTRY_TYPES[e.type]
        ent.target_off, ent.target_len = t_off, len(e.target)
        if e.blob:
            ffi.memmove(ent.blob, e.blob, len(e.blob))
        ffi.memmove(ffi.addressof(ent, "st"), e.statx, ffi.sizeof("struct vrift_statx"))
        slot = ph & (slots - 1)
        while index[slot]:
            slot = (slot + 1) & (slots - 1)
        index[slot] = i + 1
        for b in bloom_bits(ph, bits, k):
            bloom[b >> 6] |= 1 << (b & 63)
    buf[strings_at:] = strings
    return bytes(buf)


@dataclass(frozen=True)
class Entry:
    path: str
    type: str
    blob: str  # hex, files only
    target: str
    mode: int
    size: int
    mtime_ns: int


class Manifest:
    """A validated manifest file held in memory."""

    def __init__(self, path: Path, data: bytes) -> None:
        self.path = path
        self.data = data
        ffi = _ffi.ffi()
        self._c = ffi.from_buffer(data)
        self.h = ffi.cast("struct vrift_manifest_header *", self._c)

    @property
    def name(self) -> str:
        return _ffi.ffi().string(self.h.name).decode("utf-8", "replace")

    def __getattr__(self, item: str):
        if item in (
            "original_bytes",
            "unique_bytes",
            "file_count",
            "dir_count",
            "symlink_count",
            "entry_count",
            "created_realtime_ns",
        ):
            return int(getattr(self.h, item))
        raise AttributeError(item)

    def _string(self, off: int, length: int) -> str:
        start = int(self.h.strings_offset) + off
        raw = self.data[start : start + length]
        return raw.decode("utf-8", "surrogateescape")

    def entries(self):
        ffi = _ffi.ffi()
        esize = ffi.sizeof("struct vrift_manifest_entry")
        for i in range(int(self.h.entry_count)):
            e = ffi.cast("struct vrift_manifest_entry *", self._c + int(self.h.entries_offset) + i * esize)
            t = TYPE_NAMES.get(int(e.type), "?")
            yield Entry(
                path=self._string(e.path_off, e.path_len),
                type=t,
                blob=bytes(ffi.buffer(e.blob, 32)).hex() if t == "file" else "",
                target=self._string(e.target_off, e.target_len) if t == "symlink" else "",
                mode=int(e.st.stx_mode),
                size=int(e.st.stx_size),
                mtime_ns=int(e.st.stx_mtime.tv_sec) * 1_000_000_000 + int(e.st.stx_mtime.tv_nsec),
            )

    def blobs(self) -> set[str]:
        return {e.blob for e in self.entries() if e.type == "file"}


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise VfsError(f"{p}: no such manifest") from None
    except OSError as e:
        raise VfsError(f"{p}: cannot read: {e.strerror}") from None
    ffi = _ffi.ffi()
    hsize = ffi.sizeof("struct vrift_manifest_header")
    if len(data) < hsize:
        raise VfsError(f"{p}: truncated or not a vrift manifest ({len(data)} bytes)")
    h = ffi.cast("struct vrift_manifest_header *", ffi.from_buffer(data))
    if h.magic != _ffi.const("VRIFT_MANIFEST_MAGIC") or h.byte_order != _ffi.const("VRIFT_BYTE_ORDER_MARK"):
        raise VfsError(f"{p}: not a vrift manifest (bad magic)")
    if h.major != _ffi.const("VRIFT_MANIFEST_MAJOR"):
        raise VfsError(f"{p}: manifest format {h.major}.{h.minor} is not supported")
    if h.file_size != len(data):
        raise VfsError(f"{p}: truncated manifest ({len(data)} of {h.file_size} bytes)")
    esize = ffi.sizeof("struct vrift_manifest_entry")
    n, slots, bits = int(h.entry_count), int(h.index_slots), int(h.bloom_bits)
    ok = (
        h.header_len >= hsize
        and slots >= n
        and slots & (slots - 1) == 0
        and bits >= 64
        and bits & (bits - 1) == 0
        and h.entries_offset >= h.header_len
        and h.entries_offset + n * esize <= h.index_offset
        and h.index_offset + 4 * slots <= h.bloom_offset
        and h.bloom_offset + bits // 8 <= h.strings_offset
        and h.strings_offset + h.strings_size == h.file_size
    )
    if not ok:
        raise VfsError(f"{p}: corrupt manifest (layout out of bounds)")
    m = Manifest(p, data)
    for i in range(n):
        e = ffi.cast("struct vrift_manifest_entry *", m._c + int(h.entries_offset) + i * esize)
        for off, ln in ((e.path_off, e.path_len), (e.target_off, e.target_len)):
            if off + ln >= h.strings_size and ln:
                raise VfsError(f"{p}: corrupt manifest (entry {i} string out of bounds)")
        if e.type not in TYPE_NAMES:
            raise VfsError(f"{p}: corrupt manifest (entry {i} has type {e.type})")
    return m
