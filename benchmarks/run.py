"""vrift benchmark suite (issue #6): what the shim costs, side by side.

    .venv/bin/python benchmarks/run.py [--quick] [--section micro|workloads|scale|cli ...]

Sections (all by default, in this order):
  micro      added ns per call (stat, fstat, open+close, read, readdir):
             no shim / shim off / counters / full; per-exec cost; memory
  workloads  make -j2 C build, Python import storm, git status, find:
             plain vs shim off vs full profiling vs strace -f -c
  scale      10,000 process images in one session: exact totals, file
             size, show/export time
  cli        cold start of `vrift profile show` / `export --format json`

Prints Markdown tables (the machine, the shim under test, every table,
then the targets with a verdict each). The default run takes ~10-15
minutes on a 2-core VM, --quick ~3. See benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cli_start  # noqa: E402
import micro  # noqa: E402
import real_workloads  # noqa: E402
import scale  # noqa: E402
from harness import Context, LoadMeter, SectionResult, Shim, Table, Target, wait_until_quiet  # noqa: E402

SECTIONS: dict[str, Callable[[Context], SectionResult]] = {
    "micro": micro.run,
    "workloads": real_workloads.run,
    "scale": scale.run,
    "cli": cli_start.run,
}
REPO = Path(__file__).resolve().parent.parent


def machine() -> str:
    model = next(
        (ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?"
    )
    mem_kb = next(int(ln.split()[1]) for ln in open("/proc/meminfo") if ln.startswith("MemTotal"))
    virt = "VM" if "hypervisor" in open("/proc/cpuinfo").read() else "bare metal"
    return (
        f"{os.cpu_count()} CPUs ({model}, {virt}), {mem_kb / 2**20:.0f} GiB RAM, "
        f"Linux {platform.release()}, Python {platform.python_version()}"
    )


def source_state() -> str:
    """The commit, and whether the shim's sources differ from it: the
    numbers belong to the library that was measured, not to a commit."""

    def git(*args: str) -> str:
        r = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else "?"

    dirty = git("status", "--porcelain", "--", "packages")
    return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes in packages/" if dirty else "")


def header(shim: Shim, quick: bool) -> str:
    return "\n".join(
        [
            f"## vrift benchmarks ({'quick' if quick else 'full'} run, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
            "",
            f"- command: {' '.join(['.venv/bin/python', 'benchmarks/run.py', *sys.argv[1:]])}",
            f"- machine: {machine()}",
            f"- source: {source_state()}",
            f"- shim: {shim.source} (sha256 {shim.sha256[:16]}, built {shim.mtime:%Y-%m-%d %H:%M:%S} UTC; "
            "copied once, every variant loads the same bytes)",
        ]
    )


def targets_table(targets: list[Target]) -> Table:
    t = Table("Targets", ["target", "goal", "measured", "verdict"])
    for x in targets:
        t.add(x.name, x.goal, x.measured, x.verdict)
    return t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and smaller trees (~3 min)")
    ap.add_argument(
        "--section",
        action="append",
        choices=list(SECTIONS),
        help="run only this section (repeatable); default: all",
    )
    ap.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="S",
        help="before each section, wait up to S seconds for other processes to leave the machine idle",
    )
    a = ap.parse_args(argv)
    chosen = [s for s in SECTIONS if s in (a.section or SECTIONS)]
    total = LoadMeter()
    loads: list[str] = []
    with tempfile.TemporaryDirectory(prefix="vrift-bench-") as t:
        ctx = Context(Path(t), Shim(Path(t)), a.quick)
        print(header(ctx.shim, a.quick), flush=True)
        targets: list[Target] = []
        for name in chosen:
            if a.wait_quiet:
                share = wait_until_quiet(a.wait_quiet, window=5.0)
                print(f"[{name}] other processes use {100 * share:.1f}% of the machine", file=sys.stderr)
            print(f"[{name}] running...", file=sys.stderr, flush=True)
            load = LoadMeter()
            res = SECTIONS[name](ctx)
            loads.append(f"{name}: {load.report()}")
            targets += res.targets
            for table in res.tables:
                print("\n" + table.render(), flush=True)
            print(f"[{name}] {loads[-1]}", file=sys.stderr, flush=True)
        print("\n" + targets_table(targets).render())
        print("\nMachine load while measuring (numbers taken next to a busy neighbour are noisier):\n")
        print("\n".join(f"- {x}" for x in [*loads, f"whole run: {total.report()}"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
