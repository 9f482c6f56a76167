"""The exporter contract: what a vrift exporter plugin implements.

A plugin is a module registered under the entry-point group
``vrift.exporters`` (the entry point's name is the plugin's name). It
implements ``vrift_exporters`` with ``@hookimpl`` and returns Exporter
objects. Keep the module light: import heavy libraries inside
``Exporter.export`` so that discovering every installed format (for
``--list-formats``, or to run another one) stays fast. See
docs/exporters.md for a worked example.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .exporting import Exporter

PROJECT_NAME = "vrift"
ENTRY_POINT_GROUP = "vrift.exporters"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def vrift_exporters() -> list[Exporter]:
    """Return the exporters (output formats) this plugin provides."""
    raise NotImplementedError
