"""CLI: cold start of `vrift profile show` and `vrift profile export
--format json` on the profile of a typical build (the 40-file C build
in a default session).

"Cold start" here is a fresh process each time (interpreter start,
imports, reading the file, rendering) with the page cache warm, which is
what a user typing the command after a build gets. `python -c pass` is
the floor no Python CLI can go below.
"""

from __future__ import annotations

import sys
from pathlib import Path

from harness import (
    Context,
    SectionResult,
    Table,
    Target,
    alternate,
    default_profiled,
    label,
    plain_env,
    run_wall,
    summarize,
)
from scale import vrift_exe
from workloads import cproject

SHOW_LIMIT_S = 0.150


def typical_profile(ctx: Context) -> Path:
    proj = cproject.generate(ctx.tmp / "cli-cproject", 40)
    # what `vrift profile start` makes: the default mode and size
    session = ctx.shim.session(default_profiled(), slot_count=None)
    assert session is not None
    run_wall(["make", "-s", "-j2"], cwd=proj, env=ctx.shim.env(default_profiled(), session))
    return session


def run(ctx: Context) -> SectionResult:
    session = typical_profile(ctx)
    env = plain_env()
    commands = {
        "python -c pass (floor)": [sys.executable, "-c", "pass"],
        "vrift profile show": [vrift_exe(), "profile", "show", "--path", str(session)],
        "vrift profile export --format json": [
            vrift_exe(),
            "profile",
            "export",
            "--format",
            "json",
            "--path",
            str(session),
        ],
    }
    first = {k: run_wall(cmd, env=env).wall for k, cmd in commands.items()}  # the first run after the build
    times = alternate(list(commands), ctx.reps(15, 5), lambda k, _r: run_wall(commands[k], env=env).wall)
    session.unlink()

    t = Table(
        f"CLI: cold start on a typical profile (40-file C build in a default session: "
        f"{label(default_profiled()).split(' (')[0]}, 4096 slots)",
        ["command", "first run ms", "median (min..max) ms"],
    )
    for k, xs in times.items():
        t.add(k, f"{first[k] * 1e3:.0f}", summarize(xs).fmt(".0f", scale=1e3))
    show = summarize(times["vrift profile show"])
    target = Target(
        "`vrift profile show` cold start",
        "< 150 ms",
        show.fmt(".0f", scale=1e3) + " ms",
        "met" if show.median < SHOW_LIMIT_S else "NOT met",
    )
    return SectionResult(tables=[t], targets=[target])
