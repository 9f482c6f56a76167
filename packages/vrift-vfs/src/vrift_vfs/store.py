"""The content-addressed store: each distinct content once, named by its BLAKE3.

    <store>/blobs/ab/cdef...     a non-executable content, mode 0444
    <store>/blobs/ab/cdef....x   an executable content (ingested mode & 0o111), mode 0555
    <store>/manifests/NAME/N.vmf immutable manifest versions (versions.py)
    <store>/quarantine/          blobs `vrift verify --quarantine` moved aside
    <store>/tmp/                 writes land here first, then rename into place
    <store>/lock                 flock: ingest and mount share it, gc and rm take it alone

Every blob is sealed before it gets its name: atime and mtime are set to
SEAL_NS. The shim recognises a blob inode by it (the store's st_dev, a
regular file, mtime == SEAL_NS), and a write through any hard link moves
the mtime, so tampering is visible to a stat (tamper.py).

Projections are registered per user, outside the store (state_root():
$VRIFT_STATE, else $XDG_STATE_HOME/vrift), so a read-only or shared store
can still be projected and served.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import VfsError

CHUNK = 1 << 20

# 2001-09-09T01:46:40Z, nsec 0 (VRIFT_BLOB_SEAL_SEC in vrift_manifest.h).
SEAL_NS = 1_000_000_000 * 10**9
EXEC_SUFFIX = ".x"
BLOB_MODE = 0o444
EXEC_BLOB_MODE = 0o555


def default_root() -> Path:
    env = os.environ.get("VRIFT_STORE")
    if env:
        return Path(env).absolute()
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(data).absolute() / "vrift" / "store"


def state_root() -> Path:
    env = os.environ.get("VRIFT_STATE")
    if env:
        return Path(env).absolute()
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state).absolute() / "vrift"


def why(e: OSError) -> str:
    return e.strerror or str(e)


def blob_key(hexhash: str, executable: bool) -> str:
    """A blob's identity as one string: its hex name, plus '.x' if executable."""
    return hexhash + EXEC_SUFFIX if executable else hexhash


def split_key(key: str) -> tuple[str, bool]:
    if key.endswith(EXEC_SUFFIX):
        return key[: -len(EXEC_SUFFIX)], True
    return key, False


def blob_mode(executable: bool) -> int:
    return EXEC_BLOB_MODE if executable else BLOB_MODE


class Store:
    def __init__(self, root: Path) -> None:
        # physical: the shim refuses writes under this path (it compares it
        # with the physical path a call reaches), so no symlink may hide it
        self.root = Path(os.path.realpath(root))
        self.blobs = self.root / "blobs"
        self.manifests = self.root / "manifests"
        self.quarantine = self.root / "quarantine"
        self.tmp = self.root / "tmp"
        self.projections = state_root() / "projections"

    @classmethod
    def open(cls, root: str | os.PathLike[str] | None = None, create: bool = True) -> Store:
        store = cls(Path(root) if root else default_root())
        if "\n" in str(store.root):
            raise VfsError(f"store path {str(store.root)!r} contains a newline")
        if create:
            try:
                for d in (store.blobs, store.manifests, store.tmp):
                    d.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise VfsError(f"cannot create the store at {store.root}: {why(e)}") from None
        elif not store.manifests.is_dir():
            raise VfsError(f"no vrift store at {store.root} (ingest something first, or set VRIFT_STORE)")
        return store

    # ---- locking ----

    @contextlib.contextmanager
    def lock(self, exclusive: bool = False) -> Iterator[None]:
        """Keep gc/rm (exclusive) from running under an ingest or mount (shared).

        A store we cannot even open the lock file of is read-only to us:
        nothing we do there can race a gc, so we go on without the lock.
        """
        path = self.root / "lock"
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                yield
                return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    # ---- blobs ----

    def blob_path(self, hexhash: str, executable: bool) -> Path:
        return self.blobs / hexhash[:2] / blob_key(hexhash[2:], executable)

    def key_path(self, key: str) -> Path:
        return self.blobs / key[:2] / key[2:]

    def put_file(self, src: str | bytes | os.PathLike[str], executable: bool) -> tuple[str, int, bool]:
        """Store the content of `src`: (blake3 hex, size, newly stored?). One read pass.

        A blob already in place is left untouched (dedup). A new one is
        written to tmp/, made read-only, sealed, fsynced, then renamed.
        """
        import blake3

        h = blake3.blake3()
        size = 0
        try:
            fd, tmp = tempfile.mkstemp(dir=self.tmp, prefix="blob.")
        except OSError as e:
            raise VfsError(f"store {self.root} is not writable: {why(e)}") from None
        try:
            with os.fdopen(fd, "wb") as out, open(src, "rb") as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                digest = h.hexdigest()
                final = self.blob_path(digest, executable)
                if os.path.lexists(final):
                    return digest, size, False
                os.fchmod(out.fileno(), blob_mode(executable))
                os.utime(out.fileno(), ns=(SEAL_NS, SEAL_NS))
                os.fsync(out.fileno())
            final.parent.mkdir(exist_ok=True)
            os.replace(tmp, final)
            tmp = ""
            return digest, size, True
        except OSError as e:
            if e.errno in (errno.EROFS, errno.EACCES, errno.ENOSPC, errno.EDQUOT):
                raise VfsError(f"store {self.root}: cannot write blob: {why(e)}") from None
            raise VfsError(f"cannot read {os.fsdecode(src)}: {why(e)}") from None
        finally:
            if tmp:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def iter_blobs(self) -> Iterator[tuple[str, Path]]:
        """(key, path) of every file under blobs/; a key may be malformed (verify says so)."""
        if not self.blobs.is_dir():
            return
        for fan in sorted(self.blobs.iterdir()):
            if not fan.is_dir() or fan.is_symlink():
                yield fan.name, fan
                continue
            for blob in sorted(fan.iterdir()):
                yield fan.name + blob.name, blob

    # ---- other files ----

    def write_temp(self, directory: Path, prefix: str, data: bytes, mode: int) -> str:
        """`data` in a new temporary file of `directory`, with `mode`, fsynced:
        the first half of every atomic write (the caller renames or links it
        into place, and unlinks it if that fails). OSError as it comes."""
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=prefix)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fchmod(f.fileno(), mode)
                os.fsync(f.fileno())
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return tmp

    def write_atomic(self, final: Path, data: bytes, mode: int = 0o644) -> None:
        """Write `final` via a temp file in its own directory, fsync, rename."""
        tmp = ""
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.write_temp(final.parent, f".{final.name}.", data, mode)
            os.replace(tmp, final)
        except OSError as e:
            if tmp:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            raise VfsError(f"cannot write {final}: {why(e)}") from None
