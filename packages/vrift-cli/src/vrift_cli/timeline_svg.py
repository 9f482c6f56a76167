"""The process timeline of `vrift profile report`: inline SVG, one row per
process image (format 1.5), in process-tree order (each image under its
parent, children by start time), a bar for its life coloured by how it
ended, and above them the number of processes alive. Each bar's tooltip
holds the command line, cwd, exit status and its file-system figures.

Drawn for up to MAX_IMAGES images; a bigger build gets a note pointing to
the Perfetto export, which handles any size.
"""

from __future__ import annotations

from html import escape

from vrift_profile import Snapshot
from vrift_profile.lifetimes import ProcessImage, parents

from . import units

MAX_IMAGES = 3000
_LABEL_W = 190
_ALIVE_H = 46
_AXIS_H = 18
_COLORS = {"ok": "#3d6fd6", "failed": "#e07a3f", "killed": "#c8423b", "unknown": "#9aa3b5"}


def _tree_order(images: list[ProcessImage]) -> list[tuple[ProcessImage, int]]:
    """(image, depth) in depth-first order, roots and children by start."""
    parent_of = parents(images)
    children: dict[int | None, list[ProcessImage]] = {}
    for p in images:
        children.setdefault(parent_of.get(p.slot), []).append(p)
    for kids in children.values():
        kids.sort(key=lambda p: (p.start_ns, p.slot))
    out: list[tuple[ProcessImage, int]] = []
    stack = [(p, 0) for p in reversed(children.get(None, []))]
    while stack:
        p, depth = stack.pop()
        out.append((p, depth))
        stack.extend((k, depth + 1) for k in reversed(children.get(p.slot, [])))
    return out


def _outcome(p: ProcessImage) -> str:
    if p.signal is not None:
        return "killed"
    if p.exit_code is None:
        return "unknown"
    return "ok" if p.exit_code == 0 else "failed"


def _tooltip(p: ProcessImage) -> str:
    top = sorted(p.calls.items(), key=lambda kv: -kv[1])[:6]
    lines = [
        p.command_line or p.command,
        f"pid {p.pid}, parent {p.ppid} · {units.duration_ns(p.duration_ns)} · {p.status_text}"
        + (" (end: last activity seen)" if p.end_by == "last_activity" else ""),
        f"cwd {p.cwd}" if p.cwd else "",
        f"{p.total_calls:,} file-system calls, {units.duration_ns(p.fs_time_ns)} in them"
        + (f", {sum(p.errors.values()):,} failed" if p.errors else ""),
        ", ".join(f"{op} {n:,}" for op, n in top),
    ]
    if "vfs_handled" in p.counters or "vfs_passthrough" in p.counters:
        handled, passthrough = p.counters.get("vfs_handled", 0), p.counters.get("vfs_passthrough", 0)
        lines.append(f"VFS {handled:,} handled, {passthrough:,} passthrough")
    return "\n".join(line for line in lines if line)


def _alive_path(images: list[ProcessImage], x, base: float, height: float) -> tuple[str, int]:
    events = sorted([(p.start_ns, 0, 1) for p in images] + [(p.end_ns, 1, -1) for p in images])
    alive = peak = 0
    steps = []
    for t, _, d in events:
        alive += d
        peak = max(peak, alive)
        steps.append((t, alive))
    if not steps or peak == 0:
        return "", 0
    pts = [f"M{x(steps[0][0]):.1f},{base:.1f}"]
    prev = 0
    for t, a in steps:
        pts.append(f"L{x(t):.1f},{base - height * prev / peak:.1f}")
        pts.append(f"L{x(t):.1f},{base - height * a / peak:.1f}")
        prev = a
    pts.append(f"L{x(steps[-1][0]):.1f},{base:.1f}Z")
    return "".join(pts), peak


def timeline_section(snap: Snapshot, width: int = 1200) -> str:
    images = list(snap.images)
    if not images:
        return (
            '<p class="note">No process timeline: this profile has no per-process lifetimes '
            f"(format {escape(snap.session.format_version)}; they are recorded from format 1.5).</p>"
        )
    if len(images) > MAX_IMAGES:
        return (
            f'<p class="note">{len(images):,} process images: too many to draw here (the report draws up '
            f"to {MAX_IMAGES:,}). Open the whole timeline in Perfetto: "
            "<code>vrift profile export --format perfetto -o build.pftrace</code>, then "
            "<code>build.pftrace</code> in ui.perfetto.dev or a local Perfetto UI (docs/perfetto.md).</p>"
        )
    rows = _tree_order(images)
    t0 = min(p.start_ns for p in images)
    t1 = max(max(p.end_ns for p in images), t0 + 1)
    span = t1 - t0
    row_h = 14.0 if len(rows) <= 120 else max(2.0, 1700.0 / len(rows))
    plot_w = width - _LABEL_W - 10

    def x(t: int) -> float:
        return _LABEL_W + plot_w * (t - t0) / span

    top = _ALIVE_H + _AXIS_H
    height = top + row_h * len(rows) + 6
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {width} {height:.0f}" role="img" '
        f'aria-label="process timeline" font-size="11">'
    ]
    path, peak = _alive_path(images, x, _ALIVE_H - 4, _ALIVE_H - 12)
    if path:
        out.append(
            f'<text x="{_LABEL_W - 8}" y="{_ALIVE_H - 8}" text-anchor="end" fill="#5d6678">'
            "processes alive</text>"
            f'<path d="{path}" fill="#c9d7f4" stroke="#3d6fd6" stroke-width="1"/>'
            f'<text x="{_LABEL_W + 4}" y="12" fill="#5d6678">peak {peak}</text>'
        )
    for k in range(6):  # time axis
        t = t0 + span * k // 5
        tx = x(t)
        anchor = "start" if k == 0 else "end" if k == 5 else "middle"
        out.append(
            f'<line x1="{tx:.1f}" y1="{_ALIVE_H}" x2="{tx:.1f}" y2="{height:.0f}" stroke="#eef0f4"/>'
            f'<text x="{tx:.1f}" y="{_ALIVE_H + 12}" text-anchor="{anchor}" fill="#5d6678">'
            f"{escape(units.duration_ns(t - t0))}</text>"
        )
    labels = row_h >= 10
    for i, (p, depth) in enumerate(rows):
        y = top + i * row_h
        bx = x(p.start_ns)
        bw = max(1.0, x(p.end_ns) - bx)
        color = _COLORS[_outcome(p)]
        dash = ' stroke="#5d6678" stroke-dasharray="2,2"' if p.end_by == "last_activity" else ""
        out.append(
            f'<g><title>{escape(_tooltip(p))}</title><rect x="{bx:.1f}" y="{y + 1:.1f}" width="{bw:.1f}" '
            f'height="{max(1.0, row_h - 2):.1f}" fill="{color}" rx="1"{dash}/></g>'
        )
        if labels:
            out.append(
                f'<text x="{4 + min(depth, 12) * 8}" y="{y + row_h - 3:.1f}" fill="#1d2330">'
                f"{escape(p.command)} <tspan fill='#5d6678'>{p.pid}</tspan></text>"
            )
    out.append("</svg>")
    legend = " · ".join(
        f'<span style="color:{_COLORS[k]}">■</span> {what}'
        for k, what in (
            ("ok", "exit 0"),
            ("failed", "non-zero exit"),
            ("killed", "killed by a signal"),
            ("unknown", "end not seen (bar ends at its last activity)"),
        )
    )
    return (
        f'<div class="flame">{"".join(out)}</div><p class="note">{len(images):,} process images over '
        f"{escape(units.duration_ns(span))}, each under its parent; hover a bar for its command line, "
        f"working directory, exit status and file-system calls. {legend}. The Perfetto export "
        "(<code>vrift profile export --format perfetto</code>) has the same timeline with every figure.</p>"
    )
