"""The store's life cycle: blob layout and seal, manifest versions and pinned
projections, ls, rm, gc, verify, the tamper check, umount's change check,
and the mount mechanisms (reflink on an XFS image when one can be made)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import blake3
import pytest
from conftest import vrift_cmd
from helpers import have, vrift

SEAL_NS = 1_000_000_000 * 10**9
RUN_SH = b"#!/bin/sh\necho hi\n"


def blob_files(store: Path) -> set[str]:
    """'ab/cdef...[.x]' of every blob."""
    return {f"{b.parent.name}/{b.name}" for b in (store / "blobs").glob("*/*")}


def blob_of(store: Path, content: bytes, executable: bool = False) -> Path:
    h = blake3.blake3(content).hexdigest()
    return store / "blobs" / h[:2] / (h[2:] + (".x" if executable else ""))


def descriptor(dest: Path, state: Path) -> list[str]:
    (desc,) = [p for p in (state / "projections").glob("*.proj") if p.read_text().split("\n")[0] == str(dest)]
    return desc.read_text().split("\n")


def one_line_error(r: subprocess.CompletedProcess[str], match: str) -> None:
    assert r.returncode != 0, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0] and "Traceback" not in r.stderr, r.stderr


@pytest.fixture
def src(tmp_path: Path) -> Path:
    s = tmp_path / "src"
    (s / "sub").mkdir(parents=True)
    (s / "run.sh").write_bytes(RUN_SH)
    os.chmod(s / "run.sh", 0o755)
    (s / "same.txt").write_bytes(RUN_SH)  # same bytes, not executable: a second blob
    (s / "f.txt").write_text("original\n")
    (s / "sub" / "a.txt").write_text("alpha\n")
    os.symlink("sub/a.txt", s / "link")
    return s


# ---- layout ----


def test_reader_layout_matches_the_c_header():
    from vrift_vfs import _ffi
    from vrift_vfs import layout as L
    from vrift_vfs.store import SEAL_NS as STORE_SEAL

    ffi = _ffi.ffi()
    assert L.HEADER.size == ffi.sizeof("struct vrift_manifest_header")
    assert L.ENTRY.size == ffi.sizeof("struct vrift_manifest_entry")
    offsets = L.field_offsets(L.HEADER)
    for i, field in enumerate(L.HEADER_FIELDS):
        assert offsets[i] == ffi.offsetof("struct vrift_manifest_header", field), field
    offsets = L.field_offsets(L.ENTRY)
    for member, i in L.ENTRY_CHECKS:
        assert offsets[i] == ffi.offsetof("struct vrift_manifest_entry", *member.split(".")), member
    assert (L.MAGIC, L.MAJOR) == (_ffi.const("VRIFT_MANIFEST_MAGIC"), _ffi.const("VRIFT_MANIFEST_MAJOR"))
    assert L.BYTE_ORDER_MARK == _ffi.const("VRIFT_BYTE_ORDER_MARK")
    types = ffi.typeof("enum vrift_entry_type").relements
    assert (L.TYPE_FILE, L.TYPE_DIR, L.TYPE_SYMLINK) == tuple(
        types[f"VRIFT_ENTRY_{t}"] for t in ("FILE", "DIR", "SYMLINK")
    )
    assert STORE_SEAL == SEAL_NS == _ffi.const("VRIFT_BLOB_SEAL_SEC") * 10**9
    # the projection descriptor's lines (vrift_vfs_state.h)
    lines = ffi.typeof("enum vrift_proj_line").relements
    for name in ("ROOT", "MANIFEST", "DIRTY", "STORE", "MECHANISM"):
        assert getattr(L, f"PROJ_LINE_{name}") == lines[f"VRIFT_PROJ_LINE_{name}"], name
    assert L.PROJ_LINES == lines["VRIFT_PROJ_LINES"]


def test_the_shim_and_vrift_vfs_agree_on_a_projections_state(store: Path, src: Path, tmp_path: Path):
    """vrift_vfs writes the descriptor and the dirty table, the shim reads
    them and marks what a program changes; read back with the header's
    layout, flags and key rule, the marks are the paths changed."""
    from vrift_vfs import dirty
    from vrift_vfs import layout as L

    vrift("ingest", str(src), "--name", "t")
    dest = tmp_path / "p"
    vrift("mount", "t", str(dest), "--mechanism", "hardlink")
    lines = descriptor(dest, tmp_path / "state")
    assert lines[L.PROJ_LINE_ROOT] == str(dest) and lines[L.PROJ_LINE_MECHANISM] == "hardlink"
    table_path = Path(lines[L.PROJ_LINE_DIRTY])
    before = dirty.read_table(table_path)
    assert (before.slots, before.all_dirty, before.gone_marks, any(before.entries)) == (
        65536,
        False,
        0,
        False,
    )
    r = subprocess.run(
        vrift_cmd("run", "--vfs", str(dest), "--", "sh", "-c", "echo more >> f.txt && rm sub/a.txt"),
        cwd=dest,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    after = dirty.read_table(table_path)
    assert after.flags(b"f.txt") == {"done"}  # copied on write: never served again
    assert after.flags(b"sub/a.txt") == {"done", "gone"}  # removed: hides everything below it
    assert after.flags(b"run.sh") == frozenset()  # untouched: still served
    assert after.gone_marks == 1 and not after.all_dirty


def test_exec_blob_has_its_own_name_and_mode_and_runs_without_the_shim(
    store: Path, src: Path, tmp_path: Path
):
    out = vrift("ingest", str(src), "--name", "t").stdout
    assert "as 't' version 1" in out
    size = len(RUN_SH) * 2 + len("original\n") + len("alpha\n")
    assert f"({size:,} bytes distinct content)" in out  # run.sh and same.txt: two blobs, both counted
    plain, exe = blob_of(store, RUN_SH), blob_of(store, RUN_SH, executable=True)
    assert exe.name == plain.name + ".x"
    assert len(exe.name) == 62 + 2 and len(exe.parent.name) == 2
    for blob, mode in ((plain, 0o444), (exe, 0o555), (blob_of(store, b"alpha\n"), 0o444)):
        st = os.stat(blob)
        assert (stat.S_IMODE(st.st_mode), st.st_mtime_ns, st.st_atime_ns) == (mode, SEAL_NS, SEAL_NS)
    before = {b: os.stat(store / "blobs" / b) for b in blob_files(store)}
    again = vrift("ingest", str(src), "--name", "t2").stdout
    assert "new in store: 0 bytes" in again
    for b, st in before.items():  # dedup leaves a present blob alone, ctime included
        assert os.stat(store / "blobs" / b).st_ctime_ns == st.st_ctime_ns
    dest = tmp_path / "p"
    vrift("mount", "t", str(dest), "--mechanism", "hardlink")
    r = subprocess.run([dest / "run.sh"], capture_output=True, text=True)
    assert (r.returncode, r.stdout) == (0, "hi\n")
    assert os.stat(dest / "run.sh").st_ino == os.stat(exe).st_ino
    assert os.stat(dest / "same.txt").st_ino == os.stat(plain).st_ino


# ---- versions, ls ----


def test_reingest_makes_version_2_and_old_projection_stays_pinned(store: Path, src: Path, tmp_path: Path):
    state = tmp_path / "state"
    vrift("ingest", str(src), "--name", "t")
    p1, p2 = tmp_path / "p1", tmp_path / "p2"
    vrift("mount", "t", str(p1), "--mechanism", "hardlink")
    (src / "f.txt").write_text("second\n")
    assert "as 't' version 2" in vrift("ingest", str(src), "--name", "t").stdout
    v1, v2 = store / "manifests" / "t" / "1.vmf", store / "manifests" / "t" / "2.vmf"
    assert stat.S_IMODE(v1.stat().st_mode) == stat.S_IMODE(v2.stat().st_mode) == 0o444
    assert descriptor(p1, state)[:5] == [str(p1), str(v1), descriptor(p1, state)[2], str(store), "hardlink"]
    assert descriptor(p1, state)[5:] == [""]  # five lines, each ending in a newline
    assert (p1 / "f.txt").read_text() == "original\n"
    out = vrift("mount", "t", str(p2), "--mechanism", "hardlink").stdout
    assert f"projected 't' version 2 at {p2} (hardlink)" in out
    assert descriptor(p2, state)[1] == str(v2)
    assert (p2 / "f.txt").read_text() == "second\n"
    shutil.rmtree(p2)
    ls = vrift("ls").stdout.splitlines()
    rows = {ln.split()[0]: ln.split() for ln in ls if ln.startswith("  /")}
    assert rows[str(p1)][1:] == ["t", "1", "stale", "(current", "is", "2)", "hardlink", "present"]
    assert rows[str(p2)][1:] == ["t", "2", "current", "hardlink", "gone"]
    versions = [ln.split()[:3] for ln in ls if ln.startswith("  t ")]
    assert versions == [["t", "1", "pinned"], ["t", "2", "current,"]]
    assert vrift("umount", str(p2)).stdout == f"vrift: {p2} was already gone; unregistered it\n"


def test_legacy_manifest_is_version_0_and_old_descriptors_are_upgraded(
    store: Path, src: Path, tmp_path: Path
):
    state = tmp_path / "state"
    vrift("ingest", str(src), "--name", "m")
    legacy = store / "manifests" / "old.vmf"
    os.rename(store / "manifests" / "m" / "1.vmf", legacy)
    dest = tmp_path / "p"
    vrift("mount", "old", str(dest))
    (desc,) = (state / "projections").glob("*.proj")
    lines = desc.read_text().split("\n")
    desc.write_text("\n".join(lines[:3]) + "\n")  # as written before versions
    assert ["old", "0", "current,", "pinned"] in [ln.split()[:4] for ln in vrift("ls").stdout.splitlines()]
    assert descriptor(dest, state)[3:5] == [str(store), "hardlink"]
    assert "as 'old' version 1" in vrift("ingest", str(src), "--name", "old").stdout
    assert "0 old manifest versions" in vrift("gc").stdout  # old@0 is pinned
    vrift("umount", str(dest))
    assert "1 old manifest version" in vrift("gc").stdout
    assert not legacy.exists()


# ---- rm, gc ----


def test_rm_refuses_while_projected_and_gc_frees_exactly_its_blobs(store: Path, tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "shared.txt").write_text("shared\n")
    (a / "only_a.txt").write_text("only in a\n")
    (b / "b1.txt").write_text("b one\n")
    vrift("ingest", str(a), "--name", "a")
    vrift("ingest", str(b), "--name", "b")
    vrift("mount", "b", str(tmp_path / "pb"))  # pins b@1
    (b / "b1.txt").write_text("b two\n")
    vrift("ingest", str(b), "--name", "b")  # b@2: neither current nor pinned once b@3 exists
    (b / "b1.txt").write_text("b three\n")
    vrift("ingest", str(b), "--name", "b")
    pa = tmp_path / "pa"
    vrift("mount", "a", str(pa))
    one_line_error(vrift("rm", "a", check=False), f"'a' is projected at {pa}")
    assert (store / "manifests" / "a" / "1.vmf").exists()
    before = blob_files(store)
    r = vrift("rm", "a", "--force")
    assert "removed 'a' (1 version)" in r.stdout
    assert f"{pa} is no longer served" in r.stderr
    assert not (store / "manifests" / "a").exists()
    assert blob_files(store) == before  # rm only forgets the name
    gone = {blob_of(store, b"only in a\n"), blob_of(store, b"b two\n")}
    out = vrift("gc").stdout
    assert "removed 2 unreferenced blobs" in out and "1 old manifest version" in out
    assert before - blob_files(store) == {f"{p.parent.name}/{p.name}" for p in gone}
    assert sorted(p.name for p in (store / "manifests" / "b").iterdir()) == ["1.vmf", "3.vmf"]
    assert "version removed" in vrift("ls").stdout
    one_line_error(vrift("umount", str(pa), check=False), "umount --force removes it")
    vrift("umount", "--force", str(pa))
    assert not pa.exists()
    assert "removed 0 unreferenced blobs" in vrift("gc").stdout


def test_gc_stops_on_a_corrupt_kept_version(store: Path, src: Path):
    vrift("ingest", str(src), "--name", "t")
    v = store / "manifests" / "t" / "1.vmf"
    os.chmod(v, 0o644)
    v.write_bytes(b"garbage" * 50)
    before = blob_files(store)
    one_line_error(vrift("gc", check=False), "gc stopped, nothing removed")
    assert blob_files(store) == before
    vrift("rm", "t")
    assert "removed 4 unreferenced blobs" in vrift("gc").stdout


# ---- verify, tamper check ----


def test_verify_finds_a_blob_written_through_a_hardlink_and_quarantines_it(
    store: Path, src: Path, tmp_path: Path
):
    vrift("ingest", str(src), "--name", "t")
    dest = tmp_path / "p"
    vrift("mount", "t", str(dest), "--mechanism", "hardlink")
    ok = vrift("verify")
    assert (ok.stdout, ok.stderr) == ("vrift: 4 blobs in the store verified, all good\n", "")
    assert vrift("verify", "t").stdout == "vrift: 4 blobs of 't' verified, all good\n"
    blob = blob_of(store, b"original\n")
    os.chmod(dest / "f.txt", 0o644)  # no shim: the hard link is the blob's inode
    (dest / "f.txt").write_text("tampered\n")
    for args in (["verify"], ["verify", "t"]):
        r = vrift(*args, check=False)
        assert r.returncode == 1, r.stdout
        (line,) = [ln for ln in r.stdout.splitlines() if ln.startswith("bad blob")]
        assert line.startswith(f"bad blob blobs/{blob.parent.name}/{blob.name}: mode 0644, not 0444; ")
        assert "mtime is not the seal" in line and "content does not match its name" in line
        assert line.endswith(f"(used by t@1, projection {dest})")
    r = vrift("verify", "--quarantine", check=False)
    assert r.returncode == 1 and "moved to" in r.stdout
    assert not blob.exists() and (store / "quarantine" / (blob.parent.name + blob.name)).exists()
    r = vrift("verify", check=False)
    assert r.returncode == 1 and f"bad blob blobs/{blob.parent.name}/{blob.name}: missing" in r.stdout
    vrift("ingest", str(src), "--name", "t")  # the original restores it
    assert vrift("verify").returncode == 0 and blob.read_text() == "original\n"


def test_mount_and_run_warn_about_a_tampered_blob(store: Path, src: Path, tmp_path: Path):
    vrift("ingest", str(src), "--name", "t")
    blob = blob_of(store, b"alpha\n")
    os.chmod(blob, 0o644)
    blob.write_text("ALPHA\n")  # same size: only the seal shows it
    os.chmod(blob, 0o444)
    warning = "vrift: warning: 1 blob of 't' changed outside vrift (size or mtime); run 'vrift verify t'\n"
    dest = tmp_path / "p"
    r = vrift("mount", "t", str(dest))
    assert r.stderr == warning and (dest / "sub" / "a.txt").exists()
    r = subprocess.run(vrift_cmd("run", "--vfs", str(dest), "--", "true"), capture_output=True, text=True)
    assert (r.returncode, r.stderr) == (0, warning)
    os.chmod(blob, 0o644)
    blob.write_text("longer now\n")
    one_line_error(vrift("mount", "t", str(tmp_path / "q"), check=False), "changed size outside vrift")
    assert not (tmp_path / "q").exists()


# ---- umount ----


def test_umount_refuses_while_the_projection_holds_changes(store: Path, src: Path, tmp_path: Path):
    vrift("ingest", str(src), "--name", "t")
    dest = tmp_path / "p"
    vrift("mount", "t", str(dest), "--mechanism", "hardlink")
    (dest / "sub" / "new.txt").write_text("mine\n")
    r = vrift("umount", str(dest), check=False)
    assert (
        r.stderr == f"vrift: {dest} holds 1 change (e.g. sub/new.txt added); umount --force discards them\n"
    )
    assert r.returncode != 0 and (dest / "sub" / "new.txt").exists()
    (dest / "sub" / "new.txt").unlink()
    tmp = dest / ".f.txt.swp"  # an editor's save: same bytes, a new inode renamed over
    tmp.write_text("original\n")
    os.rename(tmp, dest / "f.txt")
    os.unlink(dest / "link")
    os.symlink("elsewhere", dest / "link")
    (dest / "same.txt").unlink()
    r = vrift("umount", str(dest), check=False)
    assert "holds 3 changes (e.g. f.txt changed, link symlink target changed, same.txt missing)" in r.stderr
    assert (
        vrift("umount", "--force", str(dest)).stdout
        == f"vrift: removed projection {dest} (discarded 3 changes)\n"
    )
    assert not dest.exists() and not list((tmp_path / "state" / "projections").iterdir())


def test_umount_of_a_clean_projection_and_of_one_changed_through_the_shim(
    store: Path, src: Path, tmp_path: Path
):
    vrift("ingest", str(src), "--name", "t")
    clean, cow = tmp_path / "clean", tmp_path / "cow"
    for d in (clean, cow):
        vrift("mount", "t", str(d), "--mechanism", "hardlink")
    subprocess.run(
        vrift_cmd("run", "--vfs", str(clean), "--", "cat", "f.txt"), cwd=clean, capture_output=True
    )
    assert vrift("umount", str(clean)).returncode == 0 and not clean.exists()
    r = subprocess.run(
        vrift_cmd("run", "--vfs", str(cow), "--", "sh", "-c", "echo more >> f.txt"),
        cwd=cow,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert blob_of(store, b"original\n").read_text() == "original\n"  # copied on write
    r = vrift("umount", str(cow), check=False)
    assert "holds 1 change (e.g. f.txt changed)" in r.stderr
    vrift("umount", "--force", str(cow))


def test_copy_projection_has_ingested_metadata_and_its_own_inodes(store: Path, src: Path, tmp_path: Path):
    os.chmod(src / "f.txt", 0o640)
    vrift("ingest", str(src), "--name", "t")
    dest = tmp_path / "p"
    assert "(copy)" in vrift("mount", "t", str(dest), "--mechanism", "copy").stdout
    _assert_own_inodes(store, src, dest)
    assert vrift("umount", str(dest)).returncode == 0


def _assert_own_inodes(store: Path, src: Path, dest: Path) -> None:
    for name in ("run.sh", "f.txt", "same.txt", "sub/a.txt"):
        a, b = os.stat(src / name), os.stat(dest / name)
        assert (stat.S_IMODE(b.st_mode), b.st_mtime_ns, b.st_nlink) == (
            stat.S_IMODE(a.st_mode),
            a.st_mtime_ns,
            1,
        )
        assert b.st_ino != os.stat(blob_of(store, (src / name).read_bytes(), name == "run.sh")).st_ino
    assert subprocess.run([dest / "run.sh"], capture_output=True, text=True).stdout == "hi\n"
    assert os.lstat(dest / "link").st_mtime_ns == os.lstat(src / "link").st_mtime_ns


# ---- reflink ----


@pytest.fixture
def xfs(tmp_path: Path):
    """A small XFS file system with reflinks, loop-mounted (needs root and mkfs.xfs)."""
    if os.geteuid() != 0 or not have("mkfs.xfs"):
        pytest.skip("needs root and mkfs.xfs to make a reflink-capable file system")
    img, mnt = tmp_path / "xfs.img", tmp_path / "xfs"
    with open(img, "wb") as f:
        f.truncate(320 << 20)
    mnt.mkdir()
    mk = subprocess.run(["mkfs.xfs", "-q", "-m", "reflink=1", str(img)], capture_output=True)
    if (
        mk.returncode
        or subprocess.run(["mount", "-o", "loop", str(img), str(mnt)], capture_output=True).returncode
    ):
        pytest.skip("cannot make or loop-mount an XFS image here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_reflink_projection(xfs: Path, src: Path, tmp_path: Path):
    os.chmod(src / "f.txt", 0o640)
    store = xfs / "store"
    env = dict(os.environ, VRIFT_STORE=str(store), VRIFT_STATE=str(xfs / "state"))
    vrift("ingest", str(src), "--name", "t", env=env)
    dest = xfs / "p"
    assert f"at {dest} (reflink)" in vrift("mount", "t", str(dest), env=env).stdout
    assert descriptor(dest, xfs / "state")[4] == "reflink"
    _assert_own_inodes(store, src, dest)
    assert vrift("umount", str(dest), env=env).returncode == 0
    vrift("mount", "t", str(dest), env=env)
    with open(dest / "f.txt", "a") as f:  # no shim, no hard link: the store cannot be reached
        f.write("more\n")
    assert vrift("verify", env=env).returncode == 0
    assert "f.txt changed" in vrift("umount", str(dest), env=env, check=False).stderr
    (row,) = [ln.split() for ln in vrift("ls", env=env).stdout.splitlines() if ln.startswith(f"  {dest} ")]
    assert row[1:] == ["t", "1", "current", "reflink", "present"]
    vrift("umount", "--force", str(dest), env=env)


# ---- user errors ----


def test_user_errors_are_one_line(store: Path, src: Path, tmp_path: Path):
    vrift("ingest", str(src), "--name", "t")
    one_line_error(vrift("rm", "nope", check=False), "no manifest named 'nope'")
    one_line_error(vrift("verify", "nope", check=False), "no manifest named 'nope'")
    one_line_error(vrift("mount", "t", str(tmp_path / "p"), "--version", "7", check=False), "no version 7")
    one_line_error(vrift("umount", "--force", str(tmp_path), check=False), "not a vrift projection")
    one_line_error(vrift("ingest", str(src), "--name", "x.vmf", check=False), "bad manifest name")
    one_line_error(vrift("ingest", str(src), "--name", ".hidden", check=False), "bad manifest name")
    if subprocess.run(
        ["stat", "-f", "-c", "%T", str(tmp_path)], capture_output=True, text=True
    ).stdout.strip() in (
        "ext2/ext3",
        "tmpfs",
    ):
        one_line_error(
            vrift("mount", "t", str(tmp_path / "r"), "--mechanism", "reflink", check=False), "cannot reflink"
        )
        assert not (tmp_path / "r").exists()
