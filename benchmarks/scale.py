"""Scale: a build that starts 10,000 short processes in one session.

A generated Makefile runs cprogs/one_stat (exactly one stat() each)
10,000 times with `make -j2`. The profile must count every one of them
exactly (10,000 one_stat images, 10,000 stat calls, nothing in the
overflow slot), stay a small file, and `vrift profile show` / `export`
must read it quickly: these are the per-process costs (slot claim,
attach, the reader walking 10,000 slots) at their largest.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from harness import (
    FULL,
    OFF,
    PLAIN,
    Context,
    SectionResult,
    Table,
    Target,
    alternate,
    label,
    paired_ratios,
    plain_env,
    run_wall,
    summarize,
)
from vrift_profile import read_profile

PROCESSES = 10_000
FILE_LIMIT = 64 * 2**20
SHOW_LIMIT_S = 0.300


def vrift_exe() -> str:
    """The `vrift` command of this venv (next to its python)."""
    return str(Path(sys.executable).parent / "vrift")


def write_makefile(root: Path, prog: Path, n: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    targets = " ".join(f"t{i}" for i in range(n))
    # No shell metacharacters in the recipe: make execs one_stat directly,
    # so the 10,000 images are one_stat's (plus make itself).
    (root / "Makefile").write_text(
        f"TARGETS := {targets}\nall: $(TARGETS)\n$(TARGETS):\n\t@{prog} .\n.PHONY: all $(TARGETS)\n"
    )
    return root


def check_exact(session: Path, n: int) -> dict[str, int]:
    """Exact totals or an exception: a scale test that loses counts must fail loudly."""
    snap = read_profile(session)
    cmd = snap.command("one_stat")
    facts = {
        "one_stat images": cmd.processes if cmd else 0,
        "one_stat stat calls": cmd.ops["stat"].calls if cmd else 0,
        "all images": snap.processes,
        "overflowed": snap.session.slots_overflowed,
        "total calls": snap.total_calls,
    }
    if facts["one_stat images"] != n or facts["one_stat stat calls"] != n or facts["overflowed"]:
        raise AssertionError(f"scale profile is not exact: {facts}")
    return facts


def time_cli(ctx: Context, args: list[str], reps: int) -> list[float]:
    """Wall seconds of fresh `vrift ...` processes (no shim in their env)."""
    env = plain_env()
    return [run_wall([vrift_exe(), *args], env=env).wall for _ in range(reps)]


def run(ctx: Context) -> SectionResult:
    root = write_makefile(ctx.tmp / "scale", ctx.binary("one_stat"), PROCESSES)
    env = plain_env()
    kept: dict[str, Path] = {}
    facts: dict[str, int] = {}

    def one(variant: str, _rep: int) -> float:
        session = ctx.shim.session(variant, slot_count=PROCESSES + 64)
        wall = run_wall(["make", "-s", "-j2"], cwd=root, env=ctx.shim.env(variant, session, env)).wall
        if session:
            facts.update(check_exact(session, PROCESSES))
            if "last" in kept:
                kept["last"].unlink()
            kept["last"] = session
        return wall

    wall = alternate([PLAIN, OFF, FULL], ctx.reps(3, 1), one)
    session = kept["last"]
    size = os.path.getsize(session)
    reps = ctx.reps(7, 3)
    show = summarize(time_cli(ctx, ["profile", "show", "--path", str(session)], reps))
    export = summarize(time_cli(ctx, ["profile", "export", "--format", "json", "--path", str(session)], reps))

    t = Table(
        f"Scale: {PROCESSES:,} process images in one session (make -j2 running one_stat)",
        ["measure", "value"],
    )
    for k, v in facts.items():
        t.add(k, f"{v:,}")
    t.add("session file size", f"{size / 2**20:.1f} MiB ({size:,} bytes)")
    t.add("build wall, no shim", summarize(wall[PLAIN]).fmt(".2f") + " s")
    for v in (OFF, FULL):
        t.add(
            f"build wall, {label(v)}",
            summarize(paired_ratios(wall, v)).fmt(".1f", signed=True, scale=100) + "%",
        )
    per_exec_us = [(b - a) / PROCESSES * 1e6 for a, b in zip(wall[PLAIN], wall[FULL], strict=True)]
    t.add(
        f"added wall per image, {label(FULL)} ((full - plain) / images)",
        summarize(per_exec_us).fmt(".0f", signed=True) + " us",
    )
    t.add("`vrift profile show` (fresh process)", show.fmt(".0f", scale=1e3) + " ms")
    t.add("`vrift profile export --format json` (fresh process)", export.fmt(".0f", scale=1e3) + " ms")
    session.unlink()

    exact = f"{facts['one_stat images']:,} images, {facts['one_stat stat calls']:,} stat calls, 0 overflowed"
    targets = [
        Target(f"{PROCESSES:,} process images: exact totals", "exact", exact, "met"),
        Target(
            f"{PROCESSES:,} process images: file size",
            "< 64 MB",
            f"{size / 2**20:.1f} MiB",
            "met" if size < FILE_LIMIT else "NOT met",
        ),
        Target(
            f"{PROCESSES:,} process images: `profile show`",
            "< 300 ms",
            show.fmt(".0f", scale=1e3) + " ms",
            "met" if show.median < SHOW_LIMIT_S else "NOT met",
        ),
    ]
    return SectionResult(tables=[t], targets=targets)
