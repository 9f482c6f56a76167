"""Compare two snapshots: what changed, by how much, sorted by impact.

Used by `vrift profile diff` and by CI gates (`--fail-if`). Times are the
estimated time spent in calls (OpStats.est_total_ns); percentiles are
bucket upper bounds (see OpStats.percentile_ns).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from .errors import UsageError
from .snapshot import OpStats, Snapshot

PERCENTILES = {"p50": 0.50, "p90": 0.90, "p99": 0.99}


@dataclass(frozen=True)
class Change:
    name: str
    a: float
    b: float

    @property
    def delta(self) -> float:
        return self.b - self.a

    @property
    def ratio(self) -> float | None:
        """b / a; None when a is 0 (new) ."""
        return self.b / self.a if self.a else None

    @property
    def percent(self) -> float | None:
        if self.a:
            return 100.0 * (self.b - self.a) / self.a
        return None if self.b == 0 else math.inf

    def to_dict(self) -> dict[str, Any]:
        pct = self.percent
        return {
            "a": self.a,
            "b": self.b,
            "delta": self.delta,
            "ratio": self.ratio,
            "percent": None if pct is None or math.isinf(pct) else pct,
        }


@dataclass(frozen=True)
class EntityDiff:
    """One operation or command: a few metrics, each a Change."""

    name: str
    changes: dict[str, Change]

    @property
    def impact(self) -> float:
        return abs(self.changes["time_ns"].delta)


@dataclass(frozen=True)
class ProfileDiff:
    totals: dict[str, Change]
    ops: list[EntityDiff]
    commands: list[EntityDiff]
    counters: dict[str, Change]

    def to_dict(self) -> dict[str, Any]:
        return {
            "totals": {k: v.to_dict() for k, v in self.totals.items()},
            "syscalls": {e.name: {k: v.to_dict() for k, v in e.changes.items()} for e in self.ops},
            "processes": {e.name: {k: v.to_dict() for k, v in e.changes.items()} for e in self.commands},
            "counters": {k: v.to_dict() for k, v in self.counters.items()},
        }


def _op_changes(name: str, a: OpStats, b: OpStats) -> dict[str, Change]:
    out = {
        "calls": Change(f"{name}.calls", a.calls, b.calls),
        "errors": Change(f"{name}.errors", a.errors, b.errors),
        "time_ns": Change(f"{name}.time_ns", a.est_total_ns, b.est_total_ns),
        "mean_ns": Change(f"{name}.mean_ns", a.mean_ns, b.mean_ns),
    }
    for label, q in PERCENTILES.items():
        pa, pb = a.percentile_ns(q), b.percentile_ns(q)
        out[f"{label}_ns"] = Change(f"{name}.{label}_ns", pa or 0.0, pb or 0.0)
    return out


def diff(a: Snapshot, b: Snapshot) -> ProfileDiff:
    aops, bops = a.ops, b.ops
    ops = [
        EntityDiff(op, _op_changes(op, aops.get(op, OpStats()), bops.get(op, OpStats())))
        for op in dict.fromkeys([*aops, *bops])
    ]
    ops = [e for e in ops if e.changes["calls"].a or e.changes["calls"].b]
    ops.sort(key=lambda e: (-e.impact, e.name))

    acmd = {c.command: c for c in a.commands}
    bcmd = {c.command: c for c in b.commands}
    commands = []
    for name in dict.fromkeys([*acmd, *bcmd]):
        ca, cb = acmd.get(name), bcmd.get(name)
        commands.append(
            EntityDiff(
                name,
                {
                    "processes": Change("processes", ca.processes if ca else 0, cb.processes if cb else 0),
                    "calls": Change("calls", ca.calls if ca else 0, cb.calls if cb else 0),
                    "time_ns": Change("time_ns", ca.est_total_ns if ca else 0, cb.est_total_ns if cb else 0),
                },
            )
        )
    commands.sort(key=lambda e: (-e.impact, e.name))

    def total(ops: dict[str, OpStats], attr: str) -> float:
        return sum(getattr(s, attr) for s in ops.values())

    totals = {
        "calls": Change("calls", total(aops, "calls"), total(bops, "calls")),
        "errors": Change("errors", total(aops, "errors"), total(bops, "errors")),
        "time_ns": Change("time_ns", total(aops, "est_total_ns"), total(bops, "est_total_ns")),
        "processes": Change("processes", a.processes, b.processes),
        "duration_ns": Change("duration_ns", a.session.duration_ns, b.session.duration_ns),
    }
    ac, bc = a.counters, b.counters
    counters = {k: Change(k, ac.get(k, 0), bc.get(k, 0)) for k in dict.fromkeys([*ac, *bc])}
    return ProfileDiff(totals, ops, commands, counters)


# ---- CI gates ----

_RULE = re.compile(r"^\s*([A-Za-z0-9_.:\-]+)\s*>\s*\+?(\d+(?:\.\d+)?)\s*(%?)\s*$")


_TOTALS = {"calls", "errors", "time", "time_ns", "processes", "duration", "duration_ns"}
_COMMAND_FIELDS = {"calls", "time", "time_ns", "processes"}
_OP_FIELDS = {"calls", "errors", "time", "mean", "p50", "p90", "p99"}


def _check_metric(metric: str) -> None:
    """The metric's shape (operation and command names depend on the data)."""
    if metric in _TOTALS:
        return
    if metric.startswith("command:"):
        name, _, field = metric[len("command:") :].rpartition(".")
        if name and field in _COMMAND_FIELDS:
            return
    else:
        op, _, field = metric.rpartition(".")
        if op and field in _OP_FIELDS:
            return
    raise UsageError(
        f"bad --fail-if metric {metric!r} (one of {', '.join(sorted(_TOTALS - {'time_ns', 'duration_ns'}))}, "
        f"OP.{{{','.join(sorted(_OP_FIELDS))}}} or command:NAME.{{calls,time,processes}})"
    )


@dataclass(frozen=True)
class Threshold:
    """`METRIC>N%` (relative increase) or `METRIC>N` (absolute increase).

    METRIC: calls, errors, time (ns), processes, duration (ns), OP.calls,
    OP.errors, OP.time, OP.mean, OP.p50, OP.p90, OP.p99 (ns), or
    command:NAME.calls / .time / .processes."""

    metric: str
    limit: float
    relative: bool
    text: str

    @classmethod
    def parse(cls, text: str) -> Threshold:
        m = _RULE.match(text)
        if not m:
            raise UsageError(f"bad --fail-if {text!r} (expected METRIC>N% or METRIC>N, e.g. time>5%)")
        _check_metric(m.group(1))  # before any work: a typo must not cost a whole diff
        return cls(m.group(1), float(m.group(2)), m.group(3) == "%", text.strip())

    def change(self, d: ProfileDiff) -> Change:
        m = self.metric
        alias = {"time": "time_ns", "duration": "duration_ns"}
        if m in alias or m in d.totals:
            return d.totals[alias.get(m, m)]
        if m.startswith("command:"):
            name, _, field = m[len("command:") :].rpartition(".")
            for e in d.commands:
                if e.name == name and alias.get(field, field) in e.changes:
                    return e.changes[alias.get(field, field)]
            return Change(m, 0, 0)
        op, _, field = m.rpartition(".")
        key = {"time": "time_ns", "mean": "mean_ns", "p50": "p50_ns", "p90": "p90_ns", "p99": "p99_ns"}.get(
            field, field
        )
        if key not in ("calls", "errors", "time_ns", "mean_ns", "p50_ns", "p90_ns", "p99_ns"):
            raise UsageError(f"bad --fail-if metric {m!r}")
        for e in d.ops:
            if e.name == op:
                return e.changes[key]
        return Change(m, 0, 0)

    def violated(self, d: ProfileDiff) -> tuple[bool, Change]:
        c = self.change(d)
        if self.relative:
            pct = c.percent
            return (pct is not None and pct > self.limit), c
        return c.delta > self.limit, c
