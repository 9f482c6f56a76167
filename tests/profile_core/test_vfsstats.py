"""The VFS contribution (vrift_profile.vfsstats) to the nanosecond, from
counters whose every value is chosen here, so each rule of the estimate
is pinned: shadow samples first, else the class's real calls, else no
estimate; never a negative saving."""

from __future__ import annotations

from pathlib import Path

from vrift_profile import create_session, read_profile
from vrift_profile.vfsstats import contribution
from vrift_profile.writer import SyntheticWriter


def _session(tmp_path: Path) -> Path:
    p = create_session(tmp_path / "vfs.vrift", slot_count=8)
    with SyntheticWriter(p) as w:
        py = w.process("python3")
        for name, value in {
            "vfs_handled": 1260,
            "vfs_passthrough": 345,
            # stat: shadow samples give the real mean, 20,000 ns / 10 = 2,000 ns
            "vfs_served_calls_stat": 1000,
            "vfs_served_ns_stat": 50_000,
            "vfs_shadow_calls_stat": 10,
            "vfs_shadow_ns_stat": 20_000,
            # lstat: no shadow samples; the real lstats elsewhere in the session
            # (300 timed calls, 80,000 ns, less the served 200 and 10,000 ns) give 700 ns
            "vfs_served_calls_lstat": 200,
            "vfs_served_ns_lstat": 10_000,
            # access: served, but no real call to compare with: no estimate
            "vfs_served_calls_access": 50,
            "vfs_served_ns_access": 5_000,
            # readlink: serving cost more than the real call: saves 0, not -400
            "vfs_served_calls_readlink": 10,
            "vfs_served_ns_readlink": 500,
            "vfs_shadow_calls_readlink": 1,
            "vfs_shadow_ns_readlink": 10,
            "manifest_hits": 1200,
            "manifest_misses": 60,
            "bloom_rejects": 40,
        }.items():
            w.add_counter(py, name, value)
        w.add(py, "stat", calls=1000, latency_ns=50_000, timed=1000)
        w.add(py, "lstat", calls=300, latency_ns=80_000, timed=300)
        w.add(py, "access", calls=50, latency_ns=5_000, timed=50)
        w.add(py, "readlink", calls=10, latency_ns=500, timed=10)
    return p


def test_time_saved_exact(tmp_path: Path):
    v = contribution(read_profile(_session(tmp_path)))
    assert v is not None
    stat = 1000 * 2_000 - 50_000  # served calls x shadow mean - serving time
    lstat = 200 * 700 - 10_000  # served calls x mean of the real lstats - serving time
    assert v.time_saved_ns == stat + lstat == 2_080_000
    assert v.unestimated_ops == ("access",)
    assert (v.served_calls, v.serving_ns) == (1260, 65_500)
    assert (v.handled, v.passthrough, v.lookups) == (1260, 345, 1300)


def test_no_baseline_anywhere_is_no_estimate(tmp_path: Path):
    p = create_session(tmp_path / "bare.vrift", slot_count=8)
    with SyntheticWriter(p) as w:
        py = w.process("python3")
        w.add_counter(py, "vfs_handled", 5)
        w.add_counter(py, "vfs_served_calls_stat", 5)
        w.add_counter(py, "vfs_served_ns_stat", 250)
        w.add(py, "stat", calls=5, latency_ns=250, timed=5)
    v = contribution(read_profile(p))
    assert v is not None and v.time_saved_ns is None and v.unestimated_ops == ("stat",)


def test_a_session_without_projection_has_no_contribution(tmp_path: Path):
    p = create_session(tmp_path / "plain.vrift", slot_count=8)
    with SyntheticWriter(p) as w:
        w.add(w.process("make"), "stat", calls=3, latency_ns=300, timed=3)
    snap = read_profile(p)
    assert snap.counters["vfs_handled"] == 0  # the counter exists, at zero: still "not measured"
    assert contribution(snap) is None
