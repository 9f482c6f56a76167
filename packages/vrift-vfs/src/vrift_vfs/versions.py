"""Manifest versions: immutable files, one directory per name.

    <store>/manifests/NAME/1.vmf, 2.vmf, ...   mode 0444, never rewritten
    <store>/manifests/NAME.vmf                 a manifest from before versions:
                                               read in place as version 0 of NAME

Each ingest of NAME adds version max+1 (tmp/, fsync, then a hard link to
its final name, which fails instead of replacing if a concurrent ingest
took the number first). The current version is the highest. A projection
pins the exact file it was mounted with, so a re-ingest never changes
what a live projection serves; gc removes versions that are neither
current nor pinned. A legacy NAME.vmf is never moved: old descriptors
keep naming it, and a read-only store needs no migration.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import VfsError
from .store import Store, why

SUFFIX = ".vmf"
_VERSION_FILE = re.compile(r"^([1-9][0-9]*)\.vmf$")


@dataclass(frozen=True)
class Version:
    name: str
    number: int  # 0: a legacy NAME.vmf
    path: Path


def check_name(name: str) -> str:
    if (
        not name
        or "/" in name
        or "\0" in name
        or "\n" in name
        or name.startswith(".")
        or name.endswith(SUFFIX)
        or len(name.encode()) > 63
    ):
        raise VfsError(
            f"bad manifest name {name!r} (up to 63 bytes, no '/', not starting with '.' "
            f"nor ending in '{SUFFIX}')"
        )
    return name


def _lookup_name(name: str) -> str:
    """A name to look up: anything that stays inside manifests/."""
    if not name or "/" in name or "\0" in name or name.startswith("."):
        raise VfsError(f"no manifest named {name!r} (see vrift ls)")
    return name


def names(store: Store) -> list[str]:
    out: set[str] = set()
    if not store.manifests.is_dir():
        return []
    for p in store.manifests.iterdir():
        if p.name.startswith("."):
            continue
        if p.is_dir() and any(_VERSION_FILE.match(c.name) for c in p.iterdir()):
            out.add(p.name)
        elif p.is_file() and p.name.endswith(SUFFIX):
            out.add(p.name[: -len(SUFFIX)])
    return sorted(out)


def versions(store: Store, name: str) -> list[Version]:
    """Every version of `name`, oldest first; [] if there is none."""
    _lookup_name(name)
    out = []
    legacy = store.manifests / f"{name}{SUFFIX}"
    if legacy.is_file():
        out.append(Version(name, 0, legacy))
    d = store.manifests / name
    if d.is_dir():
        for p in d.iterdir():
            m = _VERSION_FILE.match(p.name)
            if m:
                out.append(Version(name, int(m.group(1)), p))
    return sorted(out, key=lambda v: v.number)


def current(store: Store, name: str) -> Version:
    vs = versions(store, name)
    if not vs:
        raise VfsError(f"no manifest named {name!r} in {store.root} (see vrift ls)")
    return vs[-1]


def pick(store: Store, name: str, number: int | None) -> Version:
    """`number` of `name`, or the current version."""
    if number is None:
        return current(store, name)
    for v in versions(store, name):
        if v.number == number:
            return v
    raise VfsError(f"'{name}' has no version {number} (see vrift ls)")


def parse(path: str | os.PathLike[str]) -> tuple[str, int]:
    """(name, number) of a version file's path: NAME/N.vmf, or a legacy NAME.vmf (0)."""
    p = Path(path)
    m = _VERSION_FILE.match(p.name)
    if m:
        return p.parent.name, int(m.group(1))
    return (p.name[: -len(SUFFIX)] if p.name.endswith(SUFFIX) else p.name), 0


def write(store: Store, name: str, data: bytes) -> Version:
    """Add `data` as the next version of `name`; never replaces a file."""
    check_name(name)
    d = store.manifests / name
    try:
        d.mkdir(parents=True, exist_ok=True)
        tmp = store.write_temp(store.tmp, "manifest.", data, 0o444)
    except OSError as e:
        raise VfsError(f"store {store.root} is not writable: {why(e)}") from None
    try:
        number = max((v.number for v in versions(store, name)), default=0) + 1
        while True:
            final = d / f"{number}{SUFFIX}"
            try:
                os.link(tmp, final)
                break
            except FileExistsError:
                number += 1
            except OSError as e:
                if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK):
                    raise
                if os.path.lexists(final):  # no hard links here: check, then rename
                    number += 1
                    continue
                os.rename(tmp, final)
                tmp = ""
                break
        _fsync_dir(d)
        return Version(name, number, final)
    except OSError as e:
        raise VfsError(f"cannot write a manifest version of '{name}' in {d}: {why(e)}") from None
    finally:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def remove(v: Version) -> None:
    v.path.unlink()
    if v.number:
        with contextlib.suppress(OSError):
            v.path.parent.rmdir()  # only once it is empty


def _fsync_dir(d: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
