"""vrift_profile: read and write vrift profile sessions.

    from vrift_profile import read_profile
    snap = read_profile("/tmp/vrift-1000/profile-...vrift")
    snap.ops["stat"].calls, snap.command("cc1").processes

The format is defined by the shim's C header (vrift_shim.header_path());
see docs/format.md. Exporter plugins implement vrift_profile.hookspecs.

Names are imported on first use (PEP 562), so `vrift profile show`
does not pay for plugin discovery it never does.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_LAZY = {
    "ProfileError": "errors",
    "ProfileFormatError": "errors",
    "SessionError": "errors",
    "UsageError": "errors",
    "ExportError": "errors",
    "Exporter": "exporting",
    "ExporterRegistry": "exporting",
    "write_output": "exporting",
    "hookimpl": "hookspecs",
    "load": "loading",
    "load_json": "loading",
    "current_session": "paths",
    "resolve_session": "paths",
    "run_dir": "paths",
    "set_current": "paths",
    "read_header": "reader",
    "read_profile": "reader",
    "CommandStats": "snapshot",
    "OpStats": "snapshot",
    "SessionInfo": "snapshot",
    "Snapshot": "snapshot",
    "create_session": "writer",
    "reset": "writer",
    "set_enabled": "writer",
}

__all__ = [
    "CommandStats",
    "ExportError",
    "Exporter",
    "ExporterRegistry",
    "OpStats",
    "ProfileError",
    "ProfileFormatError",
    "SessionError",
    "SessionInfo",
    "Snapshot",
    "UsageError",
    "create_session",
    "current_session",
    "hookimpl",
    "load",
    "load_json",
    "read_header",
    "read_profile",
    "reset",
    "resolve_session",
    "run_dir",
    "set_current",
    "set_enabled",
    "write_output",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vrift_profile' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from .errors import ExportError, ProfileError, ProfileFormatError, SessionError, UsageError
    from .exporting import Exporter, ExporterRegistry, write_output
    from .hookspecs import hookimpl
    from .loading import load, load_json
    from .paths import current_session, resolve_session, run_dir, set_current
    from .reader import read_header, read_profile
    from .snapshot import CommandStats, OpStats, SessionInfo, Snapshot
    from .writer import create_session, reset, set_enabled
