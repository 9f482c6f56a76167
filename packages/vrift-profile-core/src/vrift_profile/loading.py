"""Load a profile from either form users keep: a session file or a JSON export."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import ProfileFormatError, open_failed
from .reader import read_profile
from .snapshot import JSON_FORMAT_VERSION, Snapshot


def load(path: str | os.PathLike[str]) -> Snapshot:
    """A Snapshot from a session file or from `vrift profile export --format json` output."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            start = f.read(1)
    except OSError as e:
        raise open_failed(p, e) from None
    if start in (b"{", b" ", b"\n", b"\t", b"\r"):
        return load_json(p)
    return read_profile(p)


def load_json(path: str | os.PathLike[str]) -> Snapshot:
    p = Path(path)
    try:
        data = json.loads(p.read_bytes())
    except (OSError, ValueError) as e:
        raise ProfileFormatError(f"{p}: not a vrift JSON export ({e})") from None
    return snapshot_from_json(data, str(p))


def snapshot_from_json(data: object, where: str = "JSON") -> Snapshot:
    if not isinstance(data, dict) or "format_version" not in data:
        raise ProfileFormatError(f"{where}: not a vrift JSON export (no format_version)")
    if data["format_version"] != JSON_FORMAT_VERSION:
        raise ProfileFormatError(
            f"{where}: JSON format_version {data['format_version']!r} is not supported "
            f"(this vrift reads {JSON_FORMAT_VERSION})"
        )
    try:
        return Snapshot.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ProfileFormatError(f"{where}: malformed vrift JSON export ({type(e).__name__}: {e})") from None
