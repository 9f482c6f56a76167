"""`vrift profile badge`: a self-contained SVG badge, shields.io style.

    build | 45.2s | saved | ~21.0s | dedup | 57%

Label parts in grey, values in colour, one rounded bar. No network and
no web font: the text is set in Verdana or whatever sans-serif the viewer
has; widths are estimated from Verdana's advance widths at 11px (the font
shields.io measures with), and each text carries textLength so a
fallback font is fitted to the same width instead of spilling over.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import units

if TYPE_CHECKING:
    from .run_record import RunRecord

FONT = "Verdana,Geneva,DejaVu Sans,sans-serif"
FONT_PX = 11
PAD_PX = 6  # either side of a text
LABEL_COLOR = "#555"
GREY = "#9f9f9f"
BLUE = "#007ec6"
GREEN = "#4c1"
RED = "#e05d44"

# Advance widths of Verdana at 11px (font units / 2048 * 11), for the
# characters a badge shows; anything else counts as a wide letter.
_WIDTHS = {" ": 3.87, ".": 3.94, ",": 3.94, ":": 4.69, "%": 11.98, "~": 7.7, "-": 4.71, "(": 4.55, ")": 4.55}
_WIDTHS.update(dict.fromkeys("0123456789", 7.0))
_WIDTHS.update(
    zip(
        "abcdefghijklmnopqrstuvwxyz",
        (
            6.6,
            6.83,
            5.7,
            6.83,
            6.48,
            3.87,
            6.83,
            6.96,
            3.02,
            3.63,
            6.48,
            3.02,
            10.7,
            6.96,
            6.66,
            6.83,
            6.83,
            4.69,
            5.73,
            4.33,
            6.96,
            6.48,
            8.96,
            6.48,
            6.48,
            5.64,
        ),
        strict=True,
    )
)
_WIDTHS.update(dict.fromkeys("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 7.9))
_WIDTHS.update({"I": 4.63, "M": 9.32, "W": 10.85, "B": 7.58, "G": 8.53, "K": 7.62, "T": 6.82})
_OTHER = 8.5


def escape(text: str) -> str:
    """Text for XML content and double-quoted attributes (xml.sax.saxutils
    would cost `show`, which imports this module, 30 ms of urllib)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def text_width(text: str) -> float:
    return sum(_WIDTHS.get(ch, _OTHER) for ch in text)


@dataclass(frozen=True)
class Part:
    label: str
    value: str
    color: str


def parts_of(rec: RunRecord) -> list[Part]:
    """build time, time saved, dedup of one RunRecord."""
    failed = rec.exit_status not in (0, None)
    build = units.duration_ns(rec.duration_ns) + (f" (exit {rec.exit_status})" if failed else "")
    out = [Part("build", build, RED if failed else BLUE)]
    if rec.vfs_handled is None:
        out.append(Part("saved", "no VFS", GREY))
    elif rec.time_saved_ns is None:
        out.append(Part("saved", "no estimate", GREY))
    else:
        out.append(
            Part("saved", "~" + units.duration_ns(rec.time_saved_ns), GREEN if rec.time_saved_ns else GREY)
        )
    if rec.original_bytes:
        out.append(Part("dedup", units.percent(rec.dedup_saved_bytes, rec.original_bytes), GREEN))
    else:
        out.append(Part("dedup", "none", GREY))
    return out


def render_svg(parts: list[Part]) -> str:
    """The badge as one SVG document (no external references)."""
    boxes = []  # (x, width, text, fill)
    x = 0.0
    for p in parts:
        for text, fill in ((p.label, LABEL_COLOR), (p.value, p.color)):
            w = round(text_width(text) + 2 * PAD_PX, 1)
            boxes.append((x, w, text, fill))
            x = round(x + w, 1)
    total = x
    title = " | ".join(f"{p.label}: {p.value}" for p in parts)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total:g}" height="20" '
        f'viewBox="0 0 {total:g} 20" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        '<linearGradient id="vrift-badge-shine" x2="0" y2="100%">'
        '<stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/>'
        "</linearGradient>",
        '<clipPath id="vrift-badge-round">'
        f'<rect width="{total:g}" height="20" rx="3" fill="#fff"/></clipPath>',
        '<g clip-path="url(#vrift-badge-round)">',
    ]
    out += [f'<rect x="{bx:g}" width="{bw:g}" height="20" fill="{fill}"/>' for bx, bw, _t, fill in boxes]
    out += [f'<rect width="{total:g}" height="20" fill="url(#vrift-badge-shine)"/>', "</g>"]
    out.append(f'<g fill="#fff" text-anchor="middle" font-family="{FONT}" font-size="{FONT_PX}">')
    for bx, bw, text, _fill in boxes:
        cx = round(bx + bw / 2, 1)
        length = round(bw - 2 * PAD_PX, 1)
        common = f'x="{cx:g}" textLength="{length:g}" lengthAdjust="spacingAndGlyphs"'
        out.append(
            f'<text {common} y="15" fill="#010101" fill-opacity=".3" aria-hidden="true">{escape(text)}</text>'
        )
        out.append(f'<text {common} y="14">{escape(text)}</text>')
    out += ["</g>", "</svg>"]
    return "\n".join(out) + "\n"


def badge(args: argparse.Namespace) -> int:
    from vrift_profile import SessionError, UsageError, write_output

    if args.source == "history":
        from .history import history_path, runs

        path = history_path()
        if path is None:
            raise SessionError("history is turned off (VRIFT_HISTORY=off); use --from SESSION")
        latest = runs(path, command=args.command, last=1, timeout=5.0)
        if not latest:
            which = f" of {args.command}" if args.command else ""
            raise SessionError(f"no runs{which} recorded in {path} (or use --from SESSION)")
        rec = latest[0]
    else:
        if args.command:
            raise UsageError("--command applies to --from history only")
        from vrift_profile import load

        from .run_record import record_of

        rec = record_of(load(args.source), source="stop")
    write_output(render_svg(parts_of(rec)).encode(), args.output)
    if args.output:
        print(f"vrift: badge written: {args.output}")
    return 0
