"""The RFC's overhead regression test (run by hand through
benchmarks/test_profile_overhead.sh; not part of the unit tests).

Exits 1 when either limit is exceeded, 0 when both hold:
- compile workload, profiling enabled (the mode a default session counts
  in: since format 1.4 with hot paths on a 1-in-64 sample; recording every
  path call is opt-in and measured by benchmarks/run.py, not gated):
  the median per-job overhead of the 40-file C build's compile and link
  commands, each run with and without the shim back to back (see
  real_workloads.job_pairs), must stay <= --max-build-pct (1%);
- micro benchmark, shim loaded with profiling off: the added ns per
  call of the worst of stat/fstat/open/close/read/readdir (paired, see
  micro.paired_calls; median over --micro-runs processes) must stay
  <= --max-off-ns (5 ns: "a few"; the issue's goal is 1 ns).

Whole `make -j2` wall times vary by ~10% between runs on a 2-core VM, so
a 1% gate on them would flip at random; job-by-job pairs measure the
same work with a noise floor (the A/A line it prints) well under 1%.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    AA,
    OFF,
    PLAIN,
    Context,
    Shim,
    default_profiled,
    label,
    median_ci,
    paired_ratios,
    pct,
    summarize,
    wait_until_quiet,
)
from micro import make_call_dir, paired_calls, per_call, worst_per_call  # noqa: E402
from real_workloads import job_pairs  # noqa: E402


def ci(xs: list[float]) -> str:
    lo, hi = median_ci(xs)
    return f"{pct(summarize(xs).median)} (95% CI of the median {pct(lo)}..{pct(hi)})"


def check_build(ctx: Context, rounds: int, limit_pct: float) -> bool:
    """Gate the mode profiling is enabled in by default. Only that mode and
    the A/A pair run: every extra variant between the plain and profiled
    runs of a job widens the noise."""
    gated = default_profiled()
    walls = job_pairs(ctx, [PLAIN, AA, gated], rounds)
    prof, aa = paired_ratios(walls, gated), paired_ratios(walls, AA)
    m = summarize(prof).median
    n = len(prof)
    print(f"compile workload, profiling enabled, {label(gated)}: {ci(prof)} per job, {n} job runs")
    print(f"  A/A noise: {ci(aa)}")
    lo, hi = median_ci(aa)
    if not lo <= 0 <= hi or (hi - lo) / 2 > limit_pct / 100:
        print("  warning: the A/A comparison is off or wide: the machine is noisy, rerun when it is quiet")
    ok = m <= limit_pct / 100
    print(f"  {'ok' if ok else 'FAIL'}: limit {limit_pct:g}%")
    return ok


def check_off(ctx: Context, runs: int, limit_ns: float) -> bool:
    added, _ = paired_calls(ctx, make_call_dir(ctx.tmp / "calls"), [PLAIN, OFF], runs)
    op, worst = worst_per_call(added[OFF])
    detail = ", ".join(f"{o} {per_call(o, summarize(xs).median):+.1f}" for o, xs in added[OFF].items())
    noise = ", ".join(f"{o} {per_call(o, summarize(xs).median):+.1f}" for o, xs in added[PLAIN].items())
    print(f"micro, shim loaded, profiling off: ns added per call: {detail}")
    print(f"  method noise (no shim): {noise}")
    ok = worst <= limit_ns
    print(f"  {'ok' if ok else 'FAIL'}: worst {op} {worst:+.1f} ns, limit {limit_ns:g} ns")
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="vrift profiling overhead regression test")
    ap.add_argument("--max-build-pct", type=float, default=1.0, help="limit for the compile workload (%%)")
    ap.add_argument("--max-off-ns", type=float, default=5.0, help="limit per call with profiling off (ns)")
    ap.add_argument("--rounds", type=int, default=5, help="runs of every build job per variant")
    ap.add_argument("--micro-runs", type=int, default=5, help="micro benchmark processes per variant")
    ap.add_argument(
        "--wait-quiet", type=float, default=0, metavar="S", help="wait up to S s for an idle machine"
    )
    a = ap.parse_args(argv)
    if a.wait_quiet:
        print(f"machine busy with other work: {100 * wait_until_quiet(a.wait_quiet):.1f}%")
    with tempfile.TemporaryDirectory(prefix="vrift-gate-") as t:
        ctx = Context(Path(t), Shim(Path(t)), quick=True)
        print(f"shim: {ctx.shim.source} (sha256 {ctx.shim.sha256[:16]})")
        ok_off = check_off(ctx, a.micro_runs, a.max_off_ns)
        ok_build = check_build(ctx, a.rounds, a.max_build_pct)
    print("PASS" if ok_off and ok_build else "FAIL")
    return 0 if ok_off and ok_build else 1


if __name__ == "__main__":
    sys.exit(main())
