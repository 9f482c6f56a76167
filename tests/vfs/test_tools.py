"""Real tools on a projection: tar, cp -a, rsync, du, sha256sum, zip,
compileall, an executable and Python's samefile/scandir give, under the
shim, exactly what they give on the ingested tree (stdout bytes, stderr,
exit status). The tree holds every kind of entry that trips tools up:
symlinks to a file, to a directory, through `..`, a dangling one, an
executable, a hard-linked pair, two files with the same content (one blob
in the store, but not hard links of each other), an empty directory, a 0600
file and a package."""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import blake3
import pytest
from conftest import vrift_cmd
from helpers import have, vrift

# Every field a copy must keep: name, mode, size, mtime, link count, type.
COPY_STAT = "%n %a %s %Y %h %F"
RUN_SH = b'#!/bin/sh\necho "ran $0 $#"\n'
FILES = [  # every regular file of the tree
    "a.txt", "dir/b.txt", "run.sh", "hard1.txt", "hard2.txt", "same1.txt", "same2.txt",
    "secret.txt", "pkg/__init__.py", "pkg/mod.py", "pkg/sub/__init__.py", "pkg/sub/deep.py",
]  # fmt: skip
MODULES = ["pkg/__init__.py", "pkg/mod.py", "pkg/sub/__init__.py", "pkg/sub/deep.py"]


def make_tree(root: Path) -> Path:
    root.mkdir()
    (root / "a.txt").write_text("alpha\n")
    os.symlink("a.txt", root / "link")
    (root / "dir").mkdir()
    (root / "dir" / "b.txt").write_text("beta\n")
    os.symlink("dir", root / "dirlink")
    (root / "sub").mkdir()
    os.symlink("../a.txt", root / "sub" / "up")
    os.symlink("missing", root / "dangling")
    (root / "run.sh").write_bytes(RUN_SH)
    os.chmod(root / "run.sh", 0o755)
    (root / "hard1.txt").write_text("hard\n")
    os.link(root / "hard1.txt", root / "hard2.txt")
    (root / "same1.txt").write_text("same\n")
    (root / "same2.txt").write_text("same\n")
    (root / "empty").mkdir()
    (root / "secret.txt").write_text("secret\n")
    os.chmod(root / "secret.txt", 0o600)
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("# pkg\n")
    (root / "pkg" / "mod.py").write_text("X = 1\n\n\ndef double(v):\n    return 2 * v\n")
    (root / "pkg" / "sub" / "__init__.py").write_text("from pkg.mod import X\n")
    (root / "pkg" / "sub" / "deep.py").write_text("from pkg.mod import double\n\nY = double(21)\n")
    return root


@pytest.fixture
def projected(store: Path, tmp_path: Path) -> tuple[Path, Path]:
    src = make_tree(tmp_path / "src")
    vrift("ingest", str(src), "--name", "t")
    dest = tmp_path / "proj"
    vrift("mount", "t", str(dest))
    return src, dest


def blob_state(store: Path) -> dict[str, tuple[str, int, int]]:
    """name (an executable's has a ".x") -> (BLAKE3 of the content, mode, mtime)."""
    out = {}
    for blob in sorted((store / "blobs").glob("*/*")):
        st = blob.stat()
        out[blob.parent.name + blob.name] = (
            blake3.blake3(blob.read_bytes()).hexdigest(),
            stat.S_IMODE(st.st_mode),
            st.st_mtime_ns,
        )
    return out


def assert_blobs_intact(store: Path, before: dict[str, tuple[str, int, int]]) -> None:
    after = blob_state(store)
    assert after == before
    assert all(digest == name.removesuffix(".x") for name, (digest, _, _) in after.items())


def run(cmd: list[str], cwd: Path, vfs: Path | None = None, env=None) -> subprocess.CompletedProcess[bytes]:
    if vfs is not None:
        cmd = vrift_cmd("run", "--vfs", str(vfs), "--", *cmd)
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True)


def both(cmd: list[str], src: Path, dest: Path, env=None, view=bytes.decode):
    """cmd on the plain tree and under the shim on the projection. In cmd,
    {T} is the tree (src or dest) and {O} an output path of that side.
    view(stdout) is compared first, for a readable difference."""

    def side(tree: Path, out: str) -> list[str]:
        return [a.replace("{T}", str(tree)).replace("{O}", str(tree.parent / out)) for a in cmd]

    plain = run(side(src, "out-plain"), src, env=env)
    served = run(side(dest, "out-vfs"), dest, vfs=dest, env=env)
    assert (served.returncode, served.stderr.decode()) == (plain.returncode, plain.stderr.decode())
    assert view(served.stdout) == view(plain.stdout)
    assert served.stdout == plain.stdout
    return plain, served


def sh(script: str) -> list[str]:
    return ["sh", "-c", script]


def tar_members(data: bytes) -> list[tuple]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return [(m.name, m.type, oct(m.mode), m.uid, m.gid, m.size, m.mtime, m.linkname) for m in tf]


@pytest.mark.parametrize("where", ["{T}", "{T}/", "sub/../", "./"])
def test_tar_archive_is_byte_identical(projected, where):
    src, dest = projected
    plain, _ = both(["tar", "-C", where, "--sort=name", "-cf", "-", "."], src, dest, view=tar_members)
    assert plain.returncode == 0 and plain.stderr == b""
    kinds = {m[0]: m[1] for m in tar_members(plain.stdout)}
    assert kinds["./link"] == kinds["./dangling"] == kinds["./sub/up"] == tarfile.SYMTYPE
    assert kinds["./hard1.txt"] == tarfile.REGTYPE and kinds["./hard2.txt"] == tarfile.LNKTYPE
    assert kinds["./same1.txt"] == kinds["./same2.txt"] == tarfile.REGTYPE
    assert kinds["./empty"] == tarfile.DIRTYPE


def assert_same_copy(copy: Path, plain_copy: Path) -> None:
    d = subprocess.run(["diff", "-r", "--no-dereference", str(plain_copy), str(copy)], capture_output=True)
    assert (d.returncode, d.stdout, d.stderr) == (0, b"", b"")
    listing = sh(f"find . | LC_ALL=C sort | xargs -d '\\n' stat -c '{COPY_STAT}'")
    a, b = run(listing, plain_copy), run(listing, copy)
    assert a.returncode == b.returncode == 0
    assert b.stdout.decode() == a.stdout.decode()
    lines = {ln.split()[0]: ln.split()[1:] for ln in b.stdout.decode().splitlines()}
    assert lines["./hard1.txt"][3] == lines["./hard2.txt"][3] == "2"  # the pair stays one inode
    assert lines["./same1.txt"][3] == lines["./same2.txt"][3] == "1"  # one blob, not one inode
    assert lines["./secret.txt"][:2] == ["600", "7"]
    assert lines["./run.sh"][0] == "755"
    assert os.stat(copy / "hard1.txt").st_ino == os.stat(copy / "hard2.txt").st_ino
    assert os.stat(copy / "same1.txt").st_ino != os.stat(copy / "same2.txt").st_ino
    assert os.readlink(copy / "sub" / "up") == "../a.txt" and os.readlink(copy / "dangling") == "missing"


def test_cp_a_copies_the_projection_like_the_tree(projected, store):
    src, dest = projected
    before = blob_state(store)
    plain = run(["cp", "-a", "src", "copy-plain"], src.parent)
    served = run(["cp", "-a", "proj", "copy-vfs"], dest.parent, vfs=dest)
    assert (plain.returncode, plain.stderr, served.returncode, served.stderr) == (0, b"", 0, b"")
    assert_same_copy(dest.parent / "copy-vfs", src.parent / "copy-plain")
    assert_blobs_intact(store, before)


@pytest.mark.skipif(not have("rsync"), reason="rsync is not installed (scripts/test installs it)")
def test_rsync_aH_copies_the_projection_like_the_tree(projected, store):
    src, dest = projected
    before = blob_state(store)
    plain = run(["rsync", "-aHi", "src/", "copy-plain/"], src.parent)
    served = run(["rsync", "-aHi", "proj/", "copy-vfs/"], dest.parent, vfs=dest)
    assert (served.returncode, served.stderr) == (plain.returncode, plain.stderr) == (0, b"")
    items = [out.stdout.decode().split("\n", 1) for out in (plain, served)]  # 1st: created directory X
    assert [i[0] for i in items] == ["created directory copy-plain", "created directory copy-vfs"]
    assert items[1][1] == items[0][1]  # the itemized list: same entries, same hard link
    linked = [ln for ln in items[0][1].splitlines() if ln.startswith("hf")]  # rsync picks which one
    assert linked in (["hf+++++++++ hard2.txt => hard1.txt"], ["hf+++++++++ hard1.txt => hard2.txt"])
    assert_same_copy(dest.parent / "copy-vfs", src.parent / "copy-plain")
    assert_blobs_intact(store, before)


def test_du_and_sha256sum(projected):
    src, dest = projected
    du, _ = both(sh("du -ab . | LC_ALL=C sort"), src, dest)
    names = [ln.split("\t")[1] for ln in du.stdout.decode().splitlines()]
    assert ("./hard1.txt" in names) != ("./hard2.txt" in names)  # a hard link is counted once
    assert "./same1.txt" in names and "./same2.txt" in names
    sums, _ = both(sh("find . -type f | LC_ALL=C sort | xargs -d '\\n' sha256sum"), src, dest)
    assert [ln.split()[1] for ln in sums.stdout.decode().splitlines()] == [f"./{f}" for f in sorted(FILES)]


ZIP = """
import shutil, sys, zipfile
path = shutil.make_archive(sys.argv[1], 'zip', '.')
for i in sorted(zipfile.ZipFile(path).infolist(), key=lambda i: i.filename):
    print(i.filename, i.date_time, oct(i.external_attr >> 16), i.file_size, i.CRC)
"""


def test_zip_of_the_tree(projected):
    src, dest = projected
    plain, _ = both([sys.executable, "-c", ZIP, "{O}"], src, dest)
    listed = {ln.split()[0]: ln for ln in plain.stdout.decode().splitlines()}
    # make_archive follows links to files and directories and skips dangling ones
    assert {"link", "sub/up", "dirlink/", "empty/", "secret.txt"} <= set(listed)
    assert "dangling" not in listed and " 0o100600 7 " in listed["secret.txt"]


def test_compileall_writes_caches_into_the_projection_only(projected, store, tmp_path):
    src, _ = projected
    dest2 = tmp_path / "proj2"
    vrift("mount", "t", str(dest2))
    plain_tree = tmp_path / "plain-copy"  # compile a copy: the ingested tree stays as it was
    shutil.copytree(src, plain_tree, symlinks=True)
    before = blob_state(store)
    cmd = [sys.executable, "-m", "compileall", "-q", "."]
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    plain = run(cmd, plain_tree, env=env)
    served = run(cmd, dest2, vfs=dest2, env=env)
    assert (served.returncode, served.stdout, served.stderr) == (plain.returncode, plain.stdout, plain.stderr)
    assert served.returncode == 0

    def caches(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("__pycache__/*.pyc"))}

    tag = sys.implementation.cache_tag
    expected = sorted(f"{os.path.dirname(m)}/__pycache__/{Path(m).stem}.{tag}.pyc" for m in MODULES)
    assert sorted(caches(dest2)) == expected
    assert caches(dest2) == caches(plain_tree)  # same source mtime and size in every header
    assert_blobs_intact(store, before)
    assert not list(src.rglob("__pycache__"))
    for m in MODULES:
        assert (dest2 / m).read_bytes() == (src / m).read_bytes()


def test_executable_runs_with_and_without_the_shim(projected):
    src, dest = projected
    plain, _ = both(["./run.sh"], src, dest)
    assert (plain.returncode, plain.stdout, plain.stderr) == (0, b"ran ./run.sh 0\n", b"")
    bare = run(["./run.sh"], dest)
    assert (bare.returncode, bare.stdout, bare.stderr) == (0, b"ran ./run.sh 0\n", b"")


IDENTITY = """
import os
pairs = [("link", "a.txt"), ("sub/up", "a.txt"), ("dirlink", "dir"), ("dirlink/b.txt", "dir/b.txt"),
         ("hard1.txt", "hard2.txt"), ("same1.txt", "same2.txt"), ("sub/../a.txt", "a.txt")]
for a, b in pairs:
    print("samefile", a, b, os.path.samefile(a, b))
for d in (".", "dir", "dirlink", "sub", "pkg", "pkg/sub", "empty"):
    for e in sorted(os.scandir(d), key=lambda e: e.name):
        st = os.lstat(e.path)
        print(e.path, e.inode(), st.st_ino == e.inode(), st.st_dev, st.st_nlink, oct(st.st_mode),
              e.is_dir(), e.is_file(), e.is_symlink(), e.is_dir(follow_symlinks=False))
"""


def test_samefile_and_scandir_inodes(projected):
    src, dest = projected
    plain, _ = both([sys.executable, "-c", IDENTITY], src, dest)
    out = plain.stdout.decode().splitlines()
    for line in ("samefile link a.txt True", "samefile dirlink dir True", "samefile hard1.txt hard2.txt True",
                 "samefile same1.txt same2.txt False", "samefile sub/up a.txt True"):  # fmt: skip
        assert line in out
    entries = [ln.split() for ln in out if not ln.startswith("samefile")]
    assert len(entries) == 22 and all(e[2] == "True" for e in entries)  # lstat agrees with d_ino
