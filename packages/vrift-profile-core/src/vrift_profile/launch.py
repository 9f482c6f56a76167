"""Running programs under the shim, from Python or the CLI."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import vrift_shim

from .paths import ENV_ENABLE, ENV_PATH


def _first_in_list(env: dict[str, str], name: str, lib: str, separators: str) -> None:
    """Put `lib` first in the library list `name` (once), keeping the others."""
    value = env.get(name, "")
    for sep in separators[1:]:
        value = value.replace(sep, separators[0])
    others = [p for p in value.split(separators[0]) if p and p != lib]
    env[name] = ":".join([lib, *others])


def shim_environment(
    session: Path | None, base: Mapping[str, str] | None = None, *, loader: bool = False
) -> dict[str, str]:
    """The environment for a child that runs under the shim, counting into
    `session` when given. The shim is put first in LD_PRELOAD (once).
    `loader`: also audit the dynamic loader (LD_AUDIT, libvrift_audit.so):
    its search probes and its time are counted too, at a cost per exec
    (benchmarks/RESULTS.md)."""
    env = dict(os.environ if base is None else base)
    _first_in_list(env, "LD_PRELOAD", str(vrift_shim.library_path()), ": ")
    if loader:
        _first_in_list(env, "LD_AUDIT", str(vrift_shim.audit_library_path()), ":")
    if session is not None:
        env[ENV_ENABLE] = "1"
        env[ENV_PATH] = str(session)
    return env
