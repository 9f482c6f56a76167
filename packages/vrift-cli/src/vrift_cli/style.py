"""Terminal colour, only where it helps: a TTY, and NO_COLOR unset (no-color.org)."""

from __future__ import annotations

import os
import sys
from typing import TextIO

_CODES = {"green": "32", "yellow": "33", "red": "31", "bold": "1", "dim": "2"}


def use_color(stream: TextIO) -> bool:
    if "NO_COLOR" in os.environ:
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def paint(text: str, color: str, enabled: bool) -> str:
    return f"\x1b[{_CODES[color]}m{text}\x1b[0m" if enabled else text


def share_color(percent: float) -> str:
    """RFC-0045's coding for the VFS-handled share: green > 70%, yellow 30-70%, red < 30%."""
    if percent > 70:
        return "green"
    if percent >= 30:
        return "yellow"
    return "red"


def stderr_color() -> bool:
    return use_color(sys.stderr)
