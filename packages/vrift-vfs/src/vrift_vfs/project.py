"""Projections: a manifest materialized as a real tree of hardlinks to blobs.

Programs that bypass the shim still see the right names and contents.
Each projection is registered per user (store.state_root()/projections):

    projections/ID.proj    three lines the shim reads: root, manifest, dirty table
    projections/ID.dirty   shared table of paths changed through the shim
                           (copy-on-write, unlink, rename...), never served again

ID is derived from the projection's absolute path.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import VfsError
from .store import Store

if TYPE_CHECKING:
    from .manifest import Manifest

DIRTY_SLOTS = 1 << 16
DIRTY_HEADER = 64  # u64 magic, u64 slots, u64 all_dirty, padding


@dataclass(frozen=True)
class Projection:
    id: str
    root: Path
    manifest: Path
    dirty: Path


def projection_id(root: Path) -> str:
    return hashlib.sha256(os.fsencode(root)).hexdigest()[:16]


def _dirty_table() -> bytes:
    head = (0x59545249445256).to_bytes(8, "little") + DIRTY_SLOTS.to_bytes(8, "little")
    return head + bytes(DIRTY_HEADER - len(head)) + bytes(8 * DIRTY_SLOTS)


def _materialize(store: Store, m: Manifest, dest: Path) -> int:
    """Create the tree; returns how many files had to be copied (other device)."""
    copies = 0
    dirs = []
    for e in m.entries():
        target = dest / e.path if e.path else dest
        if e.type == "dir":
            target.mkdir(exist_ok=True)
            dirs.append((target, e))
        elif e.type == "symlink":
            os.symlink(e.target, target)
        else:
            blob = store.blob_path(e.blob)
            if not blob.is_file():
                raise VfsError(
                    f"store is missing blob {e.blob[:16]}... for {e.path} (run vrift ingest again)"
                )
            try:
                os.link(blob, target)
            except OSError as err:
                if err.errno not in (errno.EXDEV, errno.EMLINK, errno.EPERM):
                    raise
                shutil.copyfile(blob, target)
                os.chmod(target, 0o444)
                copies += 1
    for target, e in reversed(dirs):  # deepest first: setting a mode may forbid writes below
        os.chmod(target, stat.S_IMODE(e.mode))
        os.utime(target, ns=(e.mtime_ns, e.mtime_ns))
    return copies


def mount(store: Store, name: str, dest: str | os.PathLike[str]) -> tuple[Projection, int]:
    from .manifest import read_manifest

    m = read_manifest(store.manifest_path(name)) if store.manifest_path(name).exists() else None
    if m is None:
        raise VfsError(f"no manifest named {name!r} in {store.root} (see vrift ls)")
    root = Path(dest).absolute()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise VfsError(f"{root}: exists and is not an empty directory")
    created = not root.exists()
    try:
        root.mkdir(parents=True, exist_ok=True)
        copies = _materialize(store, m, root)
    except VfsError:
        _remove_tree(root, keep_root=not created)
        raise
    except OSError as e:
        _remove_tree(root, keep_root=not created)
        raise VfsError(f"cannot create the projection at {root}: {e.strerror}") from None
    pid = projection_id(root)
    proj = Projection(pid, root, m.path, store.projections / f"{pid}.dirty")
    store.write_atomic(proj.dirty, _dirty_table(), mode=0o600)
    text = f"{root}\n{m.path}\n{proj.dirty}\n".encode()
    store.write_atomic(store.projections / f"{pid}.proj", text, mode=0o644)
    return proj, copies


def _remove_tree(root: Path, keep_root: bool) -> None:
    if not root.exists():
        return
    for dirpath, dirnames, _ in os.walk(root):
        for d in dirnames:  # projected dirs may be read-only: make them removable
            try:
                os.chmod(os.path.join(dirpath, d), 0o700)
            except OSError:
                pass
    os.chmod(root, 0o700)
    if keep_root:
        for child in root.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    else:
        shutil.rmtree(root)


def find_projection(store: Store, dest: str | os.PathLike[str]) -> Projection:
    root = Path(dest).absolute()
    pid = projection_id(root)
    proj_file = store.projections / f"{pid}.proj"
    if not proj_file.is_file():
        raise VfsError(f"{root}: not a vrift projection (see vrift ls)")
    lines = proj_file.read_text().splitlines()
    return Projection(pid, Path(lines[0]), Path(lines[1]), Path(lines[2]))


def umount(store: Store, dest: str | os.PathLike[str]) -> Projection:
    proj = find_projection(store, dest)
    _remove_tree(proj.root, keep_root=False)
    for suffix in (".proj", ".dirty"):
        (store.projections / f"{proj.id}{suffix}").unlink(missing_ok=True)
    return proj


def list_projections(store: Store) -> list[Projection]:
    out = []
    if not store.projections.is_dir():
        return out
    for f in sorted(store.projections.glob("*.proj")):
        lines = f.read_text().splitlines()
        if len(lines) >= 3:
            out.append(Projection(f.stem, Path(lines[0]), Path(lines[1]), Path(lines[2])))
    return out


def gc(store: Store) -> tuple[int, int]:
    """Remove blobs no manifest references: (blobs removed, bytes freed)."""
    from .manifest import read_manifest

    keep: set[str] = set()
    for name in store.manifest_names():
        keep |= read_manifest(store.manifest_path(name)).blobs()
    removed = freed = 0
    for fan in store.blobs.iterdir() if store.blobs.is_dir() else []:
        for blob in fan.iterdir():
            if fan.name + blob.name not in keep:
                freed += blob.stat().st_size
                blob.unlink()
                removed += 1
    return removed, freed
