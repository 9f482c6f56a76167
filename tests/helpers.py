"""Helpers the tests import: run the CLI, build a profiled environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def vrift(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess[str]:
    """Run the vrift CLI as a user would."""
    proc = subprocess.run([sys.executable, "-m", "vrift_cli", *args], capture_output=True, text=True, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"vrift {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def profiled_env(lib: Path, session: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env["LD_PRELOAD"] = str(lib)
    env["VRIFT_PROFILE"] = "1"
    env["VRIFT_PROFILE_PATH"] = str(session)
    return env
