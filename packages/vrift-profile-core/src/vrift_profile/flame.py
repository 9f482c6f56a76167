"""Folded stacks from the hot-path table, for flame graphs.

One line per (command, path): `command;dir;...;file WEIGHT`, the format
of Brendan Gregg's flamegraph.pl ("collapsed stacks"), which speedscope
and inferno read too. The weight is time spent (ns) or calls. A path that
is itself a prefix of others (a directory that was stat'ed) keeps its own
weight as that frame's self time.
"""

from __future__ import annotations

from .snapshot import Snapshot

WEIGHTS = ("time", "calls")


def _frame(name: str) -> str:
    # ';' separates frames and the last space separates the weight.
    return name.replace(";", ":").replace("\n", " ") or "/"


def folded_stacks(snapshot: Snapshot, weight: str = "time") -> list[str]:
    if weight not in WEIGHTS:
        raise ValueError(f"weight must be one of {WEIGHTS}")
    lines = []
    for h in snapshot.hot.paths:
        value = h.latency_ns if weight == "time" else h.calls
        if value <= 0:
            continue
        parts = [p for p in h.path.split("/") if p] or ["/"]
        frames = [_frame(h.command or "?"), *(_frame(p) for p in parts)]
        lines.append(f"{';'.join(frames)} {value}")
    return sorted(lines)
