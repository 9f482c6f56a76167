"""Builds of today's shim with named source edits, for benchmarks that
measure a piece by taking it out (attach_breakdown.py) or by putting a
measuring probe in (sampling_same_run.py). A variant is never shipped: it
is built into a temp dir with build_shim.py's own flags."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "packages" / "vrift-shim"))

import build_shim  # noqa: E402

# (file in csrc/, text it must hold exactly once, what replaces it)
Edit = tuple[str, str, str]


def build_variant(name: str, edits: list[Edit], tmp: Path) -> Path:
    """csrc/ copied to tmp/src<name> with `edits` applied, built as
    tmp/libvrift_shim<name>.so. Exits with one line if an edit no longer
    matches the sources (the benchmark needs updating, not a guess)."""
    src = tmp / f"src{name}"
    shutil.copytree(build_shim.CSRC, src)
    for file, old, new in edits:
        p = src / file
        text = p.read_text()
        if text.count(old) != 1:
            what = old.strip()[:60]
            raise SystemExit(f"{name}: {file} no longer holds {what!r} once: update the benchmark")
        p.write_text(text.replace(old, new))
    saved = build_shim.CSRC
    build_shim.CSRC = src
    try:
        return build_shim.build(tmp / f"libvrift_shim{name}.so")
    finally:
        build_shim.CSRC = saved
