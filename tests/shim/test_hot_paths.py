"""The shared hot-path table: exact under concurrent writers, honest when full."""

from __future__ import annotations

import os
import subprocess

from helpers import profiled_env
from vrift_profile import create_session, read_profile, reset


def test_exact_counts_with_concurrent_processes_and_threads(cbin, shim_lib, tmp_path, rundir):
    d = tmp_path / "d"
    d.mkdir()
    for i in range(10):
        (d / f"p{i}").write_text("x")
    session = create_session(tmp_path / "p.vrift", hot_paths=True)
    subprocess.run(
        [cbin / "hot_stress", d, "10", "500", "4", "2"],
        env=profiled_env(shim_lib, session),
        check=True,
        timeout=120,
    )
    snap = read_profile(session)
    by_path = {h.path: h for h in snap.hot.by_path()}
    assert {h.command for h in snap.hot.paths} == {"hot_stress"}
    for i in range(10):
        h = by_path[f"{d}/p{i}"]
        assert h.calls == 4 * 2 * 500, h
        assert h.errors == 0 and h.ops == ("stat",)
        assert h.latency_ns > 0
    assert snap.hot.dropped == 0
    assert snap.ops["stat"].calls == 4 * 2 * 500 * 10


def test_full_table_counts_what_it_drops(cbin, shim_lib, tmp_path, rundir):
    d = tmp_path / "d"
    d.mkdir()
    session = create_session(tmp_path / "p.vrift", hot_entries=16, hot_paths=True)
    subprocess.run(
        [cbin / "hot_stress", d, "100", "3", "2", "1"],
        env=profiled_env(shim_lib, session),
        check=True,
        timeout=60,
    )
    snap = read_profile(session)
    recorded = sum(h.calls for h in snap.hot.paths)
    assert len(snap.hot.paths) == 16
    assert recorded + snap.hot.dropped == 100 * 3 * 2  # every path call is accounted for
    assert snap.hot.dropped > 0
    assert all(h.errors == h.calls for h in snap.hot.paths)  # the paths do not exist
    assert snap.hot.capacity == 16


def test_relative_paths_are_recorded_under_the_cwd_and_reset_clears(cbin, shim_lib, tmp_path, rundir):
    session = create_session(tmp_path / "p.vrift", hot_paths=True)
    (tmp_path / "rel.txt").write_text("x")
    _stat_loop(cbin, shim_lib, session, "rel.txt", "5", "/nonexistent-abs", "2", cwd=tmp_path)
    # "./rel.txt" is the same file as "rel.txt": one entry
    _stat_loop(cbin, shim_lib, session, "./rel.txt", "3", "/nonexistent-abs", "0", cwd=tmp_path)
    by_path = {h.path: h for h in read_profile(session).hot.by_path()}
    assert by_path[f"{tmp_path}/rel.txt"].calls == 8
    assert not [p for p in by_path if "/./" in p]
    assert by_path["/nonexistent-abs"].calls == 2 and by_path["/nonexistent-abs"].ops == ("lstat",)
    reset(session)
    assert read_profile(session).hot.paths == ()


def _stat_loop(cbin, shim_lib, session, *args: str, cwd=None) -> None:
    """stat_loop EXISTING N MISSING M under the shim, counting into `session`."""
    env = profiled_env(shim_lib, session)
    subprocess.run([cbin / "stat_loop", *args], env=env, check=True, capture_output=True, cwd=cwd)


def test_counters_only_mode_records_no_paths(cbin, shim_lib, tmp_path, rundir):
    session = create_session(tmp_path / "p.vrift", counters_only=True)
    _stat_loop(cbin, shim_lib, session, "/etc/hostname", "5", "/x", "0")
    snap = read_profile(session)
    assert snap.ops["stat"].calls == 5 and snap.ops["stat"].timed_calls == 0
    assert snap.hot.paths == ()
    assert os.path.exists(session)


def test_exact_timing_records_every_path_call(cbin, shim_lib, tmp_path, rundir):
    session = create_session(tmp_path / "p.vrift", exact_timing=True)
    _stat_loop(cbin, shim_lib, session, "/etc/hostname", "5", "/x", "0")
    snap = read_profile(session)
    assert snap.ops["stat"].calls == 5 and snap.ops["stat"].timed_calls == 5
    assert snap.hot.sample_period == 1
    assert [(h.path, h.calls) for h in snap.hot.paths] == [("/etc/hostname", 5)]


def test_hot_paths_sampled_by_default(cbin, shim_lib, tmp_path, rundir):
    """A default session records 1 path call in 64, weighted by 64: the
    estimates are unbiased and rank the paths, while each process touches
    a few table entries instead of one per distinct path."""
    session = create_session(tmp_path / "p.vrift")
    _stat_loop(cbin, shim_lib, session, "/etc/hostname", "32000", "/nonexistent-vrift-hot", "3200")
    snap = read_profile(session)
    assert snap.hot.sample_period == 64
    assert snap.ops["stat"].calls == 32_000 and snap.ops["lstat"].calls == 3_200  # counts stay exact
    by_path = {h.path: h for h in snap.hot.by_path()}
    host, missing = by_path["/etc/hostname"], by_path["/nonexistent-vrift-hot"]
    # binomial sampling: +/- 3 sigma is 13% of 32,000 and 42% of 3,200
    assert abs(host.calls - 32_000) <= 0.15 * 32_000 and host.calls % 64 == 0
    assert abs(missing.calls - 3_200) <= 0.45 * 3_200 and missing.errors == missing.calls
    assert host.calls > missing.calls and host.errors == 0
    assert host.latency_ns > 0  # each recorded call was timed for it
