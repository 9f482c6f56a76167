"""Hatch build hook: compile libvrift_shim.so before the wheel is assembled."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class ShimBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        sys.path.insert(0, str(Path(self.root)))
        try:
            import build_shim
        finally:
            sys.path.pop(0)
        build_shim.build()
        # A native library inside: the wheel is platform specific.
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
