"""Exact counts: a program that makes N calls yields exactly N."""

from __future__ import annotations

import subprocess
from pathlib import Path

from helpers import profiled_env
from vrift_profile import create_session, read_profile


def test_stat_10000_and_lstat_500_enoent_exact(cbin: Path, shim_lib: Path, tmp_path: Path, rundir):
    session = create_session(tmp_path / "p.vrift", exact_timing=True)
    out = subprocess.run(
        [cbin / "stat_loop", "/etc/hostname", "10000", str(tmp_path / "missing"), "500"],
        env=profiled_env(shim_lib, session),
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == "10000 500\n"
    snap = read_profile(session)
    cmd = snap.command("stat_loop")
    assert cmd is not None and cmd.processes == 1
    assert cmd.ops["stat"].calls == 10_000
    assert cmd.ops["stat"].errors == 0
    assert cmd.ops["lstat"].calls == 500
    assert cmd.ops["lstat"].errors == 500
    assert cmd.ops["lstat"].enoent == 500
    assert cmd.ops["lstat"].eacces == 0
    # --exact-timing: every call timed, the histogram holds exactly the calls
    assert cmd.ops["stat"].timed_calls == 10_000
    assert cmd.ops["stat"].latency_ns > 0
    assert snap.session.sample_period == 1 and snap.session.sampled_ops == ()


def test_default_session_counts_every_call_and_times_a_uniform_sample(
    cbin: Path, shim_lib: Path, tmp_path: Path, rundir
):
    session = tmp_path / "p.vrift"  # created by the shim: the default layout
    subprocess.run(
        [cbin / "stat_loop", "/etc/hostname", "40000", str(tmp_path / "missing"), "0"],
        env=profiled_env(shim_lib, session),
        check=True,
        capture_output=True,
    )
    snap = read_profile(session)
    stat = snap.command("stat_loop").ops["stat"]
    assert stat.calls == 40_000  # counts stay exact
    assert snap.session.sample_period == 16 and "stat" in snap.session.sampled_ops
    # the first 64 calls timed, then each with probability 1/16: 64 + 2,496 expected, sd 48;
    # 6 sd either side. Each sampled call weighs 16: the histogram estimates all 40,000 calls.
    assert 2_272 <= stat.timed_calls <= 2_852, stat.timed_calls
    assert sum(stat.histogram) == 64 + 16 * (stat.timed_calls - 64)
    assert stat.est_total_ns == stat.latency_ns and stat.estimated
    # opens are not sampled: every one is timed
    assert "open" not in snap.session.sampled_ops


def test_fork_threads_exec_totals_exact(cbin: Path, shim_lib: Path, tmp_path: Path, rundir):
    session = tmp_path / "p.vrift"
    subprocess.run(
        [cbin / "fork_threads", "/etc/hostname", "4", "2", "5000", cbin / "stat_loop"],
        env=profiled_env(shim_lib, session),
        check=True,
        timeout=60,
    )
    snap = read_profile(session)
    # 4 children x 2 threads x 5000, plus the exec'd grandchild's 5000
    assert snap.ops["stat"].calls == 4 * 2 * 5000 + 5000
    forked = snap.command("fork_threads")
    assert forked is not None and forked.ops["stat"].calls == 40_000
    # the 4 children, and the process that exec'd stat_loop: its exec is counted
    assert forked.processes == 5 and forked.ops["exec"].calls == 1 and snap.ops["exec"].errors == 0
    grand = snap.command("stat_loop")
    assert grand is not None and grand.ops["stat"].calls == 5000 and grand.processes == 1
    assert snap.session.slots_overflowed == 0
    # each child's second thread counted in a row of its own (no locked adds)
    assert snap.session.slots_used == 4 * 2 + 1 + 1


def test_stopped_session_counts_nothing(cbin: Path, shim_lib: Path, tmp_path: Path, rundir):
    from vrift_profile import create_session

    session = create_session(tmp_path / "p.vrift", enabled=False)
    subprocess.run(
        [cbin / "stat_loop", "/etc/hostname", "100", "/nonexistent", "1"],
        env=profiled_env(shim_lib, session),
        check=True,
        capture_output=True,
    )
    assert read_profile(session).total_calls == 0


def test_slot_overflow_keeps_totals_exact(cbin: Path, shim_lib: Path, tmp_path: Path, rundir):
    from vrift_profile import create_session

    session = create_session(tmp_path / "p.vrift", slot_count=3)  # overflow + 2 slots
    for _ in range(5):
        subprocess.run(
            [cbin / "stat_loop", "/etc/hostname", "7", "/nonexistent", "0"],
            env=profiled_env(shim_lib, session),
            check=True,
            capture_output=True,
        )
    snap = read_profile(session)
    assert snap.ops["stat"].calls == 35
    assert snap.session.slots_overflowed == 3
    assert snap.command("(overflow)").processes == 3
    assert snap.command("stat_loop").processes == 2
