"""Stress: threads, fork storms in threaded programs, exec chains, posix_spawn
and vfork, signal handlers that do file I/O, programs that close every fd,
odd paths. No crash, no deadlock (every run has a timeout), exact totals."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from helpers import profiled_env
from vrift_profile import create_session, read_profile

HOST = "/etc/hostname"


def run(cbin: Path, lib: Path, session: Path, *args: str, timeout: float = 120) -> str:
    r = subprocess.run(
        [cbin / "stress", *args],
        env=profiled_env(lib, session),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return r.stdout


def test_a_million_calls_from_8_threads(cbin, shim_lib, tmp_path, rundir):
    s = tmp_path / "p.vrift"
    assert run(cbin, shim_lib, s, "threads", "125000", "8", HOST) == "1000000\n"
    assert read_profile(s).ops["stat"].calls == 1_000_000


def test_fork_storm_while_threads_count(cbin, shim_lib, tmp_path, rundir):
    s = tmp_path / "p.vrift"
    threads, children = run(cbin, shim_lib, s, "forkstorm", "200", "4", HOST).split()
    snap = read_profile(s)
    assert snap.ops["stat"].calls == int(threads) + int(children)
    assert snap.command("stress").processes == 201


def test_exec_chain_of_100(cbin, shim_lib, tmp_path, rundir):
    s = tmp_path / "p.vrift"
    run(cbin, shim_lib, s, "chain", "100", HOST)
    snap = read_profile(s)
    assert snap.ops["stat"].calls == 101
    assert snap.command("stress").processes == 101


def test_posix_spawn_and_vfork_children(cbin, shim_lib, tmp_path, rundir):
    for mode in ("spawn", "vfork"):
        s = tmp_path / f"{mode}.vrift"
        assert run(cbin, shim_lib, s, mode, "50", HOST) == "50\n"
        snap = read_profile(s)
        assert snap.ops["stat"].calls == 50, mode
        assert snap.command("stress").processes == 51, mode  # 50 children and the parent (readlink)


def test_signal_handlers_doing_file_io(cbin, shim_lib, tmp_path, rundir):
    s = tmp_path / "p.vrift"
    runs, main_stats = map(int, run(cbin, shim_lib, s, "signals", "1500", HOST).split())
    assert runs > 100
    ops = read_profile(s).ops
    assert ops["open"].calls == runs and ops["fstat"].calls == runs
    assert ops["stat"].calls == main_stats


def test_programs_that_close_every_fd(cbin, shim_lib, tmp_path, rundir):
    plain = subprocess.run([cbin / "stress", "closefds", HOST], capture_output=True, text=True, timeout=30)
    shimmed = run(cbin, shim_lib, tmp_path / "p.vrift", "closefds", HOST)
    assert shimmed == plain.stdout == "3 4 5\n"


def test_long_and_non_utf8_paths(cbin, shim_lib, tmp_path, rundir):
    odd = os.fsencode(tmp_path) + b"/caf\xe9-\xff.txt"
    with open(odd, "wb") as f:
        f.write(b"x")
    deep = tmp_path
    for i in range(30):
        deep = deep / ("d" * 100 + str(i))
    os.makedirs(deep)
    (deep / "f").write_text("y")
    s = create_session(tmp_path / "p.vrift", hot_paths=True)
    env = profiled_env(shim_lib, s)
    code = (
        "import os, sys\n"
        f"print(os.stat({odd!r}).st_size, os.stat({str(deep / 'f')!r}).st_size)\n"
        "try: os.stat('x' * 5000)\n"
        "except OSError as e: print(e.errno)\n"
    )
    plain = subprocess.run(["python3", "-c", code], capture_output=True, text=True, timeout=30)
    shimmed = subprocess.run(["python3", "-c", code], env=env, capture_output=True, text=True, timeout=30)
    assert shimmed.stdout == plain.stdout == "1 1\n36\n"
    paths = {h.path for h in read_profile(s).hot.paths}
    assert os.fsdecode(odd) in paths  # non-UTF-8 bytes survive (surrogateescape)


def test_sigkill_mid_run_leaves_a_readable_consistent_profile(cbin, shim_lib, tmp_path, rundir):
    s = create_session(tmp_path / "p.vrift", exact_timing=True)  # timed == calls, but for the kill
    procs = [subprocess.Popen([cbin / "stat_forever", HOST], env=profiled_env(shim_lib, s)) for _ in range(3)]
    time.sleep(0.5)
    for p in procs:
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)
    snap = read_profile(s)
    st = snap.ops["stat"]
    assert st.calls > 0 and snap.command("stat_forever").processes == 3
    assert abs(st.timed_calls - st.calls) <= 3  # at most one update in flight per killed process


def test_deleted_profile_file_does_not_disturb_running_programs(cbin, shim_lib, tmp_path, rundir):
    s = create_session(tmp_path / "p.vrift")
    p = subprocess.Popen([cbin / "stat_forever", HOST], env=profiled_env(shim_lib, s))
    time.sleep(0.2)
    s.unlink()
    time.sleep(0.2)
    assert p.poll() is None  # still running happily on its mapping
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=10) == -signal.SIGTERM


def test_full_disk_at_creation(cbin, shim_lib, tmp_path, rundir):
    small = tmp_path / "small"
    small.mkdir()
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], capture_output=True
        ).returncode
        != 0
    ):
        import pytest

        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        target = small / "p.vrift"
        r = subprocess.run(
            [cbin / "stat_loop", HOST, "10", "/x", "0"],
            env=profiled_env(shim_lib, target),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert (r.returncode, r.stdout, r.stderr) == (0, "10 0\n", "")
        assert not target.exists()  # nothing half-made left behind
        from helpers import vrift

        r = vrift("profile", "start", "--path", str(target), check=False)
        assert r.returncode == 2 and "cannot reserve" in r.stderr and len(r.stderr.splitlines()) == 1
        assert not target.exists()
    finally:
        subprocess.run(["umount", str(small)], capture_output=True)


def test_full_disk_when_more_slots_are_needed(cbin, shim_lib, tmp_path, rundir):
    """A new file reserves its first chunk of slots; processes beyond it
    reserve the next chunks as they claim them. On a full disk they count
    in the overflow slot instead: no SIGBUS, every call still counted."""
    small = tmp_path / "small"
    small.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(small)]
    if subprocess.run(mount, capture_output=True).returncode:
        import pytest

        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        s = create_session(small / "p.vrift")
        used = os.stat(s).st_blocks * 512
        assert used < 3 * 1024 * 1024 < os.stat(s).st_size  # laid out in full, reserved in part
        runs = 200
        for _ in range(runs):
            cmd = [cbin / "stat_loop", HOST, "1", "/x", "0"]
            r = subprocess.run(cmd, env=profiled_env(shim_lib, s), capture_output=True, text=True, timeout=30)
            assert (r.returncode, r.stdout) == (0, "1 0\n")
        snap = read_profile(s)
        assert snap.ops["stat"].calls == runs  # exact, the overflow slot included
        assert snap.session.slots_overflowed > 0  # the disk refused later chunks
        assert snap.command("stat_loop").processes + snap.session.slots_overflowed == runs
    finally:
        subprocess.run(["umount", str(small)], capture_output=True)
