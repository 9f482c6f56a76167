"""`vrift rm NAME` and `vrift gc`: forget names, free what nothing needs.

gc keeps every version that is current (the highest of its name) or
pinned by one of this user's projections of this store, removes the
other versions, then removes every blob none of the kept versions
references. It reads all kept versions before it deletes anything: a
kept version it cannot read stops it with nothing removed. Leftovers of
interrupted writes in tmp/ older than an hour go too. gc and rm hold the
store lock exclusively, so they never run under an ingest or a mount.

Projections are registered per user: in a store shared by several users
gc only knows the projections of the user who runs it.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

from . import versions
from .errors import VfsError
from .manifest import read_manifest
from .project import Projection, list_projections
from .store import Store, why

TMP_AGE_S = 3600


@dataclass(frozen=True)
class GcReport:
    blobs: int
    bytes: int
    versions: int  # old manifest versions removed
    tmp: int  # leftovers of interrupted writes


def pinned(store: Store) -> dict[Path, list[Projection]]:
    """Version file -> the projections pinned to it (existing files only)."""
    out: dict[Path, list[Projection]] = {}
    for p in list_projections(store):
        if p.manifest.is_file():
            out.setdefault(p.manifest, []).append(p)
    return out


def live_versions(store: Store) -> tuple[list[versions.Version], list[versions.Version]]:
    """(kept: current or pinned, old: the rest) over every name."""
    pins = pinned(store)
    keep: list[versions.Version] = []
    old: list[versions.Version] = []
    for name in versions.names(store):
        vs = versions.versions(store, name)
        for v in vs:
            (keep if v is vs[-1] or v.path in pins else old).append(v)
    known = {v.path for v in keep}
    for path in pins:  # pinned to a file gc did not list (a hand-made descriptor): keep it too
        if path not in known:
            name, number = versions.parse(path)
            keep.append(versions.Version(name, number, path))
    return keep, old


def gc(store: Store) -> GcReport:
    with store.lock(exclusive=True):
        keep, old = live_versions(store)
        needed: set[str] = set()
        for v in keep:
            try:
                needed |= read_manifest(v.path).blobs()
            except VfsError as e:
                raise VfsError(f"gc stopped, nothing removed: {e} (vrift rm {v.name} drops it)") from None
        try:
            for v in old:
                versions.remove(v)
            removed = freed = 0
            for key, path in store.iter_blobs():
                if key not in needed and path.is_file():
                    freed += path.stat().st_size
                    path.unlink()
                    removed += 1
            for fan in store.blobs.iterdir() if store.blobs.is_dir() else []:
                with contextlib.suppress(OSError):
                    fan.rmdir()  # only empty ones
            return GcReport(removed, freed, len(old), _clean_tmp(store))
        except OSError as e:
            raise VfsError(f"store {store.root}: gc cannot remove files: {why(e)}") from None


def _clean_tmp(store: Store) -> int:
    n = 0
    cutoff = time.time() - TMP_AGE_S
    for p in store.tmp.iterdir() if store.tmp.is_dir() else []:
        with contextlib.suppress(OSError):
            if p.is_file() and p.lstat().st_mtime < cutoff:
                p.unlink()
                n += 1
    return n


@dataclass(frozen=True)
class RemoveReport:
    name: str
    versions: int
    orphaned: list[Projection]  # projections that pointed at a removed version


def remove_name(store: Store, name: str, force: bool = False) -> RemoveReport:
    """Remove every version of `name`; refuses while it is projected unless `force`."""
    with store.lock(exclusive=True):
        vs = versions.versions(store, name)
        if not vs:
            raise VfsError(f"no manifest named {name!r} in {store.root} (see vrift ls)")
        users = [p for p in list_projections(store) if p.name == name]
        if users and not force:
            more = f" and {len(users) - 1} more" if len(users) > 1 else ""
            raise VfsError(
                f"'{name}' is projected at {users[0].root}{more}; "
                f"vrift umount it first, or vrift rm --force {name}"
            )
        try:
            for v in vs:
                versions.remove(v)
        except OSError as e:
            raise VfsError(f"store {store.root}: cannot remove '{name}': {why(e)}") from None
        return RemoveReport(name, len(vs), users)
