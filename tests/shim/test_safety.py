"""The host program observes nothing: same results and errno, same fds,
clean stderr, whether or not the shim is loaded and counting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import profiled_env
from vrift_profile import read_profile


def test_results_and_errno_identical(cbin: Path, shim_lib: Path, tmp_path: Path, rundir):
    outs = []
    for i, env in enumerate([dict(os.environ), profiled_env(shim_lib, tmp_path / "p.vrift")]):
        scratch = tmp_path / f"s{i}"
        scratch.mkdir()
        r = subprocess.run([cbin / "errno_check", scratch], env=env, capture_output=True, text=True)
        assert r.returncode == 0 and r.stderr == ""
        outs.append(r.stdout)
    assert outs[0] == outs[1]
    assert "stat ENOENT                  ret=-1 errno=2" in outs[0]
    ops = read_profile(tmp_path / "p.vrift").command("errno_check").ops
    # stat x6 + fstatat(EBADF) without NOFOLLOW, which is a stat
    assert ops["stat"].calls == 7 and ops["stat"].errors == 6 and ops["stat"].enoent == 1
    assert ops["lstat"].calls == 2 and ops["lstat"].errors == 0
    assert ops["close"].calls == 4  # 2 close() + close EBADF + fclose
    assert ops["readdir"].errors == 0  # end of directory is not an error


def test_no_fd_kept_and_first_open_is_3(shim_lib: Path, tmp_path: Path, rundir):
    code = "import os; print(sorted(os.listdir('/proc/self/fd'))); print(os.open('/etc/hostname', 0))"
    plain = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    shim = subprocess.run(
        [sys.executable, "-c", code],
        env=profiled_env(shim_lib, tmp_path / "p.vrift"),
        capture_output=True,
        text=True,
        check=True,
    )
    assert shim.stdout == plain.stdout
    assert plain.stdout.splitlines()[1] == "3"


def test_unusable_profile_path_leaves_program_alone(cbin: Path, shim_lib: Path, tmp_path: Path, rundir):
    """Missing directory, a directory in its place, garbage, a symlink: run uncounted, quietly."""
    garbage = tmp_path / "garbage.vrift"
    garbage.write_bytes(b"\0" * 100)
    os.chmod(garbage, 0o600)
    target = tmp_path / "real.vrift"
    from vrift_profile import create_session

    create_session(target)
    link = tmp_path / "link.vrift"
    link.symlink_to(target)
    for bad in (tmp_path / "no" / "such" / "dir" / "p.vrift", tmp_path, garbage, link):
        r = subprocess.run(
            [cbin / "stat_loop", "/etc/hostname", "10", "/nonexistent", "1"],
            env=profiled_env(shim_lib, bad),
            capture_output=True,
            text=True,
        )
        assert (r.returncode, r.stdout, r.stderr) == (0, "10 1\n", ""), bad
    assert read_profile(target).total_calls == 0  # the symlink was not followed


def test_spawning_children_python_subprocess(shim_lib: Path, tmp_path: Path, rundir):
    """posix_spawn / vfork / fork+exec paths of CPython's subprocess, exec chains."""
    code = (
        "import subprocess, sys, os\n"
        "for i in range(5):\n"
        "    subprocess.run(['sh', '-c', 'cat /etc/hostname >/dev/null; exec true'], check=True)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os.execv('/bin/sh', ['sh', '-c', 'exec sh -c \"exec cat /etc/hostname\"'])\n"
        "os.waitpid(pid, 0)\n"
        "print('done')\n"
    )
    env = profiled_env(shim_lib, tmp_path / "p.vrift")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.endswith("done\n")
    snap = read_profile(tmp_path / "p.vrift")
    assert snap.command("cat").processes == 6
    assert snap.command("cat").ops["open"].calls >= 6
