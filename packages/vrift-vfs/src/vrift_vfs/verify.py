"""`vrift verify [NAME] [--quarantine]`: rehash blobs and check their seal.

A blob is good when its name is a BLAKE3 (64 hex, '.x' if executable),
it is a regular file, its content hashes to its name, its mode is 0444
(0555 for '.x') and its mtime is the seal (store.SEAL_NS). Every blob
is checked, or those NAME's current and pinned versions use. Blobs a kept
version needs but the store lacks are reported too, and so is a kept
version that cannot be read. --quarantine moves bad blobs to
<store>/quarantine/, so the next ingest of the original stores them
afresh; projections that link the bad inode keep it until mounted again.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import versions
from .collect import live_versions, pinned
from .errors import VfsError
from .manifest import read_manifest
from .store import CHUNK, SEAL_NS, Store, blob_mode, split_key, why

_KEY = re.compile(r"^[0-9a-f]{64}(\.x)?$")


@dataclass
class BadBlob:
    key: str  # as found under blobs/ (fan dir + file name)
    path: Path
    problems: list[str]
    users: list[str] = field(default_factory=list)
    moved_to: Path | None = None


@dataclass
class VerifyReport:
    checked: int = 0
    bad: list[BadBlob] = field(default_factory=list)
    bad_manifests: list[str] = field(default_factory=list)  # one line each

    @property
    def ok(self) -> bool:
        return not self.bad and not self.bad_manifests


def problems(key: str, path: Path) -> list[str]:
    """What is wrong with the blob at `path` named `key`; [] if it is good."""
    if not _KEY.match(key) or len(path.parent.name) != 2:
        return ["not a blob name"]
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return ["missing"]
    except OSError as e:
        return [f"cannot be inspected ({why(e)})"]
    if not stat.S_ISREG(st.st_mode):
        return ["not a regular file"]
    hexhash, executable = split_key(key)
    out = []
    if stat.S_IMODE(st.st_mode) != blob_mode(executable):
        out.append(f"mode {stat.S_IMODE(st.st_mode):04o}, not {blob_mode(executable):04o}")
    if st.st_mtime_ns != SEAL_NS:
        out.append("mtime is not the seal (written or touched outside vrift)")
    digest = _hash(path)
    if digest is None:
        out.append("cannot be read")
    elif digest != hexhash:
        out.append(f"content does not match its name (it hashes to {digest[:16]}...)")
    return out


def _hash(path: Path) -> str | None:
    import blake3

    h = blake3.blake3()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()


class _Progress:
    def __init__(self, total: int) -> None:
        self.on = sys.stderr.isatty()
        self.total = total
        self.last = 0.0

    def update(self, done: int) -> None:
        now = time.monotonic()
        if self.on and now - self.last > 0.2:
            self.last = now
            sys.stderr.write(f"\rverifying: {done:,} of {self.total:,} blobs")
            sys.stderr.flush()

    def done(self) -> None:
        if self.on and self.last:
            sys.stderr.write("\r\x1b[K")


def _scope(store: Store, name: str | None, report: VerifyReport) -> tuple[dict[str, list[str]], set[str]]:
    """(blob key -> users, keys NAME needs or None-scope: every key a kept version needs)."""
    pins = pinned(store)
    keep, _ = live_versions(store)
    users: dict[str, list[str]] = {}
    needed: set[str] = set()
    for v in keep:
        try:
            keys = read_manifest(v.path).blobs()
        except VfsError as e:
            if name is None or v.name == name:
                report.bad_manifests.append(str(e))
            continue
        labels = [f"{v.name}@{v.number}"] + [f"projection {p.root}" for p in pins.get(v.path, [])]
        for k in keys:
            users.setdefault(k, []).extend(labels)
        if name is None or v.name == name:
            needed |= keys
    return users, needed


def verify(store: Store, name: str | None = None, quarantine: bool = False) -> VerifyReport:
    report = VerifyReport()
    with store.lock():
        if name is not None and not versions.versions(store, name):
            raise VfsError(f"no manifest named {name!r} in {store.root} (see vrift ls)")
        users, needed = _scope(store, name, report)
        if name is None:
            todo = list(store.iter_blobs())
            present = {k for k, _ in todo}
            todo += [(k, store.key_path(k)) for k in sorted(needed - present)]
        else:
            todo = [(k, store.key_path(k)) for k in sorted(needed)]
        progress = _Progress(len(todo))
        for i, (key, path) in enumerate(todo):
            bad = problems(key, path)
            if bad:
                report.bad.append(BadBlob(key, path, bad, users.get(key, [])))
            progress.update(i + 1)
        progress.done()
        report.checked = len(todo)
        if quarantine:
            for b in report.bad:
                if b.problems != ["missing"]:
                    b.moved_to = _quarantine(store, b)
    return report


def _quarantine(store: Store, b: BadBlob) -> Path:
    try:
        store.quarantine.mkdir(exist_ok=True)
        dest = store.quarantine / b.key
        n = 0
        while os.path.lexists(dest):
            n += 1
            dest = store.quarantine / f"{b.key}.{n}"
        os.rename(b.path, dest)
        return dest
    except OSError as e:
        raise VfsError(f"cannot move {b.path} to {store.quarantine}: {why(e)}") from None
