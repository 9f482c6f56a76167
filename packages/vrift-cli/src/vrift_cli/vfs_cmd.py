"""`vrift ingest | mount | umount | ls | rm | gc | verify`: the content-addressed store."""

from __future__ import annotations

import argparse
import sys
import time

from . import units
from .text_table import table


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="store a tree in the CAS and write a new manifest version")
    p.add_argument("dir", help="directory to ingest")
    p.add_argument("--name", help="manifest name (default: the directory's name)")
    p.set_defaults(func=ingest)
    p = sub.add_parser("mount", help="project a manifest version as a real tree (reflinks or hardlinks)")
    p.add_argument("name", help="manifest name (see vrift ls)")
    p.add_argument("dest", help="new or empty directory")
    p.add_argument("--version", type=int, metavar="N", help="mount version N (default: the current one)")
    p.add_argument(
        "--mechanism",
        choices=("auto", "reflink", "hardlink", "copy"),
        default="auto",
        help="how files are placed (default: reflink if the file system can, else hardlink, else copy)",
    )
    p.set_defaults(func=mount)
    p = sub.add_parser("umount", help="remove a projection (refuses while it holds changes)")
    p.add_argument("dest")
    p.add_argument("--force", action="store_true", help="remove it even if it holds changes")
    p.set_defaults(func=umount)
    p = sub.add_parser("ls", help="list manifest versions and projections in the store")
    p.set_defaults(func=ls)
    p = sub.add_parser("rm", help="remove every version of a manifest name (then gc frees its blobs)")
    p.add_argument("name")
    p.add_argument("--force", action="store_true", help="even while it is projected")
    p.set_defaults(func=rm)
    p = sub.add_parser("gc", help="remove old unpinned versions and blobs nothing references")
    p.set_defaults(func=gc)
    p = sub.add_parser("verify", help="rehash blobs and check their names, modes and seals")
    p.add_argument("name", nargs="?", help="only the blobs this name's current and pinned versions use")
    p.add_argument("--quarantine", action="store_true", help="move bad blobs to <store>/quarantine/")
    p.set_defaults(func=verify)


def _store(create: bool = True):
    from vrift_vfs import Store

    return Store.open(create=create)


def _warn(line: str) -> None:
    print(f"vrift: {line}", file=sys.stderr)


def ingest(args: argparse.Namespace) -> int:
    from vrift_vfs import ingest as do_ingest

    r = do_ingest(_store(), args.dir, args.name)
    print(f"vrift: ingested {args.dir} as '{r.name}' version {r.version} ({r.manifest})")
    print(
        f"  {units.count(r.files)} files, {units.count(r.dirs)} directories, "
        f"{units.count(r.symlinks)} symlinks" + (f", {r.skipped} special files skipped" if r.skipped else "")
    )
    print(f"  original {units.size(r.original_bytes)} ({r.original_bytes:,} bytes)")
    print(f"  stored   {units.size(r.unique_bytes)} ({r.unique_bytes:,} bytes distinct content)")
    print(
        f"  saved    {units.size(r.saved_bytes)} ({r.saved_bytes:,} bytes, "
        f"dedup ratio {r.dedup_ratio:.2f}x); new in store: {r.new_bytes:,} bytes"
    )
    return 0


def mount(args: argparse.Namespace) -> int:
    from vrift_vfs import mount as do_mount
    from vrift_vfs.tamper import warning

    mechanism = None if args.mechanism == "auto" else args.mechanism
    r = do_mount(_store(create=False), args.name, args.dest, mechanism, args.version)
    for line in warning(args.name, r.tamper):
        _warn(line)
    proj = r.projection
    how = proj.mechanism + (f"; {r.copies} files copied" if r.copies else "")
    print(f"vrift: projected '{proj.name}' version {proj.version} at {proj.root} ({how})")
    print(f"vrift: serve it with `vrift run --vfs {proj.root} -- CMD`")
    return 0


def umount(args: argparse.Namespace) -> int:
    from vrift_vfs import umount as do_umount

    proj, gone, discarded = do_umount(_store(create=False), args.dest, args.force)
    if gone:
        print(f"vrift: {proj.root} was already gone; unregistered it")
    else:
        extra = f" (discarded {discarded} change{'s' if discarded != 1 else ''})" if discarded else ""
        print(f"vrift: removed projection {proj.root}{extra}")
    return 0


def _print_table(rows: list[list[str]], indent: str = "  ") -> None:
    for line in table(rows):
        print(indent + line)


def ls(args: argparse.Namespace) -> int:
    import os

    from vrift_vfs import VfsError, list_projections, read_manifest
    from vrift_vfs.versions import names, versions

    store = _store(create=False)
    projs = list_projections(store)
    pinned = {p.manifest for p in projs}
    print(f"store: {store.root}")
    rows = [["NAME", "VERSION", "STATUS", "FILES", "ORIGINAL", "STORED", "INGESTED"]]
    newest: dict[str, int] = {}
    for name in names(store):
        vs = versions(store, name)
        newest[name] = vs[-1].number
        for v in vs:
            mark = (
                ", ".join(w for w, on in (("current", v is vs[-1]), ("pinned", v.path in pinned)) if on)
                or "old"
            )
            try:
                m = read_manifest(v.path)
            except VfsError as e:
                rows.append([name, str(v.number), mark, f"unreadable: {e}", "", "", ""])
                continue
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(m.created_realtime_ns / 1e9))
            rows.append(
                [
                    name,
                    str(v.number),
                    mark,
                    units.count(m.file_count),
                    units.size(m.original_bytes),
                    units.size(m.unique_bytes),
                    when,
                ]
            )
    if len(rows) > 1:
        print("manifests:")
        _print_table(rows)
    else:
        print("manifests: none (vrift ingest DIR --name NAME)")
    if projs:
        print("projections:")
        rows = [["ROOT", "NAME", "VERSION", "STATUS", "MECHANISM", "DIRECTORY"]]
        for p in projs:
            if not p.manifest.is_file():
                status = "version removed"
            elif newest.get(p.name, p.version) > p.version:
                status = f"stale (current is {newest[p.name]})"
            else:
                status = "current"
            where = "present" if os.path.lexists(p.root) else "gone"
            rows.append([str(p.root), p.name, str(p.version), status, p.mechanism, where])
        _print_table(rows)
    return 0


def rm(args: argparse.Namespace) -> int:
    from vrift_vfs import remove_name

    r = remove_name(_store(create=False), args.name, args.force)
    n = f"{r.versions} version{'s' if r.versions != 1 else ''}"
    print(f"vrift: removed '{r.name}' ({n}); vrift gc frees its blobs")
    for p in r.orphaned:
        _warn(f"warning: {p.root} is no longer served (its version is gone); vrift umount --force {p.root}")
    return 0


def gc(args: argparse.Namespace) -> int:
    from vrift_vfs import gc as do_gc

    r = do_gc(_store(create=False))
    print(
        f"vrift: removed {r.blobs} unreferenced blobs ({units.size(r.bytes)}) and "
        f"{r.versions} old manifest version{'s' if r.versions != 1 else ''}"
        + (f"; {r.tmp} leftover temporary files" if r.tmp else "")
    )
    return 0


def verify(args: argparse.Namespace) -> int:
    from vrift_vfs.verify import verify as do_verify

    store = _store(create=False)
    r = do_verify(store, args.name, args.quarantine)
    for line in r.bad_manifests:
        print(f"bad manifest: {line}")
    for b in r.bad:
        rel = b.path.relative_to(store.root) if b.path.is_relative_to(store.root) else b.path
        used = ", ".join(b.users) if b.users else "nothing"
        print(f"bad blob {rel}: {'; '.join(b.problems)} (used by {used})")
        if b.moved_to:
            print(f"  moved to {b.moved_to}; ingest the original again to restore it")
    scope = f"of '{args.name}'" if args.name else "in the store"
    if r.ok:
        print(f"vrift: {r.checked:,} blobs {scope} verified, all good")
        return 0
    what = f"{len(r.bad)} of {r.checked:,} blobs {scope} are bad"
    if r.bad_manifests:
        what += f", {len(r.bad_manifests)} manifest version(s) unreadable"
    print(f"vrift: {what}" + ("" if args.quarantine else "; vrift verify --quarantine moves them aside"))
    return 1


def vfs_environment(dests: list[str], env: dict[str, str]) -> dict[str, str]:
    """VRIFT_VFS for `vrift run --vfs DEST`: the projections' descriptors.

    Each projection's pinned version gets the cheap tamper check first (one
    stat per blob; warnings only, the command always runs).
    """
    from vrift_vfs import Store, VfsError, read_manifest
    from vrift_vfs.project import find_projection
    from vrift_vfs.store import default_root
    from vrift_vfs.tamper import check, warning

    store = Store(default_root())  # only its registry: each projection names its own store
    descs = []
    for d in dests:
        proj = find_projection(store, d)
        descs.append(str(proj.descriptor))
        try:
            m = read_manifest(proj.manifest)
        except VfsError as e:
            _warn(f"warning: {proj.root} is not served: {e}; its store stays protected")
            continue
        for line in warning(proj.name, check(Store(proj.store), m)):
            _warn(line)
    out = dict(env)
    out["VRIFT_VFS"] = ":".join(descs)
    return out


def vfs_error_types() -> tuple[type[Exception], ...]:
    try:
        from vrift_vfs import VfsError
    except ImportError:  # pragma: no cover - the CLI depends on vrift-vfs
        return ()
    return (VfsError,)
