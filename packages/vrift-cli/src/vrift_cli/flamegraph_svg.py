"""A self-contained flame graph SVG from folded stacks (no external tools).

Icicle layout is avoided: like flamegraph.pl, the root is at the bottom
and children stack upwards; each frame's width is its total weight, and
hovering shows a title with the full stack, weight and share.
"""

from __future__ import annotations

import hashlib
from html import escape

_ROW = 18
_PAD = 24
_MIN_PX = 0.3


class _Node:
    __slots__ = ("name", "total", "children")

    def __init__(self, name: str) -> None:
        self.name = name
        self.total = 0
        self.children: dict[str, _Node] = {}


def _tree(lines: list[str]) -> _Node:
    root = _Node("all")
    for line in lines:
        stack, _, value = line.rpartition(" ")
        w = int(value)
        root.total += w
        node = root
        for frame in stack.split(";"):
            node = node.children.setdefault(frame, _Node(frame))
            node.total += w
    return root


def _depth(n: _Node) -> int:
    return 1 + max((_depth(c) for c in n.children.values()), default=0)


def _color(name: str, depth: int) -> str:
    h = int(hashlib.md5(name.encode()).hexdigest()[:4], 16)
    if depth == 1:  # commands: blue-ish, paths: warm, as in flamegraph.pl's palette
        return f"rgb({70 + h % 40},{130 + h % 60},{200 + h % 50})"
    return f"rgb({205 + h % 50},{80 + h % 120},{40 + h % 40})"


def render_svg(lines: list[str], title: str, unit: str, width: int = 1200) -> str:
    root = _tree(lines)
    depth = _depth(root)
    height = depth * _ROW + 2 * _PAD + 10
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Verdana, sans-serif" font-size="11">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fbfaf6"/>',
        f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="14">{escape(title)}</text>',
    ]
    if root.total == 0:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no data</text></svg>')
        return "\n".join(out)
    scale = (width - 2 * 10) / root.total

    def draw(node: _Node, x: float, level: int, stack: str) -> None:
        w = node.total * scale
        if w < _MIN_PX:
            return
        y = height - _PAD - level * _ROW
        full = f"{stack};{node.name}" if stack else node.name
        share = 100.0 * node.total / root.total
        label = escape(node.name if len(node.name) * 7 < w else node.name[: max(0, int(w / 7) - 2)] + "..")
        tip = escape(f"{full.replace(';', ' > ')}\n{node.total:,} {unit} ({share:.2f}%)")
        out.append(
            f'<g><title>{tip}</title><rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{_ROW - 1}" '
            f'fill="{_color(node.name, level)}" rx="2"/>'
            + (f'<text x="{x + 3:.2f}" y="{y + 12}">{label}</text>' if w > 20 else "")
            + "</g>"
        )
        cx = x
        for child in sorted(node.children.values(), key=lambda c: c.name):
            draw(child, cx, level + 1, full if level else "")
            cx += child.total * scale

    draw(root, 10.0, 0, "")
    out.append("</svg>")
    return "\n".join(out)
