"""Extra sections of `vrift profile show`: hot paths and the per-command breakdown."""

from __future__ import annotations

from vrift_profile import Snapshot

from . import units
from .text_table import table, tree


def _short(path: str, width: int = 60) -> str:
    return path if len(path) <= width else "..." + path[-(width - 3) :]


def hot_lines(snap: Snapshot, n: int) -> list[str]:
    hot = snap.hot
    if not hot.capacity:
        return ["Hot Paths: this session has no hot-path table (format 1.0)"]
    out = []
    for key, title in (("calls", "most called"), ("latency_ns", "most time")):
        top = hot.top(n, key)
        if not top:
            return ["Hot Paths: none recorded (a session started with --no-hot-paths records none)"]
        rows = [["", "calls", "time", "errors", "ops", "commands"]]
        for h in top:
            rows.append(
                [
                    _short(h.path),
                    units.count(h.calls),
                    units.duration_ns(h.latency_ns),
                    units.count(h.errors) if h.errors else "",
                    ",".join(h.ops),
                    _short(h.command, 24),
                ]
            )
        grid = table(rows, "<>>><<")
        out += [f"Hot Paths ({title}, top {len(top)} of {units.count(len(hot.by_path()))}):"]
        out += ["   " + grid[0]] + tree(grid[1:]) + [""]
    notes = []
    if hot.sample_period > 1:
        notes.append(
            f"estimates: 1 path call in {hot.sample_period} recorded, weighted by {hot.sample_period} "
            "(--hot-paths records every one)"
        )
    if hot.dropped:
        notes.append(f"{units.count(hot.dropped)} path calls not recorded (table of {hot.capacity} full)")
    if hot.unresolved:
        notes.append(f"{units.count(hot.unresolved)} calls relative to a directory fd (not recorded)")
    return out + [f"   {n}" for n in notes] if notes else out[:-1]


def command_lines(snap: Snapshot) -> list[str]:
    cmds = [c for c in snap.commands if c.calls or c.processes]
    if not cmds:
        return ["Commands: none yet"]
    total_ns = sum(c.est_total_ns for c in cmds) or 1.0
    total_calls = sum(c.calls for c in cmds) or 1
    rows = [["", "procs", "calls", "calls%", "time", "time%", "top operations"]]
    for c in cmds:
        top = sorted(c.ops.items(), key=lambda kv: -kv[1].est_total_ns)[:3]
        rows.append(
            [
                c.command,
                units.count(c.processes),
                units.count(c.calls),
                units.percent(c.calls, total_calls),
                units.duration_ns(c.est_total_ns),
                units.percent(c.est_total_ns, total_ns),
                ", ".join(f"{op} {units.count(s.calls)}" for op, s in top),
            ]
        )
    grid = table(rows, "<>>>>><")
    return [f"Commands ({len(cmds)}):", "   " + grid[0]] + tree(grid[1:])
