"""`vrift ingest | mount | umount | ls | gc`: the content-addressed store."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import units


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="store a tree in the CAS and write its manifest")
    p.add_argument("dir", help="directory to ingest")
    p.add_argument("--name", help="manifest name (default: the directory's name)")
    p.set_defaults(func=ingest)
    p = sub.add_parser("mount", help="project a manifest as a tree of hardlinks to its blobs")
    p.add_argument("name", help="manifest name (see vrift ls)")
    p.add_argument("dest", help="new or empty directory")
    p.set_defaults(func=mount)
    p = sub.add_parser("umount", help="remove a projection")
    p.add_argument("dest")
    p.set_defaults(func=umount)
    p = sub.add_parser("ls", help="list manifests and projections in the store")
    p.set_defaults(func=ls)
    p = sub.add_parser("gc", help="remove blobs no manifest references")
    p.set_defaults(func=gc)


def _store(create: bool = True):
    from vrift_vfs import Store

    return Store.open(create=create)


def ingest(args: argparse.Namespace) -> int:
    from vrift_vfs import ingest as do_ingest

    r = do_ingest(_store(), args.dir, args.name)
    print(f"vrift: ingested {args.dir} as '{r.name}' ({r.manifest})")
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

    proj, copies = do_mount(_store(create=False), args.name, args.dest)
    how = f" ({copies} files copied: other device)" if copies else ""
    print(f"vrift: projected '{args.name}' at {proj.root}{how}")
    print(f"vrift: serve it with `vrift run --vfs {proj.root} -- CMD`")
    return 0


def umount(args: argparse.Namespace) -> int:
    from vrift_vfs import umount as do_umount

    proj = do_umount(_store(create=False), args.dest)
    print(f"vrift: removed projection {proj.root}")
    return 0


def ls(args: argparse.Namespace) -> int:
    from vrift_vfs import list_projections, read_manifest

    store = _store(create=False)
    print(f"store: {store.root}")
    for name in store.manifest_names():
        m = read_manifest(store.manifest_path(name))
        print(
            f"  {name:<20} {units.count(m.file_count)} files  original {units.size(m.original_bytes)}  "
            f"stored {units.size(m.unique_bytes)}"
        )
    projs = list_projections(store)
    if projs:
        print("projections:")
        for p in projs:
            print(f"  {p.root}  <- {Path(p.manifest).stem}")
    return 0


def gc(args: argparse.Namespace) -> int:
    from vrift_vfs import gc as do_gc

    removed, freed = do_gc(_store(create=False))
    print(f"vrift: removed {removed} unreferenced blobs ({units.size(freed)})")
    return 0


def vfs_environment(dests: list[str], env: dict[str, str]) -> dict[str, str]:
    """VRIFT_VFS for `vrift run --vfs DEST`: the projections' descriptors."""
    from vrift_vfs.project import find_projection

    store = _store(create=False)
    descs = []
    for d in dests:
        proj = find_projection(store, d)
        descs.append(str(store.projections / f"{proj.id}.proj"))
    out = dict(env)
    out["VRIFT_VFS"] = ":".join(descs)
    return out


def vfs_error_types() -> tuple[type[Exception], ...]:
    try:
        from vrift_vfs import VfsError
    except ImportError:  # pragma: no cover - the CLI depends on vrift-vfs
        return ()
    return (VfsError,)
