"""Fixtures for the VFS: an isolated store, a tree worth projecting, runners."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

STDLIB = Path(sysconfig.get_paths()["stdlib"])
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rundir) -> Path:
    root = tmp_path / "store"
    monkeypatch.setenv("VRIFT_STORE", str(root))
    monkeypatch.setenv("VRIFT_STATE", str(tmp_path / "state"))
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Part of the standard library with deliberate duplicates, a symlink,
    an empty dir, odd modes, and a small git repository with a dirty file."""
    t = tmp_path / "orig"
    t.mkdir()
    for pkg in ("json", "email", "html", "http"):
        shutil.copytree(STDLIB / pkg, t / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(STDLIB / "json" / "decoder.py", t / "json" / "decoder_dup.py")
    shutil.copy2(STDLIB / "json" / "decoder.py", t / "decoder_dup2.py")
    (t / "empty").mkdir()
    os.symlink("json", t / "jsonlink")
    os.symlink("missing-target", t / "dangling")
    (t / "script.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(t / "script.sh", 0o750)
    repo = t / "repo"
    repo.mkdir()
    env = dict(os.environ, HOME=str(tmp_path), **GIT_ENV)
    subprocess.run(["git", "init", "-q"], cwd=repo, env=env, check=True)
    for i in range(30):
        (repo / f"f{i}.txt").write_text(f"{i}\n" * (i + 1))
    (repo / "sub").mkdir()
    (repo / "sub" / "same.txt").write_text("same\n")
    (repo / "sub" / "same2.txt").write_text("same\n")
    subprocess.run(["git", "add", "."], cwd=repo, env=env, check=True)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=repo, env=env, check=True)
    (repo / "f3.txt").write_text("changed\n")
    (repo / "untracked.txt").write_text("new\n")
    subprocess.run(["git", "status", "--porcelain"], cwd=repo, env=env, check=True, capture_output=True)
    return t


def vrift_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "vrift_cli", *args]


def git_env(home: Path) -> dict[str, str]:
    return dict(os.environ, HOME=str(home), **GIT_ENV)
