"""`vrift ingest DIR`: store every distinct content once, write a manifest version.

A file's blob is its content plus its exec bit (ingested mode & 0o111):
the same bytes ingested once executable and once not are two blobs, and
the stored-bytes figure counts both (store.py).

Each path's metadata is captured with statx(AT_SYMLINK_NOFOLLOW) as the
kernel returns it, so a projection served by the shim looks exactly like
the tree that was ingested (see docs/vfs.md for why this choice).
"""

from __future__ import annotations

import os
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import _ffi, versions
from .errors import VfsError
from .manifest import EntrySpec, build
from .store import Store, blob_key

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
STATX_ALL_WE_SERVE = 0x0FFF | 0x1000  # basic stats, btime, mnt_id


@dataclass(frozen=True)
class IngestReport:
    name: str
    manifest: Path  # the version file written
    version: int
    files: int
    dirs: int
    symlinks: int
    skipped: int  # sockets, fifos, devices: not stored
    original_bytes: int  # sum of file sizes
    unique_bytes: int  # sum of the distinct blobs of this tree: (content, exec bit) pairs
    new_bytes: int  # bytes the store did not have before

    @property
    def saved_bytes(self) -> int:
        return self.original_bytes - self.unique_bytes

    @property
    def dedup_ratio(self) -> float:
        return self.original_bytes / self.unique_bytes if self.unique_bytes else 1.0


def capture_statx(path: bytes) -> bytes:
    ffi = _ffi.ffi()
    buf = ffi.new("struct vrift_statx *")
    rc = _ffi.libc().statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_ALL_WE_SERVE, buf)
    if rc != 0:
        err = ffi.errno
        raise VfsError(f"cannot stat {os.fsdecode(path)}: {os.strerror(err)}")
    return bytes(ffi.buffer(buf))


class _Progress:
    def __init__(self) -> None:
        self.on = sys.stderr.isatty()
        self.last = 0.0

    def update(self, files: int, size: int) -> None:
        now = time.monotonic()
        if self.on and now - self.last > 0.2:
            self.last = now
            sys.stderr.write(f"\ringesting: {files:,} files, {size / 1e6:,.1f} MB")
            sys.stderr.flush()

    def done(self) -> None:
        if self.on and self.last:
            sys.stderr.write("\r\x1b[K")


def ingest(store: Store, src: str | os.PathLike[str], name: str | None = None) -> IngestReport:
    root = Path(src)
    if not root.is_dir():
        raise VfsError(f"{root}: not a directory")
    name = versions.check_name(name or root.resolve().name)
    with store.lock():
        return _ingest(store, root, name)


def _ingest(store: Store, root: Path, name: str) -> IngestReport:
    root_b = os.fsencode(root)
    entries: list[EntrySpec] = []
    sizes: dict[str, int] = {}
    files = dirs = links = skipped = original = new = 0
    progress = _Progress()
    stack = [b""]
    while stack:
        rel = stack.pop()
        full = root_b + (b"/" + rel if rel else b"")
        sx = capture_statx(full)
        mode = int.from_bytes(sx[0x1C:0x1E], "little")
        if stat.S_ISDIR(mode):
            dirs += 1
            entries.append(EntrySpec(rel, "dir", sx))
            try:
                names = sorted(os.listdir(full))
            except OSError as e:
                raise VfsError(f"cannot list {os.fsdecode(full)}: {e.strerror}") from None
            stack.extend(reversed([(rel + b"/" + n if rel else n) for n in names]))
        elif stat.S_ISREG(mode):
            executable = bool(mode & 0o111)
            digest, size, stored = store.put_file(full, executable)
            if size != int.from_bytes(sx[0x28:0x30], "little"):
                raise VfsError(f"{os.fsdecode(full)} changed while it was ingested; ingest again")
            files += 1
            original += size
            sizes[blob_key(digest, executable)] = size
            new += size if stored else 0
            entries.append(EntrySpec(rel, "file", sx, blob=bytes.fromhex(digest)))
            progress.update(files, original)
        elif stat.S_ISLNK(mode):
            links += 1
            entries.append(EntrySpec(rel, "symlink", sx, target=os.readlink(full)))
        else:
            skipped += 1
    progress.done()
    unique = sum(sizes.values())
    v = versions.write(store, name, build(entries, name, original, unique))
    return IngestReport(name, v.path, v.number, files, dirs, links, skipped, original, unique, new)
