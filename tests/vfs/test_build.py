"""A real build inside a projection: make -j2 of a generated C project whose
sources are served by the VFS. Same output as a plain build of the same tree;
make's up-to-date checks hold; a source changed through the shim is
copied out of the store and rebuilt."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import vrift_cmd
from helpers import have, vrift

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from workloads.cproject import generate  # noqa: E402


@pytest.mark.skipif(not have("make") or not have("gcc"), reason="needs make and gcc")
def test_make_in_a_projection(store: Path, tmp_path: Path):
    src = generate(tmp_path / "src", files=8)
    plain = tmp_path / "plain"
    shutil.copytree(src, plain)
    vrift("ingest", str(src), "--name", "cproj")
    proj = tmp_path / "proj"
    vrift("mount", "cproj", str(proj))
    session = tmp_path / "s.vrift"

    def vmake(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            vrift_cmd("run", "--profile", str(session), "--vfs", str(proj), "--", "make", *args),
            cwd=proj,
            capture_output=True,
            text=True,
            timeout=300,
        )

    a = subprocess.run(["make"], cwd=plain, capture_output=True, text=True, timeout=300)
    b = vmake()
    assert (b.returncode, b.stdout, b.stderr) == (a.returncode, a.stdout, a.stderr)
    assert (
        subprocess.run([proj / "app"], capture_output=True, text=True).stdout
        == subprocess.run([plain / "app"], capture_output=True, text=True).stdout
    )
    assert vmake().stdout == "make: 'app' is up to date.\n"  # served mtimes vs the new objects
    t = subprocess.run(
        vrift_cmd("run", "--profile", str(session), "--vfs", str(proj), "--", "touch", "mod3.c"),
        cwd=proj,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert t.returncode == 0, t.stderr
    rebuilt = vmake().stdout
    assert "mod3.c" in rebuilt and "mod4.c" not in rebuilt
    assert (src / "mod3.c").read_bytes() == (proj / "mod3.c").read_bytes()  # content kept, store untouched
    data = json.loads(vrift("profile", "export", "--path", str(session)).stdout)
    assert data["vfs"]["cow_copies"] == 1  # touch changed times: copied out first
    assert data["cache"]["cas_hits"] >= 9  # cc1 read the sources from their blobs
