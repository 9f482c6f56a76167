"""Shared fixtures: the built shim, compiled C test programs, an isolated
per-test run directory, and helpers to run things with and without vrift."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import vrift_shim

HERE = Path(__file__).resolve().parent
CPROGS = HERE / "cprogs"


@pytest.fixture(scope="session")
def shim_lib() -> Path:
    return vrift_shim.library_path()


@pytest.fixture(scope="session")
def cbin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/cprogs/*.c compiled once per test session; returns the bin dir."""
    out = tmp_path_factory.mktemp("cbin")
    for src in sorted(CPROGS.glob("*.c")):
        subprocess.run(["cc", "-O2", "-pthread", "-o", str(out / src.stem), str(src)], check=True)
    return out


@pytest.fixture(autouse=True)
def history_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test records into its own history database, never the user's."""
    db = tmp_path / "state" / "history.sqlite3"
    monkeypatch.setenv("VRIFT_HISTORY", str(db))
    return db


@pytest.fixture
def rundir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Isolate sessions: vrift and the shim look under $XDG_RUNTIME_DIR/vrift."""
    xdg = tmp_path / "xdg"
    xdg.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(xdg))
    for var in ("VRIFT_PROFILE", "VRIFT_PROFILE_PATH", "LD_PRELOAD"):
        monkeypatch.delenv(var, raising=False)
    return xdg / "vrift"


@pytest.fixture
def sample_session(cbin: Path, shim_lib: Path, tmp_path: Path, rundir) -> Path:
    """A real, stopped session: two commands, successes, ENOENT failures, readdir."""
    import os

    from helpers import profiled_env
    from vrift_profile import create_session, set_enabled

    session = create_session(tmp_path / "sample.vrift", hot_paths=True)
    env = profiled_env(shim_lib, session)
    subprocess.run(
        [cbin / "stat_loop", "/etc/hostname", "300", "/nonexistent-vrift", "40"],
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(["ls", "-la", "/etc"], env=env, check=True, capture_output=True)
    set_enabled(session, False)
    assert os.path.getsize(session) > 0
    return session
