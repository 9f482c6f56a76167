"""What a projection holds that its pinned manifest version does not.

Walks the tree with lstat (never following a link) and compares it with
the manifest: names added, names missing, a type changed, a symlink
retargeted, a directory's permissions changed, and regular files that are
no longer what mount put there. A hardlink projection's files must still
be the sealed blob (mtime == SEAL_NS, blob mode, same size); copy-on-write
by the shim, an editor's replace or a write through the link all break
that. A reflink or copy projection's files must keep the ingested
permission bits, mtime and size. A directory that cannot be read is
reported, not skipped: umount must never discard what it did not see.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from .manifest import Entry, Manifest
from .materialize import own_mode
from .store import SEAL_NS, blob_mode


@dataclass(frozen=True)
class Change:
    path: str  # relative to the projection root; "." for the root
    what: str  # "added", "missing", "changed", "type changed", ...

    def __str__(self) -> str:
        return f"{self.path} {self.what}"


_KIND = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink"}


def _file_changed(st: os.stat_result, e: Entry, mechanism: str) -> bool:
    if st.st_size != e.size:
        return True
    if mechanism == "hardlink":
        return st.st_mtime_ns != SEAL_NS or stat.S_IMODE(st.st_mode) != blob_mode(e.executable)
    return st.st_mtime_ns != e.mtime_ns or stat.S_IMODE(st.st_mode) != own_mode(e)


def _compare(full: str, rel: str, st: os.stat_result, e: Entry, mechanism: str) -> str | None:
    kind = _KIND.get(stat.S_IFMT(st.st_mode), "special file")
    if kind != e.type:
        return f"type changed ({e.type} -> {kind})"
    if kind == "file":
        return "changed" if _file_changed(st, e, mechanism) else None
    if kind == "symlink":
        return None if os.readlink(full) == e.target else "symlink target changed"
    if stat.S_IMODE(st.st_mode) != stat.S_IMODE(e.mode):
        return "permissions changed"
    return None


def find(root: str | os.PathLike[str], m: Manifest, mechanism: str) -> list[Change]:
    """Every difference between the tree at `root` and `m`, in path order."""
    expected = {e.path: e for e in m.entries()}
    root_s = os.fspath(root)
    out: list[Change] = []
    seen: set[str] = set()
    stack = [""]
    while stack:
        rel = stack.pop()
        full = os.path.join(root_s, rel) if rel else root_s
        label = rel or "."
        try:
            st = os.lstat(full)
        except OSError as err:
            out.append(Change(label, f"cannot be inspected ({err.strerror})"))
            continue
        seen.add(rel)
        e = expected.get(rel)
        if e is None:
            out.append(Change(label, "added"))
        else:
            what = _compare(full, rel, st, e, mechanism)
            if what:
                out.append(Change(label, what))
        if stat.S_ISDIR(st.st_mode):
            if e is None or e.type != "dir":
                continue  # everything below an added directory is part of that change
            try:
                names = os.listdir(full)
            except OSError as err:
                out.append(Change(label, f"cannot be read ({err.strerror})"))
                seen.update(p for p in expected if p.startswith(rel + "/" if rel else ""))
                continue
            stack.extend(sorted((f"{rel}/{n}" if rel else n for n in names), reverse=True))
    retyped = {c.path for c in out if c.what.startswith("type changed")}
    for path in expected:
        if path not in seen and not _under(path, retyped):
            out.append(Change(path or ".", "missing"))
    return sorted(out, key=lambda c: c.path)


def _under(path: str, dirs: set[str]) -> bool:
    """Is `path` below one of `dirs`? (what was a directory is one change, not one per child)"""
    if not dirs:
        return False
    parts = path.split("/")
    return any("/".join(parts[:i]) in dirs for i in range(1, len(parts)))
