"""Projections: a manifest version materialized as a real tree (materialize.py).

Each projection is registered per user (store.state_root()/projections);
both files are formats the shim shares (vrift_vfs_state.h):

    projections/ID.proj    the descriptor, one path per line (layout.PROJ_LINE_*):
                           the projection's root, the manifest version file it
                           is pinned to, its dirty table, the store root
                           (blobs are STORE/blobs/...), the mechanism
                           (reflink, hardlink or copy; the shim ignores it)
    projections/ID.dirty   shared table of paths changed through the shim
                           (copy-on-write, unlink, rename...), never served
                           again (dirty.py)

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

from . import changes, dirty, tamper, versions
from . import layout as L
from .errors import VfsError
from .manifest import read_manifest
from .materialize import materialize
from .store import Store, why


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
        lines = [""] * L.PROJ_LINES
        lines[L.PROJ_LINE_ROOT] = str(self.root)
        lines[L.PROJ_LINE_MANIFEST] = str(self.manifest)
        lines[L.PROJ_LINE_DIRTY] = str(self.dirty)
        lines[L.PROJ_LINE_STORE] = str(self.store)
        lines[L.PROJ_LINE_MECHANISM] = self.mechanism
        return "".join(f"{line}\n" for line in lines)


@dataclass(frozen=True)
class MountResult:
    projection: Projection
    copies: int  # files of a hardlink projection that had to be copied
    tamper: tamper.TamperReport


def projection_id(root: Path) -> str:
    return hashlib.sha256(os.fsencode(root)).hexdigest()[:16]


def read_descriptor(path: Path) -> Projection | None:
    """The projection a descriptor describes; None if it is not one."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    lines += [""] * (L.PROJ_LINES - len(lines))
    root, manifest, table = lines[L.PROJ_LINE_ROOT], lines[L.PROJ_LINE_MANIFEST], lines[L.PROJ_LINE_DIRTY]
    if not (root and manifest and table):
        return None
    if lines[L.PROJ_LINE_STORE]:
        store = Path(lines[L.PROJ_LINE_STORE])
        mechanism = lines[L.PROJ_LINE_MECHANISM] or "hardlink"
        legacy = False
    else:  # before versions (three lines): <store>/manifests/NAME.vmf, always links
        store, mechanism, legacy = Path(manifest).parent.parent, "hardlink", True
    proj = Projection(path.stem, Path(root), Path(manifest), Path(table), store, mechanism, path)
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
            store.write_atomic(proj.dirty, dirty.new_table(), mode=0o600)
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
