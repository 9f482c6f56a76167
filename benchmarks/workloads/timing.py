"""The two workloads the sampled-timing checks run: a `make -j2` C build
(each run cleans first) and `git status` on a generated repository. Both
sampling_check.py and sampling_same_run.py compare timings on them."""

from __future__ import annotations

from pathlib import Path

from . import cproject, gitrepo


def generate(tmp: Path, files: int, git_files: int) -> dict[str, tuple[list[str], Path]]:
    """name -> (command, directory to run it in)."""
    proj = cproject.generate(tmp / "cproj", files)
    repo = gitrepo.generate(tmp / "repo", git_files)
    return {
        "make -j2": (["sh", "-c", "make -s clean >/dev/null 2>&1; make -s -j2"], proj),
        "git status": (["git", "status", "--porcelain"], repo),
    }
