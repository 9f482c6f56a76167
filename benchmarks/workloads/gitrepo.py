"""Generate a git repository with many files (a metadata-storm workload).

python benchmarks/workloads/gitrepo.py DIR [--files 20000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "vrift",
    "GIT_AUTHOR_EMAIL": "vrift@localhost",
    "GIT_COMMITTER_NAME": "vrift",
    "GIT_COMMITTER_EMAIL": "vrift@localhost",
}


def generate(root: Path, files: int = 20000, per_dir: int = 100) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, **GIT_ENV, HOME=str(root.parent))
    subprocess.run(["git", "init", "-q"], cwd=root, env=env, check=True)
    for i in range(files):
        d = root / f"d{i // per_dir:04d}"
        if i % per_dir == 0:
            d.mkdir(exist_ok=True)
        (d / f"f{i}.txt").write_text(f"file {i}\n")
    subprocess.run(["git", "add", "-A"], cwd=root, env=env, check=True)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=root, env=env, check=True)
    (root / "d0000" / "f0.txt").write_text("changed\n")
    return root


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--files", type=int, default=20000)
    a = ap.parse_args()
    print(generate(a.dir, a.files))
