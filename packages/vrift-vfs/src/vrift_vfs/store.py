"""The content-addressed store: each distinct content once, named by its BLAKE3.

    <store>/blobs/ab/cdef...   read-only blobs (fan-out on the first byte)
    <store>/manifests/NAME.vmf binary manifests (vrift_manifest.h)
    <store>/tmp/               writes land here first, then rename into place

Projections are registered per user, outside the store (state_root():
$VRIFT_STATE, else $XDG_STATE_HOME/vrift), so a read-only or shared store
can still be projected and served.

A blob is written to tmp/, fsynced, made read-only and renamed to its
final name, so a crash never leaves a partial blob under a real name.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from .errors import VfsError

CHUNK = 1 << 20


def default_root() -> Path:
    env = os.environ.get("VRIFT_STORE")
    if env:
        return Path(env)
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(data) / "vrift" / "store"


def state_root() -> Path:
    env = os.environ.get("VRIFT_STATE")
    if env:
        return Path(env)
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "vrift"


def _why(e: OSError) -> str:
    return e.strerror or str(e)


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.manifests = root / "manifests"
        self.projections = state_root() / "projections"
        self.tmp = root / "tmp"

    @classmethod
    def open(cls, root: str | os.PathLike[str] | None = None, create: bool = True) -> Store:
        store = cls(Path(root) if root else default_root())
        if create:
            try:
                for d in (store.blobs, store.manifests, store.tmp):
                    d.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise VfsError(f"cannot create the store at {store.root}: {_why(e)}") from None
        elif not store.manifests.is_dir():
            raise VfsError(f"no vrift store at {store.root} (ingest something first, or set VRIFT_STORE)")
        return store

    # ---- blobs ----

    def blob_path(self, hexhash: str) -> Path:
        return self.blobs / hexhash[:2] / hexhash[2:]

    def has_blob(self, hexhash: str) -> bool:
        return self.blob_path(hexhash).is_file()

    def put_file(self, src: str | os.PathLike[str]) -> tuple[str, int, bool]:
        """Store the content of `src`: (blake3 hex, size, newly stored?). One read pass."""
        import blake3

        h = blake3.blake3()
        size = 0
        try:
            fd, tmp = tempfile.mkstemp(dir=self.tmp, prefix="blob.")
        except OSError as e:
            raise VfsError(f"store {self.root} is not writable: {_why(e)}") from None
        try:
            with os.fdopen(fd, "wb") as out, open(src, "rb") as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                digest = h.hexdigest()
                final = self.blob_path(digest)
                if final.exists():
                    return digest, size, False
                os.fsync(out.fileno())
            os.chmod(tmp, 0o444)
            final.parent.mkdir(exist_ok=True)
            os.replace(tmp, final)
            tmp = ""
            return digest, size, True
        except OSError as e:
            if e.errno in (errno.EROFS, errno.EACCES, errno.ENOSPC, errno.EDQUOT):
                raise VfsError(f"store {self.root}: cannot write blob: {_why(e)}") from None
            raise VfsError(f"cannot read {src}: {_why(e)}") from None
        finally:
            if tmp:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    def write_atomic(self, final: Path, data: bytes, mode: int = 0o644) -> None:
        """Write `final` via a temp file in its own directory, fsync, rename."""
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.")
        except OSError as e:
            raise VfsError(f"store {self.root} is not writable: {_why(e)}") from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, final)
        except OSError as e:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise VfsError(f"cannot write {final}: {_why(e)}") from None

    # ---- manifests ----

    def manifest_path(self, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise VfsError(f"bad manifest name {name!r} (letters, digits, '-', '_', '.' only)")
        return self.manifests / f"{name}.vmf"

    def manifest_names(self) -> list[str]:
        return sorted(p.stem for p in self.manifests.glob("*.vmf"))
