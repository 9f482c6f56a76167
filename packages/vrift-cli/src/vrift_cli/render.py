"""`vrift profile show`: the RFC-0045 view of a Snapshot, as boxed text."""

from __future__ import annotations

import os
import shutil
import sys
import time

from vrift_profile import Snapshot

from . import units
from .text_table import table, tree

_MIN_WIDTH = 49
_TOP_COMMANDS = 5


def syscall_lines(snap: Snapshot) -> list[str]:
    ops = [(name, s) for name, s in snap.ops.items() if s.calls]
    if not ops:
        return ["(no calls counted yet)"]
    ops.sort(key=lambda kv: (-kv[1].est_total_ns, -kv[1].calls))
    sampled = [name for name, s in ops if 0 < s.timed_calls < s.calls]
    rows = [["", "calls", "time", "p50", "p99", "max", "errors"]]
    for name, s in ops:
        timed = s.timed_calls > 0
        rows.append(
            [
                name + ("*" if name in sampled else ""),
                units.count(s.calls),
                units.duration_ns(s.est_total_ns) if timed else "untimed",
                _bound(s.percentile_ns(0.5)) if timed else "",
                _bound(s.percentile_ns(0.99)) if timed else "",
                _bound(s.max_ns) if timed else "",
                units.count(s.errors) if s.errors else "",
            ]
        )
    align = "<>>>>>>"
    # Narrow terminals: drop the least telling columns rather than wrap.
    for drop in ("max", "p99", "p50"):
        if len(table(rows, align)[0]) + 3 + _FRAME <= terminal_width():
            break
        i = rows[0].index(drop)
        rows = [r[:i] + r[i + 1 :] for r in rows]
        align = align[:i] + align[i + 1 :]
    grid = table(rows, align)
    lines = ["   " + grid[0]] + tree(grid[1:])
    if any(s.timed_calls for _, s in ops):
        lines.append("   p50/p99/max: upper bounds of log2 buckets (the value is within 2x below)")
    if sampled:
        period = snap.session.sample_period
        rate = f"1 in {period}" if period > 1 else "a sample"
        lines.append(f"   * times estimated: {rate} timed after each thread's first 64 calls")
    return lines


def _bound(ns: float | None) -> str:
    if ns is None:
        return "-"
    if ns == float("inf"):
        return ">2.1s"
    return "≤" + units.duration_ns(ns + 1)  # bucket [2^i, 2^(i+1)): below 2^(i+1) ns


def vfs_lines(snap: Snapshot) -> list[str]:
    """RFC-0045's "VFS CONTRIBUTION" block, or one line saying there was none."""
    from vrift_profile.vfsstats import contribution

    v = contribution(snap)
    if v is None:
        return ["Cache Stats / VFS Contribution:", "└─ not measured: no VFS projection in this session"]
    total = v.handled + v.passthrough
    saved = (
        f"~{units.duration_ns(v.time_saved_ns)} (estimate: served calls x real mean - serving time)"
        if v.time_saved_ns is not None
        else "no estimate (no real calls of the served classes to compare with)"
    )
    out = ["Cache Stats:"] + tree(
        [
            f"Manifest Hits:  {units.percent(v.manifest_hits, v.manifest_hits + v.manifest_misses)} "
            f"({units.count(v.manifest_hits)} of {units.count(v.manifest_hits + v.manifest_misses)})",
            f"CAS Hits:       {units.percent(v.cas_hits, v.cas_hits + v.cas_misses)} "
            f"({units.count(v.cas_hits)} of {units.count(v.cas_hits + v.cas_misses)} opens)",
            f"Bloom Rejects:  {units.percent(v.bloom_rejects, v.lookups)} "
            f"({units.count(v.bloom_rejects)} of {units.count(v.lookups)} lookups)",
        ]
    )
    out += ["", "═" * 44, "★ VFS CONTRIBUTION", "═" * 44, "Intercepted vs Passthrough:"]
    out += tree(
        [
            f"VFS Handled:    {units.count(v.handled)} ({units.percent(v.handled, total)})",
            f"Passthrough:    {units.count(v.passthrough)} ({units.percent(v.passthrough, total)})",
            f"Total Syscalls: {units.count(total)}",
        ]
    )
    out += ["Time Saved:"] + tree([saved])
    if v.original_bytes:
        out += ["Disk Saved (Dedup):"] + tree(
            [
                f"Original Size:  {units.size(v.original_bytes)}",
                f"Actual Stored:  {units.size(v.stored_bytes)}",
                f"Saved:          {units.size(v.dedup_savings)} "
                f"({units.percent(v.dedup_savings, v.original_bytes)})",
            ]
        )
    if v.cow_copies:
        out += ["Copy-on-write:"] + tree([f"{units.count(v.cow_copies)} files ({units.size(v.cow_bytes)})"])
    return out


def _counter_block(snap: Snapshot) -> list[str]:
    ctr = snap.counters
    out = vfs_lines(snap) + ["", "I/O Stats:"]
    out += tree(
        [
            f"Bytes Read:     {units.size(ctr.get('bytes_read', 0))}",
            f"Bytes Written:  {units.size(ctr.get('bytes_written', 0))}",
        ]
    )
    return out


def _error_lines(snap: Snapshot) -> list[str]:
    ops = snap.ops.values()
    total = sum(s.calls for s in ops)
    errors = sum(s.errors for s in ops)
    enoent = sum(s.enoent for s in ops)
    eacces = sum(s.eacces for s in ops)
    return ["Errors:"] + tree(
        [
            f"Failed calls:   {units.count(errors)} ({units.percent(errors, total)})",
            f"ENOENT:         {units.count(enoent)}",
            f"EACCES:         {units.count(eacces)}",
        ]
    )


def _loader_lines(snap: Snapshot) -> list[str]:
    """The dynamic loader's work, derived (not counted, so not in the table)."""
    ld = snap.loader()
    if not ld or not ld["objects"]:
        return []
    d = ld["derived_syscalls"]
    lines = [
        f"   + loader (derived): {units.count(ld['objects'])} objects mapped ~ "
        f"{units.count(d['open'])} open, {units.count(d['read'])} read, {units.count(d['fstat'])} fstat, "
        f"{units.count(d['mmap'])} mmap, {units.count(d['close'])} close"
    ]
    if ld.get("audited_images"):
        took = units.duration_ns(ld["time_ns"]) if ld["time_ns"] else "untimed"
        lines.append(
            f"     loader (counted, --loader; {units.count(ld['audited_images'])} of "
            f"{units.count(ld['images'])} images): {units.count(ld['probes'])} search probes, "
            f"{units.count(ld['failed_probes'])} failed; {took} in the loader"
        )
    return lines


_UNSEEN_WHY = {"static": "static binary", "setid": "set-ID program", "no_preload": "environment drops vrift"}
_TOP_UNSEEN = 5


def _unseen_lines(snap: Snapshot) -> list[str]:
    """Programs that ran without vrift (format 1.4): their calls are missing
    from every figure above, so say which they were."""
    if not snap.unseen:
        return []
    rows = [  # the path last: a narrow terminal cuts it, not the reason
        [
            ", ".join(_UNSEEN_WHY.get(r, r) for r in u.reasons),
            f"{units.count(u.runs)} run" + ("s" if u.runs != 1 else ""),
            _unseen_wall(u),
            f"by {u.command}",
            u.path,
        ]
        for u in snap.unseen[:_TOP_UNSEEN]
    ]
    lines = ["Not Seen (ran without vrift, calls not counted):"] + tree(table(rows, "<>><<"))
    if len(snap.unseen) > _TOP_UNSEEN:
        lines.append(f"   ... {len(snap.unseen) - _TOP_UNSEEN} more (vrift profile export)")
    return lines


def _unseen_wall(u) -> str:
    """Wall time of the runs whose end a profiled parent's wait saw (1.6)."""
    if not u.timed_runs:
        return "wall ?"
    partial = f" ({u.timed_runs} timed)" if u.timed_runs != u.runs else ""
    return f"wall {units.duration_ns(u.wall_ns)}{partial}"


def _command_lines(snap: Snapshot) -> list[str]:
    cmds = [c for c in snap.commands if c.calls]
    if not cmds:
        return []
    total = sum(c.est_total_ns for c in cmds) or 1
    rows = [
        [
            c.command,
            f"{c.processes} proc" + ("s" if c.processes != 1 else ""),
            f"{units.count(c.calls)} calls",
            units.duration_ns(c.est_total_ns),
            units.percent(c.est_total_ns, total),
        ]
        for c in cmds[:_TOP_COMMANDS]
    ]
    lines = ["Top Commands (by time in calls):"] + tree(table(rows, "<>>>>"))
    if len(cmds) > _TOP_COMMANDS:
        lines.append(f"   ... {len(cmds) - _TOP_COMMANDS} more (vrift profile export)")
    return lines


def show_lines(snap: Snapshot, top_commands: bool = True) -> list[str]:
    s = snap.session
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.start_realtime_ns / 1e9))
    ncmd = len([c for c in snap.commands if c.processes])
    lines = [
        "vrift profile",
        "",
        f"Session:  {started}  ({s.state})",
        f"File:     {s.path}",
        f"Duration: {units.duration_ns(s.duration_ns)}",
        f"Processes: {units.count(snap.processes)} in {ncmd} command" + ("s" if ncmd != 1 else ""),
    ]
    if s.slots_overflowed:
        lines.append(
            f"          ({units.count(s.slots_overflowed)} beyond the {units.count(s.slot_count)} "
            "slots: counted, grouped as (overflow))"
        )
    if s.reset_realtime_ns:
        reset = time.strftime("%H:%M:%S", time.localtime(s.reset_realtime_ns / 1e9))
        lines.append(f"Reset:    {reset} (counts since then)")
    lines += ["", f"Syscall Stats ({units.count(snap.total_calls)} calls):"]
    lines += syscall_lines(snap)
    lines += _loader_lines(snap)
    lines += [""] + _counter_block(snap)
    lines += [""] + _error_lines(snap)
    cmd = _command_lines(snap) if top_commands else []
    if cmd:
        lines += [""] + cmd
    unseen = _unseen_lines(snap)
    if unseen:
        lines += [""] + unseen
    return lines


_FRAME = 6  # "│  " + "  │"


def terminal_width() -> int:
    """$COLUMNS, else the terminal's width; no limit when writing to a
    pipe or file (a log keeps every column)."""
    if "COLUMNS" not in os.environ and not sys.stdout.isatty():
        return 1 << 16
    return max(40, shutil.get_terminal_size((80, 24)).columns)


def box(lines: list[str]) -> str:
    """The lines in a frame no wider than the terminal: a line that still does
    not fit is cut with an ellipsis (never wrapped)."""
    room = terminal_width() - _FRAME
    lines = [line if len(line) <= room else line[: room - 1] + "…" for line in lines]
    width = min(max(_MIN_WIDTH, *(len(line) for line in lines)), room) + 2
    out = ["┌" + "─" * (width + 2) + "┐"]
    for i, line in enumerate(lines):
        if i == 1 and line == "":
            line = "─" * (width - 2)
        out.append("│  " + line.ljust(width - 2) + "  │")
    out.append("└" + "─" * (width + 2) + "┘")
    return "\n".join(out)


def render_show(snap: Snapshot, hot: int = 0, by_command: bool = False) -> str:
    from .views import command_lines, hot_lines

    lines = show_lines(snap, top_commands=not by_command)
    if by_command:
        lines += [""] + command_lines(snap)
    if hot:
        lines += [""] + hot_lines(snap, hot)
    return box(lines)


def render_summary(snap: Snapshot, color: bool = False) -> str:
    """The short report `vrift profile run` prints when the command ends:
    duration, calls, time inside them, VFS share (RFC colours), disk saved."""
    from .style import paint, share_color

    s = snap.session
    ops = snap.ops
    top = sorted(((n, o) for n, o in ops.items() if o.calls), key=lambda kv: -kv[1].est_total_ns)[:4]
    total_ns = sum(o.est_total_ns for o in ops.values())
    parts = ", ".join(f"{n} {units.count(o.calls)}" for n, o in top)
    from vrift_profile.vfsstats import contribution

    v = contribution(snap)
    if v is None:
        vfs = paint("vrift: VFS not active (no projection): every call went to the file system", "dim", color)
    else:
        handled, passthrough = v.handled, v.passthrough
        pct = 100.0 * handled / (handled + passthrough) if handled + passthrough else 0.0
        vfs = "vrift: VFS handled " + paint(f"{pct:.1f}%", share_color(pct), color)
        vfs += f" of {units.count(handled + passthrough)} calls"
        if v.time_saved_ns is not None:
            vfs += f", saved ~{units.duration_ns(v.time_saved_ns)}"
        if v.original_bytes:
            vfs += f", disk saved {units.size(v.dedup_savings)}"
    return "\n".join(
        [
            paint("vrift: ", "bold", color) + f"{units.count(snap.total_calls)} file-system calls in "
            f"{units.count(snap.processes)} processes over {units.duration_ns(s.duration_ns)} "
            f"({units.duration_ns(total_ns)} inside them)",
            f"vrift: top: {parts}" if parts else "vrift: no calls counted",
            vfs,
            f"vrift: profile {s.path} (vrift profile show --path {s.path})",
        ]
    )
