"""Plain-text tables and tree branches: the primitives every text view uses
(`show`, `--watch`, `diff`, `history`, `vrift ls`).

They live here, not in one of the views, so that no view imports another's
private helpers.
"""

from __future__ import annotations


def table(rows: list[list[str]], align: str = "", gap: int = 2) -> list[str]:
    """Rows of cells as aligned lines: column i is left-aligned where
    align[i] is "<" (or missing), right-aligned where it is ">". Trailing
    blanks are dropped, so a short last column does not pad the line."""
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    align = align.ljust(len(widths), "<")
    sep = " " * gap
    out = []
    for r in rows:
        cells = [c.rjust(w) if a == ">" else c.ljust(w) for c, w, a in zip(r, widths, align, strict=True)]
        out.append(sep.join(cells).rstrip())
    return out


def tree(lines: list[str]) -> list[str]:
    """Lines as the branches of one tree: "├─ " before each, "└─ " before the last."""
    return [("└─ " if i == len(lines) - 1 else "├─ ") + line for i, line in enumerate(lines)]
