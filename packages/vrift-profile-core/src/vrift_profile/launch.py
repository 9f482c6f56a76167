"""Running programs under the shim, from Python or the CLI."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import vrift_shim

from .paths import ENV_ENABLE, ENV_PATH


def shim_environment(session: Path | None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child that runs under the shim, counting into
    `session` when given. The shim is put first in LD_PRELOAD (once)."""
    env = dict(os.environ if base is None else base)
    lib = str(vrift_shim.library_path())
    others = [p for p in env.get("LD_PRELOAD", "").replace(" ", ":").split(":") if p and p != lib]
    env["LD_PRELOAD"] = ":".join([lib, *others])
    if session is not None:
        env[ENV_ENABLE] = "1"
        env[ENV_PATH] = str(session)
    return env
