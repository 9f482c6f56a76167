"""Build a projection's tree from a manifest: reflinks, hardlinks or copies.

The mechanism is chosen once, on the first file, and recorded:

  reflink   FICLONE from the blob: each file is its own inode sharing the
            blob's extents (btrfs, XFS, bcachefs...). It gets the ingested
            mode (permission bits only) and atime/mtime, so programs outside
            the shim see the right metadata and cannot reach the store.
  hardlink  a link to the blob itself (0444/0555, sealed mtime). The shim
            copies on write; a program outside it that writes through the
            link changes the blob (detected by the seal, see tamper.py).
  copy      the store is on another device (or refuses links): plain copies
            with the ingested mode and times, like reflinks.

Within a hardlink projection a file that cannot be linked (EMLINK, EPERM)
is copied and sealed like its blob, so it reads as unchanged.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import stat
from pathlib import Path

from .errors import VfsError
from .manifest import Entry, Manifest
from .store import SEAL_NS, Store, blob_mode

FICLONE = 0x40049409
MECHANISMS = ("reflink", "hardlink", "copy")
_NO_REFLINK = (errno.EOPNOTSUPP, errno.ENOTTY, errno.EINVAL, errno.EXDEV, errno.ENOSYS, errno.EPERM)
_NO_LINK = (errno.EXDEV, errno.EMLINK, errno.EPERM)


def own_mode(e: Entry) -> int:
    """The mode an own-inode (reflink or copy) file gets: permission bits, no set-id."""
    return stat.S_IMODE(e.mode) & 0o777


def _reflink(blob: Path, target: Path) -> None:
    src = os.open(blob, os.O_RDONLY | os.O_CLOEXEC)
    try:
        dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            fcntl.ioctl(dst, FICLONE, src)
        except OSError:
            os.close(dst)
            os.unlink(target)
            raise
        os.close(dst)
    finally:
        os.close(src)


def _finish_own(target: Path, e: Entry) -> None:
    os.chmod(target, own_mode(e))
    os.utime(target, ns=(e.atime_ns, e.mtime_ns))


def _copy(blob: Path, target: Path) -> None:
    shutil.copyfile(blob, target)


class _Linker:
    def __init__(self, store: Store, mechanism: str | None) -> None:
        self.store = store
        self.mechanism = mechanism  # None: decide on the first file
        self.copies = 0  # files of a hardlink projection that had to be copied

    def place(self, e: Entry, target: Path) -> None:
        blob = self.store.blob_path(e.blob, e.executable)
        if self.mechanism is None:
            self.mechanism = self._probe(blob, target, e)
            return
        if self.mechanism == "reflink":
            try:
                _reflink(blob, target)
            except OSError as err:
                if err.errno not in _NO_REFLINK:
                    raise
                _copy(blob, target)
            _finish_own(target, e)
        elif self.mechanism == "hardlink":
            try:
                os.link(blob, target)
            except OSError as err:
                if err.errno not in _NO_LINK:
                    raise
                self._sealed_copy(blob, target, e)
        else:
            _copy(blob, target)
            _finish_own(target, e)

    def _probe(self, blob: Path, target: Path, e: Entry) -> str:
        try:
            _reflink(blob, target)
            _finish_own(target, e)
            return "reflink"
        except OSError as err:
            if err.errno not in _NO_REFLINK:
                raise
        try:
            os.link(blob, target)
            return "hardlink"
        except OSError as err:
            if err.errno not in _NO_LINK:
                raise
        _copy(blob, target)
        _finish_own(target, e)
        return "copy"

    def _sealed_copy(self, blob: Path, target: Path, e: Entry) -> None:
        _copy(blob, target)
        os.chmod(target, blob_mode(e.executable))
        os.utime(target, ns=(SEAL_NS, SEAL_NS))
        self.copies += 1


def materialize(store: Store, m: Manifest, dest: Path, mechanism: str | None = None) -> tuple[str, int]:
    """Create the tree under `dest`: (mechanism used, files copied in a hardlink projection).

    `mechanism` forces one (an unsupported reflink is an error); None picks
    the first that works, in the order reflink, hardlink, copy.
    """
    if mechanism == "reflink":
        _check_reflink(store, m, dest)
    linker = _Linker(store, mechanism)
    dirs = []
    for e in m.entries():
        target = dest / e.path if e.path else dest
        if e.type == "dir":
            target.mkdir(exist_ok=True)
            dirs.append((target, e))
        elif e.type == "symlink":
            os.symlink(e.target, target)
            os.utime(target, ns=(e.atime_ns, e.mtime_ns), follow_symlinks=False)
        else:
            linker.place(e, target)
    for target, e in reversed(dirs):  # deepest first: setting a mode may forbid writes below
        os.chmod(target, stat.S_IMODE(e.mode))
        os.utime(target, ns=(e.atime_ns, e.mtime_ns))
    return linker.mechanism or "hardlink", linker.copies


def _check_reflink(store: Store, m: Manifest, dest: Path) -> None:
    e = next((e for e in m.entries() if e.type == "file"), None)
    if e is None:
        return
    probe = dest / ".vrift-reflink-probe"
    try:
        _reflink(store.blob_path(e.blob, e.executable), probe)
    except OSError as err:
        raise VfsError(f"{dest}: cannot reflink from the store ({err.strerror})") from None
    os.unlink(probe)
