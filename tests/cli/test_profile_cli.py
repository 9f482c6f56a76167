"""`vrift run` and `vrift profile ...` as a user drives them."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

from helpers import vrift


def _calls(path_or_none=None) -> dict:
    args = ["profile", "export", "--format", "json"]
    if path_or_none:
        args += ["--path", str(path_or_none)]
    return json.loads(vrift(*args).stdout)


def test_start_run_show_stop_reset(cbin: Path, rundir: Path, tmp_path):
    out = vrift("profile", "start").stdout
    path = Path(re.search(r"session started: (\S+)", out).group(1))
    assert path.parent == rundir
    assert stat.S_IMODE(os.stat(rundir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    r = vrift("run", "--", str(cbin / "stat_loop"), "/etc/hostname", "1234", "/nonexistent", "56")
    assert r.stdout == "1234 56\n"
    data = _calls()
    assert data["syscalls"]["stat"]["calls"] == 1234
    assert data["syscalls"]["lstat"]["errors"] == 56
    assert data["errors"]["enoent"] == 56
    assert data["session"]["state"] == "running"
    assert [p["command"] for p in data["processes"]] == ["stat_loop"]

    show = vrift("profile", "show").stdout
    assert "vrift profile" in show and "(running)" in show
    rows = {}
    for ln in show.splitlines():
        cells = ln.split()
        if len(cells) > 3 and cells[1] in ("├─", "└─"):
            rows.setdefault(cells[2].rstrip("*"), cells[3:-1])  # "*": timed on a sample
    assert rows["stat"][0] == "1,234" and len(rows["stat"]) == 5  # calls time p50 p99 max, no errors
    assert rows["lstat"][0] == "56" and rows["lstat"][-1] == "56"  # ... and 56 errors
    assert "stat*" in show and "times estimated: 1 in 16 timed" in show
    assert "ENOENT:         56" in show

    # stop: processes started now count nothing; start resumes the same session
    assert "stopped" in vrift("profile", "stop").stdout
    vrift("run", "--", str(cbin / "stat_loop"), "/etc/hostname", "100", "/nonexistent", "0")
    assert _calls()["syscalls"]["stat"]["calls"] == 1234
    assert "(stopped)" in vrift("profile", "show").stdout
    assert "resumed" in vrift("profile", "start", "--resume").stdout
    vrift("run", "--", str(cbin / "stat_loop"), "/etc/hostname", "10", "/nonexistent", "0")
    assert _calls()["syscalls"]["stat"]["calls"] == 1244
    assert "already running" in vrift("profile", "start").stdout  # a running session is not replaced

    # reset: zero, then counting goes on from zero
    vrift("profile", "reset")
    assert _calls()["syscalls"]["stat"]["calls"] == 0
    vrift("run", "--", str(cbin / "stat_loop"), "/etc/hostname", "5", "/nonexistent", "0")
    assert _calls()["syscalls"]["stat"]["calls"] == 5


def test_env_path_selects_the_session(cbin: Path, rundir: Path, tmp_path: Path):
    target = tmp_path / "mine.vrift"
    env = dict(os.environ, VRIFT_PROFILE_PATH=str(target))
    vrift("run", "--", str(cbin / "stat_loop"), "/etc/hostname", "3", "/x", "0", env=env)
    assert target.exists()
    data = json.loads(vrift("profile", "export", env=env).stdout)
    assert data["syscalls"]["stat"]["calls"] == 3


def test_run_exit_status_and_signals(rundir: Path):
    vrift("profile", "start")
    assert vrift("run", "--", "sh", "-c", "exit 7", check=False).returncode == 7
    assert vrift("run", "--", "sh", "-c", "kill -TERM $$", check=False).returncode == -15


def test_profile_run_prints_summary_and_keeps_status(cbin: Path, rundir: Path):
    r = vrift(
        "profile",
        "run",
        "--",
        "sh",
        "-c",
        f"{cbin / 'stat_loop'} /etc/hostname 42 /nonexistent 0; exit 3",
        check=False,
    )
    assert r.returncode == 3
    assert r.stdout == "42 0\n"
    assert re.search(r"vrift: [\d,]+ file-system calls in \d+ processes", r.stderr)
    path = re.search(r"vrift: profile (\S+)", r.stderr).group(1)
    data = _calls(path)
    assert data["syscalls"]["stat"]["calls"] >= 42
    assert data["session"]["state"] == "stopped"


def test_user_errors_are_one_line(rundir: Path, tmp_path: Path):
    def one_line_error(*args, code=None):
        r = vrift(*args, check=False)
        assert r.returncode != 0, args
        if code is not None:
            assert r.returncode == code
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("vrift: "), r.stderr
        assert "Traceback" not in r.stderr
        return lines[0]

    assert "no profile session" in one_line_error("profile", "show")
    assert "no profile session" in one_line_error("profile", "stop")
    assert "command not found" in one_line_error("run", "--", "no-such-command-vrift", code=127)
    assert "no command" in one_line_error("run")
    bad = tmp_path / "bad.vrift"
    bad.write_bytes(b"hello world, not a profile at all")
    assert "bad magic" in one_line_error("profile", "show", "--path", str(bad))
    assert "bad magic" in one_line_error("run", "--profile", str(bad), "--", "true")
    assert "unknown export format" in one_line_error("profile", "export", "--format", "xml")
    assert one_line_error("profile", "frobnicate")
    assert "between 2 and" in one_line_error("profile", "start", "--slots", "1")
    os.chmod(tmp_path, 0o777)
    try:
        assert "world-writable" in one_line_error("profile", "start", "--path", str(tmp_path / "x.vrift"))
    finally:
        os.chmod(tmp_path, 0o700)


def test_stop_and_start_reach_running_processes(cbin: Path, rundir: Path, tmp_path: Path):
    import subprocess
    import time

    from helpers import profiled_env
    from vrift_profile import create_session, read_profile, set_enabled
    from vrift_shim import library_path

    session = create_session(tmp_path / "live.vrift")
    proc = subprocess.Popen(
        [cbin / "stat_forever", "/etc/hostname"], env=profiled_env(library_path(), session)
    )
    try:

        def calls() -> int:
            return read_profile(session).ops["stat"].calls

        deadline = time.monotonic() + 10
        while calls() < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert calls() >= 20
        set_enabled(session, False)
        time.sleep(0.05)
        c1 = calls()
        time.sleep(0.3)
        assert calls() - c1 <= 1  # at most a call already in flight when we stopped
        set_enabled(session, True)
        deadline = time.monotonic() + 10
        while calls() < c1 + 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert calls() >= c1 + 20
        # reset while it runs: it renews its own slot and counts on from zero
        from vrift_profile import reset

        before = calls()
        t0 = time.monotonic()
        reset(session)
        n = calls()
        # zero at the reset, then at most one call per millisecond since (stat_forever's pace)
        assert n <= 2 + int((time.monotonic() - t0) * 1000), n
        deadline = time.monotonic() + 10
        while calls() < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        after = read_profile(session)
        assert 20 <= after.ops["stat"].calls < before
        assert after.command("stat_forever").processes == 1
    finally:
        proc.kill()
        proc.wait()


def test_vrift_profile_1_uses_the_current_session(cbin: Path, rundir: Path):
    """`VRIFT_PROFILE=1 cmd` with the shim preloaded counts into the session
    `vrift profile start` made current, with no path given."""
    import subprocess

    from vrift_shim import library_path

    vrift("profile", "start")
    env = dict(os.environ, VRIFT_PROFILE="1", LD_PRELOAD=str(library_path()))
    subprocess.run(
        [cbin / "stat_loop", "/etc/hostname", "77", "/x", "0"], env=env, check=True, capture_output=True
    )
    assert _calls()["syscalls"]["stat"]["calls"] == 77
    # VRIFT_PROFILE=0 switches it off even with a session around
    env["VRIFT_PROFILE"] = "0"
    subprocess.run(
        [cbin / "stat_loop", "/etc/hostname", "5", "/x", "0"], env=env, check=True, capture_output=True
    )
    assert _calls()["syscalls"]["stat"]["calls"] == 77


def test_cold_cache_keeps_stdout_clean(cbin: Path, rundir: Path, tmp_path: Path):
    """The first run emits the parsed-header cache; nothing of it may reach stdout."""
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "fresh-cache"))
    vrift("profile", "start", env=env)
    out = vrift("profile", "export", env=env).stdout
    assert json.loads(out)["format_version"] == 1
    assert list((tmp_path / "fresh-cache" / "vrift").glob("_vrift_ffi_*.py"))
