"""`vrift profile report`: one self-contained HTML file (no network, no JS).

Charts are inline SVG drawn here: the process timeline (timeline_svg.py),
latency histograms per operation (our log2 buckets, drawn as they are),
time per command, and the flame graph.
"""

from __future__ import annotations

import time
from html import escape

from vrift_profile import OpStats, Snapshot
from vrift_profile.flame import folded_stacks

from . import units
from .flamegraph_svg import render_svg
from .timeline_svg import timeline_section

_CSS = """
:root { --ink:#1d2330; --muted:#5d6678; --line:#e3e6ec; --bg:#f6f7f9; --card:#fff;
        --accent:#3d6fd6; --warm:#e07a3f; --bad:#c8423b; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color:var(--ink); background:var(--bg); }
header { background:#1d2330; color:#fff; padding:22px 32px; }
header h1 { margin:0 0 4px; font-size:22px; font-weight:600; }
header .meta { color:#b8c0d0; font-size:13px; }
main { padding:20px 32px 40px; max-width:1320px; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px;
          padding:16px 20px; margin:16px 0; }
h2 { font-size:16px; margin:0 0 12px; }
.tiles { display:grid; grid-template-columns:repeat(auto-fit, minmax(170px, 1fr)); gap:12px; }
.tile { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 16px; }
.tile .v { font-size:22px; font-weight:600; }
.tile .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { padding:5px 8px; border-bottom:1px solid var(--line); text-align:right; white-space:nowrap; }
th { color:var(--muted); font-weight:500; font-size:12px; }
td.l, th.l { text-align:left; }
td.path { text-align:left; font-family:ui-monospace, Menlo, monospace; font-size:12px;
          max-width:640px; overflow:hidden; text-overflow:ellipsis; }
.bar { background:#e9eef9; border-radius:3px; height:10px; width:160px; }
.bar > div { background:var(--accent); height:10px; border-radius:3px; }
.hists { display:grid; grid-template-columns:repeat(auto-fill, minmax(300px, 1fr)); gap:14px; }
.hist { border:1px solid var(--line); border-radius:6px; padding:8px 10px; }
.hist h3 { margin:0 0 4px; font-size:13px; }
.note { color:var(--muted); font-size:12px; }
.flame { overflow-x:auto; }
footer { color:var(--muted); font-size:12px; padding:0 32px 24px; }
"""


def _hist_svg(op: str, s: OpStats, width: int = 300, height: int = 120) -> str:
    """Bars for the non-empty range of log2 buckets; x labels at decades."""
    hist = list(s.histogram)
    nz = [i for i, n in enumerate(hist) if n]
    lo, hi = max(0, nz[0] - 1), min(len(hist) - 1, nz[-1] + 1)
    span = hi - lo + 1
    peak = max(hist) or 1
    bw = (width - 20) / span
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(op)} latency histogram">'
    ]
    base = height - 22
    for k, i in enumerate(range(lo, hi + 1)):
        n = hist[i]
        h = 0 if n == 0 else max(2.0, (base - 8) * n / peak)
        x = 10 + k * bw
        tip = f"{units.duration_ns(2**i)} - {units.duration_ns(2 ** (i + 1))}: {n:,} calls"
        out.append(
            f'<g><title>{escape(tip)}</title><rect x="{x + 1:.1f}" y="{base - h:.1f}" '
            f'width="{max(1.0, bw - 2):.1f}" height="{h:.1f}" fill="#3d6fd6" rx="1"/></g>'
        )
        if k % max(1, span // 5) == 0:
            out.append(
                f'<text x="{x + bw / 2:.1f}" y="{height - 6}" font-size="10" text-anchor="middle" '
                f'fill="#5d6678">{escape(units.duration_ns(2**i))}</text>'
            )
    out.append(f'<line x1="10" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#c9ced8"/></svg>')
    return "".join(out)


def _command_svg(snap: Snapshot, width: int = 640) -> str:
    cmds = [c for c in snap.commands if c.est_total_ns > 0][:12]
    if not cmds:
        return '<p class="note">No timed calls.</p>'
    row, label_w = 22, 130
    height = row * len(cmds) + 10
    peak = max(c.est_total_ns for c in cmds)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        'aria-label="time in calls per command">'
    ]
    for i, c in enumerate(cmds):
        y = 5 + i * row
        w = (width - label_w - 110) * c.est_total_ns / peak
        out.append(
            f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end" font-size="12">'
            f"{escape(c.command)}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{max(1.0, w):.1f}" height="{row - 8}" '
            'fill="#e07a3f" rx="2"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 14}" font-size="11" fill="#5d6678">'
            f"{escape(units.duration_ns(c.est_total_ns))} · {c.processes} proc</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _bound(ns: float | None) -> str:
    if ns is None:
        return "–"
    return ">2.1s" if ns == float("inf") else "≤" + units.duration_ns(ns + 1)


def _ops_table(snap: Snapshot) -> str:
    ops = sorted(((n, o) for n, o in snap.ops.items() if o.calls), key=lambda kv: -kv[1].est_total_ns)
    if not ops:
        return '<p class="note">No calls counted.</p>'
    total = sum(o.est_total_ns for _, o in ops) or 1.0
    rows = []
    for name, o in ops:
        share = 100.0 * o.est_total_ns / total
        sampled = " *" if 0 < o.timed_calls < o.calls else ""
        rows.append(
            f'<tr><td class="l">{escape(name)}{sampled}</td><td>{o.calls:,}</td>'
            f"<td>{units.duration_ns(o.est_total_ns) if o.timed_calls else 'untimed'}</td>"
            f'<td class="l"><div class="bar"><div style="width:{share:.1f}%"></div></div></td>'
            f"<td>{_bound(o.percentile_ns(0.5)) if o.timed_calls else ''}</td>"
            f"<td>{_bound(o.percentile_ns(0.99)) if o.timed_calls else ''}</td>"
            f"<td>{_bound(o.max_ns) if o.timed_calls else ''}</td>"
            f"<td>{o.errors:,}</td><td>{o.enoent:,}</td></tr>"
        )
    return (
        '<table><tr><th class="l">operation</th><th>calls</th><th>time</th><th class="l">share of time</th>'
        "<th>p50</th><th>p99</th><th>max</th><th>errors</th><th>ENOENT</th></tr>"
        + "".join(rows)
        + "</table><p class='note'>Percentiles are upper bounds of log2 latency buckets (the value lies "
        "within a factor of 2 below)."
        + (f" * {escape(note)}." if (note := snap.session.timing_note) else "")
        + "</p>"
    )


def _hot_table(snap: Snapshot, key: str, n: int = 25) -> str:
    top = snap.hot.top(n, key)
    if not top:
        return '<p class="note">No hot paths recorded.</p>'
    rows = "".join(
        f'<tr><td class="path" title="{escape(h.path)}">{escape(h.path)}</td><td>{h.calls:,}</td>'
        f"<td>{units.duration_ns(h.latency_ns)}</td><td>{h.errors:,}</td>"
        f'<td class="l">{escape(", ".join(h.ops))}</td><td class="l">{escape(h.command)}</td></tr>'
        for h in top
    )
    return (
        '<table><tr><th class="l">path</th><th>calls</th><th>time</th><th>errors</th>'
        f'<th class="l">operations</th><th class="l">commands</th></tr>{rows}</table>'
    )


def _commands_table(snap: Snapshot) -> str:
    rows = "".join(
        f'<tr><td class="l">{escape(c.command)}</td><td>{c.processes:,}</td><td>{c.calls:,}</td>'
        f"<td>{units.duration_ns(c.est_total_ns)}</td></tr>"
        for c in snap.commands
    )
    return (
        '<table><tr><th class="l">command</th><th>processes</th><th>calls</th><th>time in calls</th></tr>'
        f"{rows}</table>"
    )


def render_report(snap: Snapshot) -> str:
    s = snap.session
    ops = snap.ops
    calls = snap.total_calls
    t_ns = sum(o.est_total_ns for o in ops.values())
    errors = sum(o.errors for o in ops.values())
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.start_realtime_ns / 1e9))
    ctr = snap.counters
    vfs_state = "not active" if "vfs_handled" not in ctr else f"{ctr['vfs_handled']:,} handled"
    tiles = [
        ("calls", units.count(calls)),
        ("time in calls", units.duration_ns(t_ns)),
        ("failed calls", f"{units.count(errors)} ({units.percent(errors, calls)})"),
        ("processes", units.count(snap.processes)),
        ("bytes read", units.size(ctr.get("bytes_read", 0))),
        ("VFS", vfs_state),
    ]
    hists = "".join(
        f'<div class="hist"><h3>{escape(n)} <span class="note">{o.timed_calls:,} timed · '
        f"p50 {_bound(o.percentile_ns(0.5))} · p99 {_bound(o.percentile_ns(0.99))}</span></h3>"
        f"{_hist_svg(n, o)}</div>"
        for n, o in sorted(ops.items(), key=lambda kv: -kv[1].est_total_ns)
        if o.timed_calls
    )
    hot = snap.hot
    hot_note = (
        f"{len(hot.by_path()):,} distinct paths recorded"
        + (f"; {hot.dropped:,} path calls not recorded (table full)" if hot.dropped else "")
        + (f"; {hot.unresolved:,} calls relative to a directory fd" if hot.unresolved else "")
        if hot.capacity
        else "This session has no hot-path table."
    )
    flame = folded_stacks(snap, "time")
    flame_svg = render_svg(flame, "time in calls by command and path", "ns") if flame else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vrift profile report</title><style>{_CSS}</style></head>
<body>
<header><h1>vrift profile report</h1>
<div class="meta">{escape(s.path)} · started {started} · {escape(s.state)} · duration
{units.duration_ns(s.duration_ns)} · format {escape(s.format_version)} · clock {escape(s.clock)}</div>
</header>
<main>
<div class="tiles">{
        "".join(
            f'<div class="tile"><div class="k">{k}</div><div class="v">{escape(v)}</div></div>'
            for k, v in tiles
        )
    }</div>
<section><h2>Process timeline</h2>{timeline_section(snap)}</section>
<section><h2>File-system operations</h2>{_ops_table(snap)}</section>
<section><h2>Latency distributions</h2><div class="hists">{
        hists or '<p class="note">No timed calls.</p>'
    }</div>
</section>
<section><h2>Commands</h2>{_command_svg(snap)}{_commands_table(snap)}</section>
<section><h2>Hot paths: most called</h2><p class="note">{escape(hot_note)}</p>{
        _hot_table(snap, "calls")
    }</section>
<section><h2>Hot paths: most time</h2>{_hot_table(snap, "latency_ns")}</section>
<section><h2>Flame graph (time in calls)</h2><div class="flame">{flame_svg or '<p class="note">No data.</p>'}
</div></section>
<section><h2>Cache and VFS contribution</h2>
<p class="note">{
        "Not measured: no VFS projection was active in this session."
        if "vfs_handled" not in ctr
        else escape(vfs_state)
    }</p></section>
</main>
<footer>Generated by vrift on {time.strftime("%Y-%m-%d %H:%M:%S")} from a snapshot of {
        escape(s.path)
    }.</footer>
</body></html>
"""
