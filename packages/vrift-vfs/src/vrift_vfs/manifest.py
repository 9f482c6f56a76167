"""Write and read binary manifests (layout: the shim's vrift_manifest.h).

The writer goes through cffi over the header; the reader uses layout.py's
struct formats (checked against cffi by the tests), so reading costs no
cffi start-up. The reader treats the file as untrusted: sizes, offsets and
string references are bounds-checked, and anything wrong is one VfsError.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from . import layout as L
from .errors import VfsError
from .pathhash import bloom_bits, path_hash
from .store import blob_key

ENTRY_TYPES = {"file": L.TYPE_FILE, "dir": L.TYPE_DIR, "symlink": L.TYPE_SYMLINK}
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
    from . import _ffi

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
    atime_ns: int

    @property
    def executable(self) -> bool:
        return bool(self.mode & 0o111)

    @property
    def key(self) -> str:
        """The blob's identity in the store (hex, '.x' when executable); files only."""
        return blob_key(self.blob, self.executable)


class Manifest:
    """A validated manifest file held in memory (read with layout.py's formats)."""

    def __init__(self, path: Path, data: bytes) -> None:
        self.path = path
        self.data = data
        self.h = L.HEADER.unpack_from(data)

    @property
    def name(self) -> str:
        return self.h[L.H_NAME].split(b"\0", 1)[0].decode("utf-8", "replace")

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
            return int(self.h[L.HEADER_FIELDS.index(item)])
        raise AttributeError(item)

    def _raw_entries(self):
        start = self.h[L.H_ENTRIES_OFFSET]
        end = start + self.h[L.H_ENTRY_COUNT] * L.ENTRY.size
        return L.ENTRY.iter_unpack(memoryview(self.data)[start:end])

    def _string(self, off: int, length: int) -> str:
        start = self.h[L.H_STRINGS_OFFSET] + off
        return self.data[start : start + length].decode("utf-8", "surrogateescape")

    def entries(self):
        for r in self._raw_entries():
            t = TYPE_NAMES.get(r[L.E_TYPE], "?")
            yield Entry(
                path=self._string(r[L.E_PATH_OFF], r[L.E_PATH_LEN]),
                type=t,
                blob=r[L.E_BLOB].hex() if t == "file" else "",
                target=self._string(r[L.E_TARGET_OFF], r[L.E_TARGET_LEN]) if t == "symlink" else "",
                mode=r[L.E_MODE],
                size=r[L.E_SIZE],
                mtime_ns=r[L.E_MTIME_SEC] * 1_000_000_000 + r[L.E_MTIME_NSEC],
                atime_ns=r[L.E_ATIME_SEC] * 1_000_000_000 + r[L.E_ATIME_NSEC],
            )

    def file_blobs(self) -> dict[str, int]:
        """{blob key: size} of every file, without building entries (the tamper check)."""
        out: dict[str, int] = {}
        for r in self._raw_entries():
            if r[L.E_TYPE] == L.TYPE_FILE:
                out[blob_key(r[L.E_BLOB].hex(), bool(r[L.E_MODE] & 0o111))] = r[L.E_SIZE]
        return out

    def blobs(self) -> set[str]:
        """The keys of every blob this manifest needs (see store.blob_key)."""
        return set(self.file_blobs())


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise VfsError(f"{p}: no such manifest") from None
    except OSError as e:
        raise VfsError(f"{p}: cannot read: {e.strerror}") from None
    if len(data) < L.HEADER.size:
        raise VfsError(f"{p}: truncated or not a vrift manifest ({len(data)} bytes)")
    h = L.HEADER.unpack_from(data)
    if h[L.H_MAGIC] != L.MAGIC or h[L.H_BYTE_ORDER] != L.BYTE_ORDER_MARK:
        raise VfsError(f"{p}: not a vrift manifest (bad magic)")
    if h[L.H_MAJOR] != L.MAJOR:
        raise VfsError(f"{p}: manifest format {h[L.H_MAJOR]}.{h[L.H_MINOR]} is not supported")
    if h[L.H_FILE_SIZE] != len(data):
        raise VfsError(f"{p}: truncated manifest ({len(data)} of {h[L.H_FILE_SIZE]} bytes)")
    n, slots, bits = h[L.H_ENTRY_COUNT], h[L.H_INDEX_SLOTS], h[L.H_BLOOM_BITS]
    ok = (
        h[L.H_HEADER_LEN] >= L.HEADER.size
        and slots >= n
        and slots & (slots - 1) == 0
        and bits >= 64
        and bits & (bits - 1) == 0
        and h[L.H_ENTRIES_OFFSET] >= h[L.H_HEADER_LEN]
        and h[L.H_ENTRIES_OFFSET] + n * L.ENTRY.size <= h[L.H_INDEX_OFFSET]
        and h[L.H_INDEX_OFFSET] + 4 * slots <= h[L.H_BLOOM_OFFSET]
        and h[L.H_BLOOM_OFFSET] + bits // 8 <= h[L.H_STRINGS_OFFSET]
        and h[L.H_STRINGS_OFFSET] + h[L.H_STRINGS_SIZE] == h[L.H_FILE_SIZE]
    )
    if not ok:
        raise VfsError(f"{p}: corrupt manifest (layout out of bounds)")
    m = Manifest(p, data)
    strings_size = h[L.H_STRINGS_SIZE]
    for i, r in enumerate(m._raw_entries()):
        for off, ln in ((r[L.E_PATH_OFF], r[L.E_PATH_LEN]), (r[L.E_TARGET_OFF], r[L.E_TARGET_LEN])):
            if off + ln >= strings_size and ln:
                raise VfsError(f"{p}: corrupt manifest (entry {i} string out of bounds)")
        if r[L.E_TYPE] not in TYPE_NAMES:
            raise VfsError(f"{p}: corrupt manifest (entry {i} has type {r[L.E_TYPE]})")
    return m
