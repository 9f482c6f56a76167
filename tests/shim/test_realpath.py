"""The shim's counted realpath returns what glibc's does: result, errno and
the partial path left in the caller's buffer, and counts each step."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from helpers import profiled_env
from vrift_profile import read_profile


def make_tree(t: Path) -> list[str]:
    (t / "d" / "e").mkdir(parents=True)
    (t / "file").write_text("x")
    os.symlink("d/e", t / "rel")
    os.symlink(str(t / "d"), t / "abs")
    os.symlink("loop2", t / "loop1")
    os.symlink("loop1", t / "loop2")
    os.symlink("missing-target", t / "dangling")
    os.symlink("../d", t / "d" / "up")
    os.symlink(".", t / "dot")
    paths = [
        "file",
        "d",
        "d/e",
        "rel",
        "abs",
        "abs/e",
        "rel/..",
        "abs/../file",
        "./d/./e/..",
        "loop1",
        "dangling",
        "missing",
        "file/",
        "file/.",
        "file/..",
        "d/",
        "d/.",
        "d/..",
        "d/up/e",
        "dot/dot/dot/file",
        "nope/x",
        "file/x",
        "//d///e//",
        "/",
        "/..",
        ".",
        "..",
        "",
        str(t / "rel"),
        str(t / "abs") + "/",
        "a" * 300,
        "/proc/self/cwd",
    ]
    return paths + [str(t / p) for p in paths[:10]]


def test_realpath_matches_glibc(cbin: Path, shim_lib: Path, tmp_path: Path, rundir):
    tree = tmp_path / "t"
    tree.mkdir()
    paths = make_tree(tree)
    prog = [str(cbin / "realpath_check"), *paths]
    plain = subprocess.run(prog, cwd=tree, capture_output=True, text=True, check=True)
    session = tmp_path / "p.vrift"
    shimmed = subprocess.run(
        prog, cwd=tree, env=profiled_env(shim_lib, session), capture_output=True, text=True, check=True
    )
    assert shimmed.stdout.splitlines() == plain.stdout.splitlines()
    rp = read_profile(session).command("realpath_check")
    assert rp.ops["realpath"].calls == 2 * len(paths)
    assert rp.ops["readlink"].calls > rp.ops["realpath"].calls  # each step is counted
