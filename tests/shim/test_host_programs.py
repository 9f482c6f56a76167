"""Real programs run under the shim exactly as without it: same stdout,
stderr and exit status, and their calls are counted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import have, profiled_env
from vrift_profile import read_profile


def run_both(cmd: list[str], lib: Path, session: Path, cwd: Path, env: dict | None = None):
    base = dict(os.environ if env is None else env)
    plain = subprocess.run(cmd, cwd=cwd, env=base, capture_output=True, timeout=300)
    shimmed = subprocess.run(
        cmd, cwd=cwd, env=profiled_env(lib, session, base), capture_output=True, timeout=300
    )
    assert shimmed.returncode == plain.returncode
    assert shimmed.stdout == plain.stdout
    assert shimmed.stderr == plain.stderr
    return plain, read_profile(session)


def test_python_import_storm(shim_lib, tmp_path, rundir):
    code = (
        "import json, email.parser, http.client, xml.dom.minidom, sqlite3, decimal, "
        "argparse, logging.handlers, unittest, csv, zipfile, tarfile; "
        "import sys; print(len(sys.modules)); sys.exit(3)"
    )
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    plain, snap = run_both([sys.executable, "-c", code], shim_lib, tmp_path / "p.vrift", tmp_path, env)
    assert plain.returncode == 3
    py = snap.command(Path(sys.executable).name)
    assert py is not None and py.processes == 1
    assert py.ops["stat"].calls + py.ops["fstat"].calls > 50
    assert py.ops["open"].calls > 20 and py.ops["read"].calls > 20
    assert py.ops["readdir"].calls > 0


@pytest.mark.skipif(not have("make") or not have("gcc"), reason="needs make and gcc")
def test_make_gcc_build(shim_lib, tmp_path, rundir):
    src = tmp_path / "proj"
    src.mkdir()
    for i in range(6):
        (src / f"m{i}.c").write_text(
            f'#include <stdio.h>\n#include "common.h"\nint f{i}(void) {{ return COMMON + {i}; }}\n'
        )
    (src / "common.h").write_text("#define COMMON 40\n")
    decls = "".join(f"int f{i}(void);" for i in range(6))
    calls = "+".join(f"f{i}()" for i in range(6))
    (src / "main.c").write_text(
        f'#include <stdio.h>\n{decls}\nint main(void) {{ printf("%d\\n", {calls}); return 0; }}\n'
    )
    objs = " ".join(f"m{i}.o" for i in range(6))
    (src / "Makefile").write_text(
        f"app: main.o {objs}\n\tgcc -o $@ $^\n%.o: %.c common.h\n\tgcc -O1 -c $< -o $@\n"
        "clean:\n\trm -f *.o app\n"
    )
    import shutil

    shim_src = tmp_path / "proj-shim"
    shutil.copytree(src, shim_src)
    session = tmp_path / "p.vrift"
    # -j1 so the command echo order is deterministic in both runs
    plain = subprocess.run(["make"], cwd=src, capture_output=True, timeout=300)
    shimmed = subprocess.run(
        ["make"], cwd=shim_src, env=profiled_env(shim_lib, session), capture_output=True, timeout=300
    )
    assert (shimmed.returncode, shimmed.stdout, shimmed.stderr) == (
        plain.returncode,
        plain.stdout,
        plain.stderr,
    )
    assert plain.returncode == 0
    for d in (src, shim_src):
        assert subprocess.run([d / "app"], capture_output=True, text=True).stdout == "255\n"
    snap = read_profile(session)
    names = {c.command for c in snap.commands}
    assert {"make", "cc1", "as", "gcc"} <= names, names
    cc1 = snap.command("cc1")
    assert cc1.processes == 7
    assert cc1.ops["realpath"].calls > 0 and cc1.ops["readlink"].calls > cc1.ops["realpath"].calls
    assert snap.command("make").ops["stat"].calls > 0  # make 4.3 calls __xstat
    assert snap.command("as").ops["open"].calls > 0  # as only uses fopen


@pytest.mark.skipif(not have("git"), reason="needs git")
def test_git_status(shim_lib, tmp_path, rundir):
    repo = tmp_path / "repo"
    repo.mkdir()
    env = dict(
        os.environ,
        GIT_CONFIG_NOSYSTEM="1",
        HOME=str(tmp_path),
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@e",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@e",
    )
    subprocess.run(["git", "init", "-q"], cwd=repo, env=env, check=True)
    for d in range(5):
        (repo / f"d{d}").mkdir()
        for f in range(20):
            (repo / f"d{d}" / f"f{f}.txt").write_text(f"{d} {f}\n")
    subprocess.run(["git", "add", "."], cwd=repo, env=env, check=True)
    subprocess.run(["git", "commit", "-qm", "x"], cwd=repo, env=env, check=True)
    (repo / "d1" / "f3.txt").write_text("changed\n")
    (repo / "new.txt").write_text("new\n")
    plain, snap = run_both(["git", "status", "--porcelain"], shim_lib, tmp_path / "p.vrift", repo, env)
    assert plain.stdout == b" M d1/f3.txt\n?? new.txt\n"
    git = snap.command("git")
    assert git.ops["lstat"].calls >= 100  # one per tracked file at least
    assert git.ops["open"].calls > 0


def test_coreutils_and_shell(shim_lib, tmp_path, rundir):
    (tmp_path / "a").mkdir()
    for i in range(30):
        (tmp_path / "a" / f"f{i}").write_text("x" * i)
    cmd = [
        "sh",
        "-c",
        "ls -la a | wc -l; find a -type f | sort | head -3; cat a/f5; ls /nonexistent-vrift; exit 4",
    ]
    plain, snap = run_both(cmd, shim_lib, tmp_path / "p.vrift", tmp_path)
    assert plain.returncode == 4
    assert snap.command("ls").ops["statx"].calls >= 30  # coreutils ls uses statx
    assert snap.command("find").ops["readdir"].calls > 0 or snap.command("find").ops["fstat"].calls > 0
