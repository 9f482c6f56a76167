"""exec and spawn: every attempt counted (each PATH probe of the execvp
family, as strace sees them), errno exactly as without the shim, and the
programs vrift cannot follow named (format 1.4)."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from helpers import have, profiled_env, vrift
from vrift_profile import read_profile


def _probe_dirs(tmp_path: Path) -> tuple[str, Path]:
    """A PATH of two missing directories, one holding a non-executable
    `vrift-target` (EACCES), and /bin."""
    noexec = tmp_path / "noexec"
    noexec.mkdir()
    (noexec / "vrift-target").write_text("#!/bin/sh\nexit 0\n")
    return f"{tmp_path}/missing1:{tmp_path}/missing2:{noexec}", noexec


@pytest.mark.parametrize("how", ["vp", "lp", "vpe"])
def test_failed_path_search_counts_each_probe(cbin: Path, shim_lib: Path, tmp_path: Path, how: str):
    path, _ = _probe_dirs(tmp_path)
    args = [cbin / "exec_probe", how, path, "vrift-target"]
    plain = subprocess.run(args, capture_output=True, text=True, timeout=30)
    session = tmp_path / "p.vrift"
    shimmed = subprocess.run(
        args, capture_output=True, text=True, env=profiled_env(shim_lib, session), timeout=30
    )
    # errno and exit status are the program's own: EACCES wins over ENOENT
    assert plain.stdout == shimmed.stdout == f"errno={13}\n"
    assert plain.returncode == shimmed.returncode == 1
    ex = read_profile(session).ops["exec"]
    assert (ex.calls, ex.errors, ex.enoent, ex.eacces) == (3, 3, 2, 1)


def test_successful_path_search_matches_strace(cbin: Path, shim_lib: Path, tmp_path: Path):
    if not have("strace"):
        pytest.skip("strace is not installed")
    path = f"{tmp_path}/missing1:{tmp_path}/missing2:/usr/bin:/bin"
    args = [str(cbin / "exec_probe"), "vp", path, "true"]
    session = tmp_path / "p.vrift"
    r = subprocess.run(args, env=profiled_env(shim_lib, session), timeout=30)
    assert r.returncode == 0
    ex = read_profile(session).ops["exec"]
    trace = tmp_path / "trace"
    subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=execve", "-o", str(trace), *args], check=True, timeout=60
    )
    calls = [line for line in trace.read_text().splitlines() if "execve(" in line]
    failed = [line for line in calls if "= -1 " in line]
    # strace also sees its own first execve of exec_probe, which vrift does not count
    assert ex.calls == len(calls) - 1 == 3
    assert ex.errors == len(failed) == 2 and ex.enoent == 2


def _static_binary(tmp_path: Path, name: str, source: str) -> Path:
    """`source` linked statically as tmp_path/name (the test skips without a static libc)."""
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    prog = tmp_path / name
    if subprocess.run(["cc", "-static", "-O2", "-o", str(prog), str(src)], capture_output=True).returncode:
        pytest.skip("no static libc to link a static test binary")
    return prog


def test_static_and_env_dropping_programs_are_named_as_not_seen(shim_lib: Path, tmp_path: Path, rundir):
    static = _static_binary(
        tmp_path, "static_hello", '#include <stdio.h>\nint main(void) { puts("static hello"); return 0; }\n'
    )
    session = tmp_path / "p.vrift"
    script = f"{static}; env -i /bin/true; ls / >/dev/null"
    r = subprocess.run(
        ["sh", "-c", script], env=profiled_env(shim_lib, session), capture_output=True, text=True, timeout=30
    )
    assert r.returncode == 0 and r.stdout == "static hello\n"
    snap = read_profile(session)
    seen = {(u.path, u.command): (u.runs, u.reasons) for u in snap.unseen}
    assert seen == {(str(static), "sh"): (1, ("static",)), ("/bin/true", "env"): (1, ("no_preload",))}
    d = snap.to_dict()["not_seen"]
    assert d["by_reason"] == {"static": 1, "setid": 0, "no_preload": 1}
    # ls, dynamic and with the shim's environment, is followed: counted, not listed
    assert snap.command("ls") is not None
    out = vrift("profile", "show", "--path", str(session), env={**os.environ, "COLUMNS": "400"}).stdout
    assert "Not Seen" in out and str(static) in out and "static binary" in out


def test_static_binary_under_vrift_run_is_reported(shim_lib: Path, tmp_path: Path, rundir):
    """The must-show: `vrift profile run` of a build step that is a static binary."""
    prog = _static_binary(tmp_path, "static_true", "int main(void) { return 0; }\n")
    session = tmp_path / "run.vrift"
    r = vrift("profile", "run", "--path", str(session), "--", "sh", "-c", f"{prog}; true")
    assert r.returncode == 0
    out = vrift("profile", "show", "--path", str(session), env={**os.environ, "COLUMNS": "400"}).stdout
    assert re.search(rf"static binary\s+1 run\s+by sh\s+{re.escape(str(prog))}", out), out


def test_setid_program_is_not_seen(shim_lib: Path, tmp_path: Path):
    if os.geteuid() != 0:
        pytest.skip("needs root to make a set-user-ID program owned by another user")
    prog = tmp_path / "suid_true"
    shutil.copy("/bin/true", prog)
    os.chown(prog, 65534, 65534)
    prog.chmod(0o755 | stat.S_ISUID)
    if os.statvfs(tmp_path).f_flag & os.ST_NOSUID:
        pytest.skip(f"{tmp_path} is mounted nosuid")
    session = tmp_path / "p.vrift"
    subprocess.run(["sh", "-c", str(prog)], env=profiled_env(shim_lib, session), check=True, timeout=30)
    assert [(u.path, u.reasons) for u in read_profile(session).unseen] == [(str(prog), ("setid",))]


def test_posix_spawn_failure_is_counted_with_its_error(shim_lib: Path, tmp_path: Path):
    """Python's subprocess uses posix_spawn when it can (close_fds=False)."""
    session = tmp_path / "p.vrift"
    code = (
        "import subprocess\n"
        "subprocess.run(['/bin/true'], close_fds=False)\n"
        "try:\n    subprocess.run(['/nonexistent-vrift'], close_fds=False)\n"
        "except FileNotFoundError:\n    print('missing')\n"
    )
    r = subprocess.run(
        ["python3", "-c", code],
        env=profiled_env(shim_lib, session),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.stdout == "missing\n"
    ex = read_profile(session).command("python3").ops["exec"]
    assert ex.calls == 2 and ex.errors == 1 and ex.enoent == 1
