"""What the object rule costs: writes on a plain tree vs on a served projection.

    .venv/bin/python benchmarks/vfs_writes.py [--reps 9] [--files 2000]

Every change through the shim under `--vfs` first asks the kernel what the
call reaches (one fstatat) and, if it is a store blob, copies it out
(docs/vfs.md, "The object rule"). Three storms, each timed inside the
process (perf_counter around the loop), per file:

- create: open(O_CREAT|O_WRONLY|O_TRUNC) + write 64 B + close of new files
  (the build-output case: one extra fstatat, ENOENT, and the parent lookup);
- rewrite: open(O_WRONLY|O_TRUNC) + write + close of existing files (on a
  projection each one is a blob: an empty private copy with the ingested
  metadata, then the write);
- append: open(O_WRONLY|O_APPEND) + write + close (a blob's data is copied).

Side A runs on a plain copy of the tree under the shim without a projection
(profiling off, as B); side B on a fresh projection served with `--vfs`
(every rep mounts anew, so each rewrite really copies). Alternating, medians.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

VRIFT = [sys.executable, "-m", "vrift_cli"]

STORM = """
import os, sys, time
kind, root, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
flags = {"create": os.O_CREAT | os.O_WRONLY | os.O_TRUNC, "rewrite": os.O_WRONLY | os.O_TRUNC,
         "append": os.O_WRONLY | os.O_APPEND}[kind]
names = [f"{root}/f{i}.{'new' if kind == 'create' else 'txt'}" for i in range(n)]
data = b"x" * 64
t = time.perf_counter_ns()
for p in names:
    fd = os.open(p, flags, 0o644)
    os.write(fd, data)
    os.close(fd)
print(time.perf_counter_ns() - t)
"""


def make_tree(root: Path, files: int) -> None:
    (root / "d").mkdir(parents=True)
    for i in range(files):
        (root / "d" / f"f{i}.txt").write_text(f"{i % 97}\n" * 40)  # ~100-160 B, few distinct contents


def timed(cmd: list[str], env: dict) -> float:
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return int(out.split()[-1]) / 1e9


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--files", type=int, default=2000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        os.chmod(tmp, 0o700)
        env = dict(
            os.environ,
            VRIFT_STORE=str(tmp / "store"),
            VRIFT_STATE=str(tmp / "state"),
            XDG_RUNTIME_DIR=str(tmp),
            VRIFT_PROFILE="0",
        )
        src = tmp / "src"
        make_tree(src, a.files)
        quiet = {"env": env, "check": True, "stdout": subprocess.DEVNULL}
        subprocess.run([*VRIFT, "ingest", str(src), "--name", "w"], **quiet)
        print(f"object-rule cost on {os.cpu_count()} cores, {a.files:,} files, {a.reps} alternating runs")
        print(f"{'storm':10} {'plain tree':>12} {'projection':>12} {'extra per file':>15}  copies checked")
        for kind in ("create", "rewrite", "append"):
            plain, served = [], []
            for i in range(a.reps + 1):
                copy, proj = tmp / f"copy-{kind}-{i}", tmp / f"proj-{kind}-{i}"
                shutil.copytree(src, copy)
                subprocess.run([*VRIFT, "mount", "w", str(proj)], **quiet)
                storm = [sys.executable, "-c", STORM, kind]
                n = str(a.files)
                ta = timed([*VRIFT, "run", "--", *storm, str(copy / "d"), n], env)
                tb = timed([*VRIFT, "run", "--vfs", str(proj), "--", *storm, str(proj / "d"), n], env)
                if kind != "create":  # every projected file became a private copy with the write in it
                    probe = proj / "d" / "f1.txt"
                    assert probe.stat().st_nlink == 1 and probe.read_bytes().endswith(b"x" * 64), probe
                subprocess.run([*VRIFT, "umount", "--force", str(proj)], **quiet)
                shutil.rmtree(copy)
                if i:
                    plain.append(ta)
                    served.append(tb)
            ma, mb = statistics.median(plain), statistics.median(served)
            print(
                f"{kind:10} {ma / a.files * 1e6:10.2f}us {mb / a.files * 1e6:10.2f}us "
                f"{(mb - ma) / a.files * 1e6:13.2f}us  {'yes' if kind != 'create' else '-'}"
            )
        verify = subprocess.run([*VRIFT, "verify"], env=env, capture_output=True, text=True)
        print(f"store after all storms: vrift verify exit {verify.returncode} ({verify.stdout.strip()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
