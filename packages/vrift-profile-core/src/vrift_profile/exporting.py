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
from .errors import ExportError
from .snapshot import Snapshot

DISABLE_AUTOLOAD_ENV = "VRIFT_DISABLE_PLUGIN_AUTOLOAD"


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
    """All exporters installed (plus any registered by hand).

    Exporters are asked for through pluggy (`pm.hook.vrift_exporters()`),
    so only functions marked `@hookimpl` count and pluggy checks their
    signature against the hookspec when the plugin registers. What pluggy
    does not give is isolation: one raising hookimpl ends the whole call.
    So when the joint call fails, each plugin is asked alone, and only the
    one that raises is marked broken.
    """

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
        """Register a plugin module (or object). Raises ExportError when
        pluggy finds a hookimpl whose signature the hookspec does not allow,
        or when the plugin implements no vrift hook at all (a missing
        `@hookimpl` is the usual cause)."""
        name = name or str(getattr(plugin, "__name__", repr(plugin)))
        try:
            self.pm.register(plugin, name=name)
        except pluggy.PluginValidationError as e:  # pluggy's words, on one line
            raise ExportError("; ".join(str(e).splitlines()[1:]) or str(e)) from None
        callers = self.pm.get_hookcallers(plugin) or []
        unknown = sorted(c.name for c in callers if c.spec is None)
        if unknown or not callers:
            self.pm.unregister(plugin)
            if unknown:
                raise ExportError(
                    f"hookimpl {', '.join(unknown)} is not a vrift hook (known: vrift_exporters)"
                )
            raise ExportError("no @hookimpl vrift_exporters (is the decorator missing?)")
        self._packages[name] = package or str(getattr(plugin, "__name__", name)).split(".")[0]

    def _ask_each(self) -> list[tuple[str, list[Exporter] | BaseException]]:
        """Every plugin's answer, or the exception it raised, in pluggy's call order."""
        impls = self.pm.hook.vrift_exporters.get_hookimpls()[::-1]  # pluggy calls the last registered first
        try:
            answers = self.pm.hook.vrift_exporters()
        except Exception:
            answers = None
        if answers is not None and len(answers) == len(impls):
            return [(impl.plugin_name, answer) for impl, answer in zip(impls, answers, strict=True)]
        out: list[tuple[str, list[Exporter] | BaseException]] = []
        for impl in impls:
            others = [i.plugin for i in impls if i is not impl]
            try:
                alone = self.pm.subset_hook_caller("vrift_exporters", remove_plugins=others)()
                out.append((impl.plugin_name, alone[0] if alone else TypeError("returned None")))
            except Exception as e:
                out.append((impl.plugin_name, e))
        return out

    def _exporters(self) -> tuple[dict[str, tuple[Exporter, str]], dict[str, FormatInfo]]:
        found: dict[str, tuple[Exporter, str]] = {}
        broken = dict(self._broken)
        for plugin_name, answer in self._ask_each():
            package = self._packages.get(plugin_name, plugin_name)
            if isinstance(answer, BaseException):
                broken[plugin_name] = FormatInfo(
                    plugin_name, "", package, f"{type(answer).__name__}: {answer}"
                )
                continue
            try:
                exporters = list(answer)
            except TypeError as e:
                broken[plugin_name] = FormatInfo(plugin_name, "", package, f"TypeError: {e}")
                continue
            for exp in exporters:
                if not (isinstance(getattr(exp, "name", None), str) and exp.name and hasattr(exp, "export")):
                    broken[plugin_name] = FormatInfo(
                        plugin_name, "", package, f"returned {exp!r}, not a named vrift Exporter"
                    )
                    continue
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
