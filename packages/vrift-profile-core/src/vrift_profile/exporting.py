"""Finding and running exporters: the plugin manager over the hookspecs.

Built-in formats (json, otel, prometheus) are separate packages that
register exactly like third-party ones. A plugin that fails to import
or to describe itself is recorded as broken and reported by name when
(and only when) its format is asked for; it never hides the others.
Set VRIFT_DISABLE_PLUGIN_AUTOLOAD=1 to skip entry-point discovery
(tests then register plugins explicitly).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from .errors import ProfileError
from .snapshot import Snapshot

DISABLE_AUTOLOAD_ENV = "VRIFT_DISABLE_PLUGIN_AUTOLOAD"


class ExportError(ProfileError):
    """An export could not be done (unknown or broken format, unreachable endpoint, ...)."""


class Exporter:
    """Base class for an output format. Subclasses set `name` and
    `description`, may add options, and implement `export`."""

    name: str = ""
    description: str = ""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add this format's own options (e.g. --endpoint)."""

    def export(self, snapshot: Snapshot, options: argparse.Namespace) -> None:
        """Export `snapshot`. `options.output` is the --output path or None
        (stdout); raise ExportError with a one-line message on failure."""
        raise NotImplementedError


@dataclass(frozen=True)
class FormatInfo:
    name: str
    description: str
    package: str  # distribution that provides it
    broken: str = ""  # why it cannot be used, if so


def write_output(data: bytes, output: str | os.PathLike[str] | None, *, mode: int = 0o644) -> None:
    """Write to stdout, or atomically to a file: a temp file in the same
    directory, fsync, chmod, rename. A reader (node_exporter's textfile
    collector, a CI step) never sees a partial file."""
    if output is None or str(output) == "-":
        import sys

        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    out = Path(output)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent or ".")
    except OSError as e:
        raise ExportError(f"cannot write {out}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, out)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise ExportError(f"cannot write {out}: {e.strerror}") from None


class ExporterRegistry:
    """All exporters installed (plus any registered by hand)."""

    def __init__(self, autoload: bool | None = None) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self._broken: dict[str, FormatInfo] = {}
        self._packages: dict[str, str] = {}
        if autoload is None:
            autoload = not os.environ.get(DISABLE_AUTOLOAD_ENV)
        if autoload:
            self._load_entry_points()

    def _load_entry_points(self) -> None:
        for ep in entry_points(group=hookspecs.ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist else "?"
            if self.pm.get_plugin(ep.name) is not None or ep.name in self._broken:
                continue
            try:
                plugin = ep.load()
                self.register(plugin, ep.name, dist)
            except Exception as e:  # a broken plugin must not break the others
                self._broken[ep.name] = FormatInfo(ep.name, "", dist, f"{type(e).__name__}: {e}")

    def register(self, plugin: ModuleType | Any, name: str | None = None, package: str = "") -> None:
        name = name or getattr(plugin, "__name__", repr(plugin))
        self.pm.register(plugin, name=name)
        self._packages[name] = package or getattr(plugin, "__name__", name).split(".")[0]

    def _exporters(self) -> tuple[dict[str, tuple[Exporter, str]], dict[str, FormatInfo]]:
        found: dict[str, tuple[Exporter, str]] = {}
        broken = dict(self._broken)
        for plugin_name, plugin in self.pm.list_name_plugin():
            package = self._packages.get(plugin_name, plugin_name)
            impl = getattr(plugin, "vrift_exporters", None)
            try:
                exporters = list(impl() if impl else [])
            except Exception as e:
                broken[plugin_name] = FormatInfo(plugin_name, "", package, f"{type(e).__name__}: {e}")
                continue
            for exp in exporters:
                found.setdefault(exp.name, (exp, package))
        return found, broken

    def formats(self) -> list[FormatInfo]:
        found, broken = self._exporters()
        infos = [FormatInfo(n, e.description, pkg) for n, (e, pkg) in found.items()]
        infos += [b for n, b in broken.items() if n not in found]
        return sorted(infos, key=lambda f: f.name)

    def get(self, name: str) -> Exporter:
        found, broken = self._exporters()
        if name in found:
            return found[name][0]
        if name in broken:
            b = broken[name]
            raise ExportError(f"exporter plugin '{name}' (package {b.package}) is broken: {b.broken}")
        available = ", ".join(sorted(found)) or "none installed"
        raise ExportError(f"unknown export format '{name}' (available: {available})")
