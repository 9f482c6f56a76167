"""`vrift profile diff` as text: totals, then operations and commands by impact."""

from __future__ import annotations

import math

from vrift_profile.diff import Change, ProfileDiff

from . import units
from .text_table import table

_ROWS = 12


def _pct(c: Change) -> str:
    p = c.percent
    if p is None:
        return ""
    if math.isinf(p):
        return "(new)"
    return f"({p:+.1f}%)"


def _count(c: Change) -> str:
    return f"{units.count(int(c.a))} -> {units.count(int(c.b))} {_pct(c)}".rstrip()


def _time(c: Change) -> str:
    def t(v: float) -> str:
        return "inf" if math.isinf(v) else units.duration_ns(v)

    return f"{t(c.a)} -> {t(c.b)} {_pct(c)}".rstrip()


def render_diff(d: ProfileDiff, a: str, b: str) -> str:
    t = d.totals
    out = [
        "vrift profile diff",
        f"  A: {a}",
        f"  B: {b}",
        "",
        f"  calls      {_count(t['calls'])}",
        f"  time       {_time(t['time_ns'])}   (in calls)",
        f"  errors     {_count(t['errors'])}",
        f"  processes  {_count(t['processes'])}",
        f"  duration   {_time(t['duration_ns'])}",
    ]
    if d.ops:
        out += ["", "Operations (by time change):"]
        rows = [["op", "calls", "time", "p50", "p99"]]
        for e in d.ops[:_ROWS]:
            c = e.changes
            rows.append(
                [e.name, _count(c["calls"]), _time(c["time_ns"]), _time(c["p50_ns"]), _time(c["p99_ns"])]
            )
        out += ["  " + line for line in table(rows, gap=3)]
        out.append("  (percentiles are log2-bucket upper bounds: exact to a factor of 2)")
    if d.commands:
        out += ["", "Commands (by time change):"]
        rows = [["command", "processes", "calls", "time"]]
        for e in d.commands[:_ROWS]:
            c = e.changes
            rows.append([e.name, _count(c["processes"]), _count(c["calls"]), _time(c["time_ns"])])
        out += ["  " + line for line in table(rows, gap=3)]
    changed = {k: v for k, v in d.counters.items() if v.a or v.b}
    if changed:
        out += ["", "Counters:"]
        out += [f"  {k:<16} {_count(v)}" for k, v in changed.items()]
    return "\n".join(out)
