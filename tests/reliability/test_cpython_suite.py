"""CPython's own regression tests that exercise files and processes, run
plainly and under the shim with full profiling and a VFS projection active
(the tests run inside the projection): the same tests must pass, fail and
be skipped. This is the host-program safety suite of docs/reliability.md."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import vrift

MODULES = [
    "test_os",
    "test_posix",
    "test_shutil",
    "test_tempfile",
    "test_glob",
    "test_pathlib",
    "test_fileio",
    "test_mmap",
    "test_signal",
    "test_subprocess",
]
RESULT = re.compile(r"^(test\w*) \(([\w.]+)\)(?: \.\.\.)? .*?\b(ok|FAIL|ERROR|skipped|expected failure)\b")

pytest.importorskip("test.support", reason="this Python ships without its test suite")


def outcomes(stdout: str) -> dict[str, str]:
    out = {}
    for line in stdout.splitlines():
        m = RESULT.match(line)
        if m:
            out[f"{m.group(2)}.{m.group(1)}"] = m.group(3)
    return out


def run_suite(cmd_prefix: list[str], cwd: Path, env: dict) -> tuple[int, dict[str, str], str]:
    r = subprocess.run(
        [*cmd_prefix, sys.executable, "-m", "test", "-v", "--timeout", "600", *MODULES],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return r.returncode, outcomes(r.stdout), r.stdout[-3000:]


def test_cpython_file_and_process_tests_behave_the_same(tmp_path, rundir, monkeypatch):
    monkeypatch.setenv("VRIFT_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("VRIFT_STATE", str(tmp_path / "state"))
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    src = tmp_path / "seed"
    (src / "pkg").mkdir(parents=True)
    for i in range(50):
        (src / "pkg" / f"m{i}.py").write_text(f"X = {i}\n")
    vrift("ingest", str(src), "--name", "seed")
    proj = tmp_path / "proj"
    vrift("mount", "seed", str(proj))
    plain_dir = tmp_path / "plain"
    plain_dir.mkdir()

    rc_a, plain, tail_a = run_suite([], plain_dir, env)
    session = tmp_path / "suite.vrift"
    shim = [sys.executable, "-m", "vrift_cli", "run", "--profile", str(session), "--vfs", str(proj), "--"]
    rc_b, shimmed, tail_b = run_suite(shim, proj, env)

    assert len(plain) > 1000, tail_a
    assert shimmed == plain, {
        k: (plain.get(k), shimmed.get(k)) for k in set(plain) | set(shimmed) if plain.get(k) != shimmed.get(k)
    }
    assert rc_b == rc_a
    from vrift_profile import read_profile

    snap = read_profile(session)
    assert snap.total_calls > 100_000 and snap.processes > 50
    assert snap.counters["vfs_passthrough"] > 0
