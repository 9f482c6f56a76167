"""VFS A/B: the same metadata-heavy workloads on a projection, with and
without the VFS serving it, side by side, next to the time-saved estimate.

    .venv/bin/python benchmarks/vfs_ab.py [--reps 9] [--files 20000]

Both sides run under the shim with full profiling and exact timing (a VFS
run times every call, so side A does too), on the same projected
tree; only `--vfs` differs. The measured saving is median(A) - median(B)
of wall time over alternating runs; the estimate is what the B sessions'
counters claim (vrift_profile.vfsstats: served calls x mean real latency
of the same call class in the session - serving time), median over runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from vrift_profile import create_session, read_profile
from vrift_profile.vfsstats import contribution

VRIFT = [sys.executable, "-m", "vrift_cli"]

# What make/ninja/build tools do: walk a tree and check every file.
STAT_STORM = """
import os, sys, time
t = time.perf_counter_ns()
for root, dirs, files in os.walk(sys.argv[1]):
    for f in files:
        p = os.path.join(root, f)
        os.lstat(p); os.stat(p); os.access(p, os.R_OK)
print(time.perf_counter_ns() - t)
"""

IMPORT_STORM = """
import sys, time
t = time.perf_counter_ns()
sys.path.insert(0, sys.argv[1])
import json, email.parser, http.client, xml.dom.minidom, argparse, logging.handlers, csv
import unittest, tarfile, zipfile, configparser, pydoc, difflib, textwrap, string, glob
import shutil, tempfile, optparse, gettext, calendar, decimal, fractions, statistics
print(time.perf_counter_ns() - t)
"""


def make_tree(root: Path, files: int) -> None:
    root.mkdir()
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    shutil.copytree(
        stdlib,
        root / "lib",
        ignore=shutil.ignore_patterns("__pycache__", "test", "idlelib", "site-packages", "tkinter"),
    )
    for i in range(files):
        d = root / "data" / f"d{i // 200:03d}"
        if i % 200 == 0:
            d.mkdir(parents=True)
        (d / f"f{i}.txt").write_text(f"{i % 97}\n")  # few distinct contents: dedup


def run(args: list[str], vfs: Path | None, proj: Path, session: Path, env: dict) -> tuple[float, float]:
    """(wall seconds of the whole command, seconds the workload itself reports)."""
    create_session(session, exact_timing=True)  # a VFS run times every call: so does side A
    cmd = [*VRIFT, "run", "--profile", str(session)] + (["--vfs", str(proj)] if vfs else []) + ["--", *args]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=proj, env=env, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - t0, int(out.split()[-1]) / 1e9


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--files", type=int, default=20000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        env = dict(
            os.environ,
            VRIFT_STORE=str(tmp / "store"),
            VRIFT_STATE=str(tmp / "state"),
            XDG_RUNTIME_DIR=str(tmp),
            PYTHONDONTWRITEBYTECODE="1",
        )
        os.chmod(tmp, 0o700)
        src = tmp / "src"
        make_tree(src, a.files)
        subprocess.run(
            [*VRIFT, "ingest", str(src), "--name", "ab"], env=env, check=True, stdout=subprocess.DEVNULL
        )
        proj = tmp / "proj"
        subprocess.run([*VRIFT, "mount", "ab", str(proj)], env=env, check=True, stdout=subprocess.DEVNULL)
        workloads = {
            f"stat storm ({a.files:,} files: lstat, stat, access)": [
                sys.executable,
                "-c",
                STAT_STORM,
                "data",
            ],
            "import storm (24 stdlib packages from the projection)": [
                sys.executable,
                "-c",
                IMPORT_STORM,
                "lib",
            ],
        }
        print(f"VFS A/B on {os.cpu_count()} cores, {a.reps} alternating runs each, medians.")
        print("Time is the workload's own (perf_counter around the storm, inside the profiled process);")
        print("the whole command's wall time is shown below each row.\n")
        print(f"{'workload':58} {'no VFS':>9} {'VFS':>9} {'measured':>10} {'estimated':>10} {'est/meas':>8}")
        for w, (name, cmd) in enumerate(workloads.items()):
            plain, served, est, wall_a, wall_b = [], [], [], [], []
            for i in range(a.reps + 1):
                s1, s2 = tmp / f"a{w}-{i}.vrift", tmp / f"b{w}-{i}.vrift"
                wa, ta = run(cmd, None, proj, s1, env)
                wb, tb = run(cmd, proj, proj, s2, env)
                if i == 0:
                    continue  # warm-up: page cache, header cache
                plain.append(ta)
                served.append(tb)
                wall_a.append(wa)
                wall_b.append(wb)
                v = contribution(read_profile(s2))
                est.append((v.time_saved_ns or 0) / 1e9 if v else 0.0)
            ma, mb, me = statistics.median(plain), statistics.median(served), statistics.median(est)
            meas = ma - mb
            ratio = f"{me / meas:.2f}" if meas > 0 else "n/a"
            print(
                f"{name:58} {ma * 1e3:8.1f}ms {mb * 1e3:8.1f}ms "
                f"{meas * 1e3:9.1f}ms {me * 1e3:9.1f}ms {ratio:>8}"
            )
            print(
                f"{'':58} range A {min(plain) * 1e3:.1f}-{max(plain) * 1e3:.1f}ms, "
                f"B {min(served) * 1e3:.1f}-{max(served) * 1e3:.1f}ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
