"""VRIFT_PROFILE means the same to the shim (C) and to vrift (Python).

The shim reads the variable in its constructor (csrc/session.c, env_flag);
`vrift run` reads it with vrift_profile.envflag.profile_flag. For each value
of the table the real shim runs a program, and whether it counted must be
what profile_flag predicts, with VRIFT_PROFILE_PATH set (only an explicit
"off" stops counting) and without it (only an explicit "on" counts, into the
current session).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from vrift_profile import create_session, read_profile, set_current
from vrift_profile.envflag import profile_flag

VALUES = {
    "1": True,
    "0": False,
    "off": False,
    "Off": False,
    "OFF": False,
    "oFf": False,
    "false": False,
    "False": False,
    "FALSE": False,
    "no": False,
    "No": False,
    "NO": False,
    "yes": True,
    "true": True,
    "on": True,
    "2": True,
    "00": True,
    " 0": True,
    "0 ": True,
    "off ": True,
    "offf": True,
    "of": True,
    "n": True,
    "-1": True,
    "öff": True,
    "": None,
}


def test_the_python_table():
    assert {v: profile_flag(v) for v in VALUES} == VALUES
    assert profile_flag(None) is None


def _counted(cbin: Path, shim_lib: Path, value: str, named: Path | None, into: Path) -> bool:
    """Run a program that makes 5 stats under the shim; did they land in `into`?"""
    env = {
        "PATH": os.environ["PATH"],
        "XDG_RUNTIME_DIR": os.environ["XDG_RUNTIME_DIR"],  # where the current session is found
        "LD_PRELOAD": str(shim_lib),
        "VRIFT_PROFILE": value,
    }
    if named is not None:
        env["VRIFT_PROFILE_PATH"] = str(named)
    r = subprocess.run(
        [cbin / "stat_loop", "/etc/hostname", "5", "/x", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (r.returncode, r.stdout) == (0, "5 0\n"), r
    return read_profile(into).ops["stat"].calls == 5


@pytest.mark.parametrize("value", list(VALUES), ids=[repr(v) for v in VALUES])
def test_the_shim_agrees(value: str, cbin: Path, shim_lib: Path, tmp_path: Path, rundir: Path):
    flag = profile_flag(value)
    named = create_session(tmp_path / "named.vrift")
    assert _counted(cbin, shim_lib, value, named, into=named) is (flag is not False)
    current = create_session(tmp_path / "current.vrift")
    set_current(current)
    assert _counted(cbin, shim_lib, value, None, into=current) is (flag is True)
