"""Projections: a manifest version materialized as a real tree (materialize.py).

Each projection is registered per user (store.state_root()/projections):

    projections/ID.proj    the descriptor, one path per line:
                             1 root of the projection
                             2 the manifest version file it is pinned to
                             3 its dirty table
                             4 the store root (blobs are <4>/blobs/...)
                             5 the mechanism: reflink, hardlink or copy
                           (the shim reads lines 1-4 and ignores the rest)
    projections/ID.dirty   shared table of paths changed through the shim
                           (copy-on-write, unlink, rename...), never served again

ID is derived from the projection's absolute path. A descriptor from
before versions (three lines) is read with the store derived from its
manifest path and rewritten with five lines.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import changes, tamper, versions
from .errors import VfsError
from .manifest import read_manifest
from .materialize import materialize
from .store import Store, why

DIRTY_SLOTS = 1 << 16
DIRTY_HEADER = 64  # u64 magic, u64 slots, u64 all_dirty, padding


@dataclass(frozen=True)
class Projection:
    id: str
    root: Path
    manifest: Path  # the pinned version file
    dirty: Path
    store: Path
    mechanism: str  # "reflink", "hardlink" or "copy"
    descriptor: Path

    @property
    def name(self) -> str:
        return versions.parse(self.manifest)[0]

    @property
    def version(self) -> int:
        return versions.parse(self.manifest)[1]

    def text(self) -> str:
        return f"{self.root}\n{self.manifest}\n{self.dirty}\n{self.store}\n{self.mechanism}\n"


@dataclass(frozen=True)
class MountResult:
    projection: Projection
    copies: int  # files of a hardlink projection that had to be copied
    tamper: tamper.TamperReport


def projection_id(root: Path) -> str:
    return hashlib.sha256(os.fsencode(root)).hexdigest()[:16]


def _dirty_table() -> bytes:
    head = (0x59545249445256).to_bytes(8, "little") + DIRTY_SLOTS.to_bytes(8, "little")
    return head + bytes(DIRTY_HEADER - len(head)) + bytes(8 * DIRTY_SLOTS)


def read_descriptor(path: Path) -> Projection | None:
    """The projection a descriptor describes; None if it is not one."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    if len(lines) < 3 or not all(lines[:3]):
        return None
    manifest = Path(lines[1])
    if len(lines) >= 4 and lines[3]:
        store = Path(lines[3])
        mechanism = lines[4] if len(lines) >= 5 and lines[4] else "hardlink"
        legacy = False
    else:  # before versions: <store>/manifests/NAME.vmf, always links
        store, mechanism, legacy = manifest.parent.parent, "hardlink", True
    proj = Projection(path.stem, Path(lines[0]), manifest, Path(lines[2]), store, mechanism, path)
    if legacy:
        tmp = path.with_name(f".{path.name}.upgrade")
        with contextlib.suppress(OSError):
            tmp.write_text(proj.text())
            os.replace(tmp, path)
    return proj


def mount(
    store: Store,
    name: str,
    dest: str | os.PathLike[str],
    mechanism: str | None = None,
    version: int | None = None,
) -> MountResult:
    """Project `name` (its current version unless `version`) at `dest`.

    Blobs are checked first with one stat each: a missing blob or one whose
    size is not the manifest's (damaged outside vrift) stops the mount
    before anything is created; a blob that only lost its seal (mtime) is
    reported in the result and linked anyway.
    """
    # physical: the shim compares it with getcwd() and /proc/self/fd paths
    root = Path(os.path.realpath(dest))
    if "\n" in str(root):
        raise VfsError(f"{str(root)!r}: a projection path cannot contain a newline")
    _refuse_nested(store, root)
    with store.lock():
        v = versions.pick(store, name, version)
        m = read_manifest(v.path)
        report = tamper.check(store, m)
        _refuse_damaged(name, report)
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise VfsError(f"{root}: exists and is not an empty directory")
        created = not root.exists()
        try:
            root.mkdir(parents=True, exist_ok=True)
            used, copies = materialize(store, m, root, mechanism)
        except VfsError:
            _remove_tree(root, keep_root=not created)
            raise
        except OSError as e:
            _remove_tree(root, keep_root=not created)
            raise VfsError(f"cannot create the projection at {root}: {why(e)}") from None
        pid = projection_id(root)
        desc = store.projections / f"{pid}.proj"
        proj = Projection(pid, root, v.path, store.projections / f"{pid}.dirty", store.root, used, desc)
        try:  # registered before the lock is released, so a gc sees the pin
            store.write_atomic(proj.dirty, _dirty_table(), mode=0o600)
            store.write_atomic(desc, proj.text().encode(), mode=0o644)
        except VfsError:
            _remove_tree(root, keep_root=not created)
            raise
    return MountResult(proj, copies, report)


def _refuse_damaged(name: str, r: tamper.TamperReport) -> None:
    if r.missing:
        n = len(r.missing)
        what = f"blob {r.missing[0][:16]}..." if n == 1 else f"{n} blobs (e.g. {r.missing[0][:16]}...)"
        raise VfsError(f"store is missing {what} of '{name}' (ingest the tree again)")
    if r.wrong_size:
        n = len(r.wrong_size)
        raise VfsError(
            f"{n} blob{'s' if n != 1 else ''} of '{name}' changed size outside vrift "
            f"(e.g. {r.wrong_size[0][:16]}...); run 'vrift verify {name} --quarantine' and ingest again"
        )


def _remove_tree(root: Path, keep_root: bool) -> None:
    if root.is_symlink() or (root.exists() and not root.is_dir()):
        root.unlink()
        return
    if not root.exists():
        return
    os.chmod(root, 0o700)
    for dirpath, dirnames, _ in os.walk(root):
        for d in dirnames:  # projected dirs may be read-only: make them removable
            p = os.path.join(dirpath, d)
            if not os.path.islink(p):
                with contextlib.suppress(OSError):
                    os.chmod(p, 0o700)
    if keep_root:
        for child in root.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    else:
        shutil.rmtree(root)


def _refuse_nested(store: Store, root: Path) -> None:
    """A projection inside the store (gc would delete it, verify flags it)
    or inside / around another projection (two manifests serving one path)."""

    def inside(a: Path, b: Path) -> bool:
        return a == b or b in a.parents

    if inside(root, store.root):
        raise VfsError(f"{root}: inside the store ({store.root}); mount somewhere else")
    if inside(store.root, root):
        raise VfsError(f"{root}: contains the store ({store.root}); mount somewhere else")
    for other in list_projections(store):
        if inside(root, other.root) or inside(other.root, root):
            raise VfsError(f"{root}: overlaps the projection at {other.root} (vrift umount it first)")


def find_projection(store: Store, dest: str | os.PathLike[str]) -> Projection:
    root = Path(os.path.realpath(dest))
    desc = store.projections / f"{projection_id(root)}.proj"
    proj = read_descriptor(desc) if desc.is_file() else None
    if proj is None:
        raise VfsError(f"{root}: not a vrift projection (see vrift ls)")
    return proj


def umount(store: Store, dest: str | os.PathLike[str], force: bool = False) -> tuple[Projection, bool, int]:
    """Remove a projection: (it, was its directory already gone?, changes discarded).

    Unless `force`, refuses while the tree differs from its pinned version
    in any way (changes.py) or when that version can no longer be read.
    """
    proj = find_projection(store, dest)
    gone = not os.path.lexists(proj.root)
    found: list[changes.Change] = []
    if not gone:
        try:
            found = changes.find(proj.root, read_manifest(proj.manifest), proj.mechanism)
        except VfsError as e:
            if not force:
                raise VfsError(
                    f"{proj.root}: cannot check it for changes ({e}); umount --force removes it"
                ) from None
        if found and not force:
            n = len(found)
            eg = ", ".join(str(c) for c in found[:3])
            raise VfsError(
                f"{proj.root} holds {n} change{'s' if n != 1 else ''} (e.g. {eg}); "
                "umount --force discards them"
            )
        try:
            _remove_tree(proj.root, keep_root=False)
        except OSError as e:
            raise VfsError(f"cannot remove {proj.root}: {why(e)}") from None
    for suffix in (".proj", ".dirty"):
        (store.projections / f"{proj.id}{suffix}").unlink(missing_ok=True)
    return proj, gone, len(found)


def list_projections(store: Store) -> list[Projection]:
    """This store's projections (the registry is per user, shared by stores)."""
    out: list[Projection] = []
    if not store.projections.is_dir():
        return out
    for f in sorted(store.projections.glob("*.proj")):
        p = read_descriptor(f)
        if p is not None and _same_dir(p.store, store.root):
            out.append(p)
    return sorted(out, key=lambda p: str(p.root))


def _same_dir(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
