"""vrift_profile: read and write vrift profile sessions.

    from vrift_profile import read_profile
    snap = read_profile("/tmp/vrift-1000/profile-...vrift")
    snap.ops["stat"].calls, snap.command("cc1").processes

The format is defined by the shim's C header (vrift_shim.header_path());
see docs/format.md.
"""

from .errors import ProfileError, ProfileFormatError, SessionError
from .exporting import Exporter, ExporterRegistry, ExportError, write_output
from .hookspecs import hookimpl
from .loading import load, load_json
from .paths import current_session, resolve_session, run_dir, set_current
from .reader import read_header, read_profile
from .snapshot import CommandStats, OpStats, SessionInfo, Snapshot
from .writer import create_session, reset, set_enabled

__all__ = [
    "ExportError",
    "Exporter",
    "ExporterRegistry",
    "hookimpl",
    "load",
    "load_json",
    "write_output",
    "CommandStats",
    "OpStats",
    "ProfileError",
    "ProfileFormatError",
    "SessionError",
    "SessionInfo",
    "Snapshot",
    "create_session",
    "current_session",
    "read_header",
    "read_profile",
    "reset",
    "resolve_session",
    "run_dir",
    "set_current",
    "set_enabled",
]
