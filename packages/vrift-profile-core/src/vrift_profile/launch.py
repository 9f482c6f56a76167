"""Running programs under the shim, from Python or the CLI."""

from __future__ import annotations

import os
import shutil
import struct
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


def statically_linked(program: str) -> bool:
    """Whether `program` (a path, or a name found on PATH) is an ELF file
    without a PT_INTERP: the shim's own rule (exec.c) for a program that
    LD_PRELOAD cannot follow. A script, a missing file or an unreadable one:
    False."""
    found = program if "/" in program else shutil.which(program)
    if not found:
        return False
    try:
        with open(found, "rb") as f:
            ident = f.read(64)
            if len(ident) < 64 or ident[:4] != b"\x7fELF" or ident[4] not in (1, 2):
                return False
            order = "<" if ident[5] == 1 else ">"
            if ident[4] == 2:  # 64-bit: e_phoff at 32, e_phentsize and e_phnum at 54
                phoff = struct.unpack_from(order + "Q", ident, 32)[0]
                phentsize, phnum = struct.unpack_from(order + "HH", ident, 54)
            else:  # 32-bit: e_phoff at 28, e_phentsize and e_phnum at 42
                phoff = struct.unpack_from(order + "I", ident, 28)[0]
                phentsize, phnum = struct.unpack_from(order + "HH", ident, 42)
            if phentsize < 4 or not 0 < phnum <= 4096:
                return False
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    if len(table) < phentsize * phnum:
        return False
    pt_interp = 3
    return all(struct.unpack_from(order + "I", table, i * phentsize)[0] != pt_interp for i in range(phnum))


def through_a_follower(cmd: list[str]) -> list[str]:
    """The command to start for `cmd` when its program is one vrift cannot
    follow: the same command run by `env`, which the shim follows, so that
    env's exec of it is classified and given a ghost slot (format 1.6) whose
    end and status the launcher then records. `env --` with no assignment
    changes nothing the program sees. `cmd` itself otherwise."""
    env = shutil.which("env")
    if cmd and env and statically_linked(cmd[0]):
        return [env, "--", *cmd]
    return cmd


def warn_if_unseen(cmd: list[str]) -> str | None:
    """The line to print when the command itself is a program vrift cannot
    follow (its calls will not be counted); None otherwise."""
    if cmd and statically_linked(cmd[0]):
        return f"vrift: {cmd[0]} is statically linked: vrift cannot follow it (its own calls are not counted)"
    return None
