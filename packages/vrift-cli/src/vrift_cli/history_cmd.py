"""`vrift profile history`: the recorded runs, with totals per day and per week.

Days and ISO weeks (Monday to Sunday) are in local time, by the run's
start. Time saved adds up (each run saved its own time); disk saved does
not (a projection saves its space once, however many builds use it), so
a period's disk saved counts each projection once, identified by its
original and stored sizes.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import units

if TYPE_CHECKING:
    from .run_record import RunRecord


def _day(ns: int) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(ns / 1e9))


def _week(ns: int) -> str:
    return time.strftime("%G-W%V", time.localtime(ns / 1e9))


def totals(runs: list[RunRecord]) -> dict[str, Any]:
    """Sums over runs (RunRecords); see the module docstring for disk saved."""
    projections = {p for r in runs for p in r.projections}
    estimated = [r for r in runs if r.time_saved_ns is not None]
    vfs = [r for r in runs if r.vfs_handled is not None]
    return {
        "runs": len(runs),
        "failed": sum(1 for r in runs if r.exit_status not in (0, None)),
        "duration_ns": sum(r.duration_ns for r in runs),
        "processes": sum(r.processes for r in runs),
        "calls": sum(r.calls for r in runs),
        "errors": sum(r.errors for r in runs),
        "latency_ns": sum(r.latency_ns for r in runs),
        "vfs_handled": sum(r.vfs_handled for r in vfs),
        "vfs_passthrough": sum(r.vfs_passthrough or 0 for r in vfs),
        "time_saved_ns": sum(r.time_saved_ns for r in estimated),
        "runs_with_time_saved": len(estimated),
        "dedup_saved_bytes": sum(o - s for o, s in projections),
        "bytes_read": sum(r.bytes_read for r in runs),
        "bytes_written": sum(r.bytes_written for r in runs),
    }


def _grouped(runs: list[RunRecord], key: Callable[[int], str]) -> list[tuple[str, list[RunRecord]]]:
    groups: dict[str, list[RunRecord]] = {}
    for r in runs:
        groups.setdefault(key(r.started_ns), []).append(r)
    return sorted(groups.items())


def run_dict(r: RunRecord) -> dict[str, Any]:
    return {
        "id": r.run_id,
        "started_unix_ns": r.started_ns,
        "ended_unix_ns": r.ended_ns,
        "duration_ns": r.duration_ns,
        "argv": list(r.argv) if r.argv is not None else None,
        "cwd": r.cwd,
        "command": r.command_name,
        "exit_status": r.exit_status,
        "source": r.source,
        "session": r.session_path,
        "processes": r.processes,
        "commands": r.commands,
        "calls": r.calls,
        "errors": r.errors,
        "enoent": r.enoent,
        "eacces": r.eacces,
        "latency_ns": r.latency_ns,
        "syscalls": {
            op: {"calls": o.calls, "errors": o.errors, "latency_ns": o.latency_ns} for op, o in r.ops.items()
        },
        "vfs_handled": r.vfs_handled,
        "vfs_passthrough": r.vfs_passthrough,
        "time_saved_ns": r.time_saved_ns,
        "dedup_saved_bytes": r.dedup_saved_bytes,
        "original_bytes": r.original_bytes,
        "bytes_read": r.bytes_read,
        "bytes_written": r.bytes_written,
        "vrift_version": r.vrift_version,
    }


def history(args: argparse.Namespace) -> int:
    from vrift_profile import SessionError

    from .history import history_path, runs

    path = history_path()
    if path is None:
        raise SessionError("history is turned off (VRIFT_HISTORY=off)")
    since_ns = time.time_ns() - args.since * 1_000_000_000 if args.since is not None else None
    found = runs(path, since_ns=since_ns, command=args.command, timeout=5.0)
    days = [{"day": d, **totals(rs)} for d, rs in _grouped(found, _day)]
    weeks = [{"week": w, **totals(rs)} for w, rs in _grouped(found, _week)]
    if args.json:
        import orjson

        payload = {
            "database": str(path),
            "since_unix_ns": since_ns,
            "command": args.command,
            "runs": [run_dict(r) for r in found],
            "totals": totals(found),
            "days": days,
            "weeks": weeks,
        }
        sys.stdout.buffer.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2) + b"\n")
        return 0
    print("\n".join(text_lines(found, days, weeks, str(path))))
    return 0


def _saved(t: dict[str, Any]) -> str:
    if not t["runs_with_time_saved"]:
        return "-"
    return units.duration_ns(t["time_saved_ns"])


def text_lines(found: list[RunRecord], days: list[dict], weeks: list[dict], where: str) -> list[str]:
    from .text_table import table

    if not found:
        return [
            f"vrift: no runs recorded in {where} (`vrift profile run` and `vrift profile stop` record them)"
        ]
    rows = [["#", "started", "duration", "status", "procs", "calls", "VFS", "saved", "dedup", "command"]]
    for r in found:
        share = r.handled_share
        rows.append(
            [
                str(r.run_id),
                time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started_ns / 1e9)),
                units.duration_ns(r.duration_ns),
                "-" if r.exit_status is None else str(r.exit_status),
                units.count(r.processes),
                units.count(r.calls),
                "-" if share is None else f"{100 * share:.0f}%",
                "-" if r.time_saved_ns is None else units.duration_ns(r.time_saved_ns),
                units.size(r.dedup_saved_bytes) if r.projections else "-",
                r.command_text,
            ]
        )
    lines = [f"Runs ({len(found)}, {where}):"] + table(rows, ">>>>>>>>><")
    for title, key, groups in (("day", "day", days), ("week", "week", weeks)):
        trow = [[title, "runs", "failed", "build time", "calls", "time saved", "disk saved"]]
        for g in groups:
            trow.append(
                [
                    g[key],
                    str(g["runs"]),
                    str(g["failed"]),
                    units.duration_ns(g["duration_ns"]),
                    units.count(g["calls"]),
                    _saved(g),
                    units.size(g["dedup_saved_bytes"]),
                ]
            )
        lines += ["", f"Per {title}:"] + table(trow, "<>>>>>>")
    this_week = time.strftime("%G-W%V")
    current = next((w for w in weeks if w["week"] == this_week), None)
    lines.append("")
    if current is None:
        lines.append("No runs recorded this week.")
    else:
        disk = units.size(current["dedup_saved_bytes"])
        runs_text = f"{current['runs']} run" + ("s" if current["runs"] != 1 else "")
        if current["runs_with_time_saved"]:
            lines.append(
                f"This week vrift saved you {_saved(current)} of build time and {disk} of disk space "
                f"({runs_text}, {current['runs_with_time_saved']} with a VFS time-saved estimate)."
            )
        else:
            lines.append(
                f"This week: {runs_text}, {units.duration_ns(current['duration_ns'])} of build time; "
                f"no VFS time-saved estimate among them (see `vrift run --vfs`)."
            )
    return lines
