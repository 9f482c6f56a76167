"""Per-exec cost of the shim, side by side: what a process pays for loading
it (profiling off) and for attaching and counting one call (profiled), over
an empty LD_PRELOAD library.

    .venv/bin/python benchmarks/exec_cost.py [--batches 7] [--rounds 600]
        [--baseline OLD.so] [--session-dir DIR] [--wait-quiet S] [--loader]

Each batch runs cprogs/exec_matrix.c once per program (/bin/true: no
counted call, so no slot; cprogs/one_stat.c: one stat(), so attach, claim
a slot, count): every round spawns the program under every variant in a
shuffled order, and a variant's result is the median of its per-round
differences to `plain` (no preload). The table gives the median over the
batches (min..max) in us, the same against the empty preload, the child's
CPU time and minor faults. Every profiled variant counts into a fresh
default-size session file per batch (in --session-dir: the run directory's
file system matters, see docs/shim.md). --baseline adds the same two
variants for another build of the library (a "before" for a change);
--loader adds the profiled variant with the loader audited (LD_AUDIT, what
`vrift run --loader` sets).

Method notes (docs/shim.md, "Per-exec cost"): on the 2-core VM spawns vary
by +/-100 us from one to the next, so single batches of a few hundred
rounds move by several us; read the min..max across batches before
believing a difference of a few us.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import vrift_shim  # noqa: E402
from harness import CPROGS, LoadMeter, wait_until_quiet  # noqa: E402
from vrift_profile import create_session  # noqa: E402


def compile_tools(tmp: Path) -> dict[str, Path]:
    out = {}
    for name in ("exec_matrix", "one_stat"):
        exe = tmp / name
        subprocess.run(["gcc", "-O2", "-o", exe, CPROGS / f"{name}.c"], check=True)
        out[name] = exe
    src = tmp / "empty_preload.c"
    src.write_text("int vrift_bench_empty_preload;\n")
    out["empty"] = tmp / "empty_preload.so"
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", out["empty"], src], check=True)
    return out


def run_batch(
    tools: dict[str, Path],
    libs: dict[str, Path],
    prog: list[str],
    rounds: int,
    seed: int,
    sdir: Path,
    audit: Path | None = None,
) -> dict[str, tuple[float, float, float]]:
    """One exec_matrix run: per variant (median paired wall diff, cpu diff, minflt)."""
    variants = ["plain", f"empty:LD_PRELOAD={tools['empty']}"]
    sessions = []
    for tag, lib in libs.items():
        session = sdir / f"exec-cost-{os.getpid()}-{seed}-{tag}.vrift"
        create_session(session)
        sessions.append(session)
        variants.append(f"off{tag}:LD_PRELOAD={lib}")
        variants.append(f"profiled{tag}:LD_PRELOAD={lib},VRIFT_PROFILE=1,VRIFT_PROFILE_PATH={session}")
        if audit is not None and not tag:
            variants.append(
                f"loader:LD_PRELOAD={lib},LD_AUDIT={audit},VRIFT_PROFILE=1,VRIFT_PROFILE_PATH={session}"
            )
    try:
        out = subprocess.run(
            [tools["exec_matrix"], str(rounds), str(seed), *variants, "--", *prog],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        for s in sessions:
            s.unlink(missing_ok=True)
    res = {}
    for line in out.splitlines()[1:]:
        name, _wall, _q1, med, _q3, _cpu, dcpu, flt = line.split()
        res[name] = (float(med), float(dcpu), float(flt))
    return res


def fmt(xs: list[float]) -> str:
    return f"{statistics.median(xs):+6.1f} ({min(xs):+.1f}..{max(xs):+.1f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=600, help="spawns per variant per batch")
    ap.add_argument("--lib", type=Path, default=None, help="the library under test (default: the built one)")
    ap.add_argument("--baseline", type=Path, default=None, help="another build to compare with")
    ap.add_argument(
        "--session-dir", type=Path, default=None, help="session files go here (default: a temp dir)"
    )
    ap.add_argument("--wait-quiet", type=float, default=0.0, metavar="S")
    ap.add_argument("--loader", action="store_true", help="add a profiled variant with the loader audited")
    args = ap.parse_args()
    audit = vrift_shim.audit_library_path() if args.loader else None
    libs = {"": (args.lib or vrift_shim.library_path()).resolve()}
    if args.baseline:
        libs["(baseline)"] = args.baseline.resolve()
    if args.wait_quiet:
        wait_until_quiet(args.wait_quiet)
    with tempfile.TemporaryDirectory(prefix="vrift-exec-cost-") as t:
        tmp = Path(t)
        tools = compile_tools(tmp)
        sdir = args.session_dir or tmp
        load = LoadMeter()
        progs = {"/bin/true": ["/bin/true"], "one_stat": [str(tools["one_stat"])]}
        results: dict[str, dict[str, list[tuple[float, float, float]]]] = {p: {} for p in progs}
        for b in range(args.batches):
            for name, prog in progs.items():
                for v, r in run_batch(tools, libs, prog, args.rounds, 1000 + b, sdir, audit).items():
                    results[name].setdefault(v, []).append(r)
        print(
            f"per exec, us added over no preload: median of {args.batches} batches "
            f"x {args.rounds} rounds (min..max)"
        )
        for lib_tag, lib in libs.items():
            print(f"  library{lib_tag or ''}: {lib}")
        print(f"  session files in: {sdir}")
        print(f"  {load.report()}")
        for name in progs:
            print(f"\n{name}")
            print(f"  {'variant':<22} {'wall added':<24} {'over empty':<24} {'cpu added':<24} minflt")
            empty = [r[0] for r in results[name]["empty"]]
            for v, rs in results[name].items():
                wall = [r[0] for r in rs]
                over = [w - e for w, e in zip(wall, empty, strict=True)]
                cpu = [r[1] for r in rs]
                flt = statistics.median(r[2] for r in rs)
                print(f"  {v:<22} {fmt(wall):<24} {fmt(over):<24} {fmt(cpu):<24} {flt:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
