"""Snapshot totals, per-command grouping, reset and the JSON shape."""

from __future__ import annotations

from vrift_profile import Snapshot, create_session, read_profile, reset, set_enabled
from vrift_profile.writer import SyntheticWriter


def test_totals_group_by_command_and_reset(tmp_path):
    p = create_session(tmp_path / "p.vrift", slot_count=16)
    with SyntheticWriter(p) as w:
        a, b, m = w.process("cc1"), w.process("cc1"), w.process("make")
        w.add(a, "stat", calls=100, errors=10, enoent=10, latency_ns=100_000, histogram={9: 100})
        w.add(b, "stat", calls=50, latency_ns=50_000, histogram={9: 50})
        w.add(m, "open", calls=7, errors=1, enoent=1, latency_ns=7_000, histogram={9: 7})
    snap = read_profile(p)
    assert snap.ops["stat"].calls == 150 and snap.ops["stat"].errors == 10
    assert snap.ops["open"].calls == 7
    cc1 = snap.command("cc1")
    assert cc1.processes == 2 and cc1.calls == 150
    assert snap.processes == 3
    assert snap.to_dict()["errors"] == {"enoent": 11, "eacces": 0}

    reset(p)
    after = read_profile(p)
    assert after.total_calls == 0 and after.processes == 0
    assert after.session.reset_realtime_ns > 0
    # a process counting after the reset starts from zero in its own slot
    with SyntheticWriter(p) as w:
        w.add(a, "stat", calls=3, latency_ns=300, histogram={6: 3})
    again = read_profile(p)
    assert again.ops["stat"].calls == 3 and again.command("cc1").processes == 1


def test_thread_rows_fold_into_their_image(tmp_path):
    """Format 1.4: each thread counts in a row of its own; an image is one
    process however many of its rows hold counts, even when only a thread
    row is current after a reset."""
    p = create_session(tmp_path / "p.vrift", slot_count=16)
    with SyntheticWriter(p) as w:
        git = w.process("git", pid=10)
        t1, t2 = w.process("git", pid=10, thread_of=git), w.process("git", pid=10, thread_of=git)
        for row, n in ((git, 5), (t1, 100), (t2, 200)):
            w.add(row, "lstat", calls=n)
    snap = read_profile(p)
    assert snap.command("git").processes == 1 and snap.processes == 1
    assert snap.ops["lstat"].calls == 305
    reset(p)
    with SyntheticWriter(p) as w:
        w.add(t2, "lstat", calls=7)  # only a worker thread counted since the reset
    again = read_profile(p)
    assert again.processes == 1 and again.ops["lstat"].calls == 7


def test_json_round_trip_is_lossless(tmp_path):
    p = create_session(tmp_path / "p.vrift", slot_count=8)
    with SyntheticWriter(p) as w:
        w.add(w.process("python3"), "readdir", calls=64, latency_ns=4_000, histogram={5: 4})
    set_enabled(p, False)
    snap = read_profile(p)
    again = Snapshot.from_dict(snap.to_dict())
    assert again == snap
    assert again.to_dict() == snap.to_dict()
    assert snap.session.state == "stopped"


def test_percentiles_are_bucket_upper_bounds(tmp_path):
    """Bucket i holds [2^i, 2^(i+1)) ns: a percentile is the upper bound of the
    bucket where the cumulative count reaches it."""
    p = create_session(tmp_path / "p.vrift")
    with SyntheticWriter(p) as w:
        # 100 timed stats: 50 in [8,16) ns, 49 in [1024,2048) ns, 1 in [2^20, 2^21) ns
        w.add(
            w.process("synth"),
            "stat",
            calls=100,
            latency_ns=50 * 10 + 49 * 1500 + 1_500_000,
            histogram={3: 50, 10: 49, 20: 1},
        )
    s = read_profile(p).ops["stat"]
    assert s.percentile_ns(0.50) == 2**4 - 1
    assert s.percentile_ns(0.51) == 2**11 - 1
    assert s.percentile_ns(0.90) == 2**11 - 1
    assert s.percentile_ns(0.99) == 2**11 - 1
    assert s.percentile_ns(1.0) == 2**21 - 1
    assert s.max_ns == 2**21 - 1


def test_counter_units_are_the_ones_the_file_declares(tmp_path):
    """A counter's unit is read from its field-table row, not guessed from its
    name: a file that declares cow_copies in bytes gets bytes."""
    from vrift_profile import _ffi

    p = create_session(tmp_path / "p.vrift", slot_count=4)
    with SyntheticWriter(p) as w:
        w.add_counter(w.process("cp"), "cow_copies", 3)
    snap = read_profile(p)
    assert snap.unit("bytes_read") == "bytes" and snap.unit("vfs_served_ns_stat") == "ns"
    assert snap.unit("cow_copies") == snap.unit("unseen_static") == "events"
    assert set(snap.counter_units) == set(snap.counters)

    ffi = _ffi.ffi()
    data = bytearray(p.read_bytes())
    h = ffi.cast("struct vrift_header *", ffi.from_buffer(data))
    for i in range(h.field_count):
        row = ffi.cast(
            "struct vrift_field *", ffi.from_buffer(data) + h.field_table_offset + i * h.field_size
        )
        if ffi.string(row.name) == b"cow_copies":
            row.unit = _ffi.constants()["VRIFT_UNIT_BYTES"]
    p.write_bytes(data)
    assert read_profile(p).unit("cow_copies") == "bytes"


def test_counter_units_survive_json_and_older_json_gets_the_declared_ones(tmp_path):
    import pytest
    from vrift_profile.snapshot import counter_unit

    p = create_session(tmp_path / "p.vrift", slot_count=4)
    with SyntheticWriter(p) as w:
        w.add_counter(w.process("cc"), "bytes_written", 10)
    snap = read_profile(p)
    d = snap.to_dict()
    assert d["counter_units"]["bytes_written"] == "bytes"
    assert Snapshot.from_dict(d).counter_units == snap.counter_units
    del d["counter_units"]  # a JSON export from before units were exported
    assert Snapshot.from_dict(d).counter_units == snap.counter_units
    with pytest.warns(DeprecationWarning):
        assert counter_unit("cow_bytes") == "bytes"  # from the header's table, not the name


def test_timing_note_names_the_headers_exact_phase():
    from vrift_profile import _ffi
    from vrift_profile.snapshot import SessionInfo

    info = SessionInfo("p", "1.4", 0, 0, 0, 0, True, "tsc", 8, 1, 0, "", 16, ("stat",))
    first = _ffi.constants()["VRIFT_SAMPLE_EXACT_FIRST"]
    assert f"after each thread's first {first} calls" in info.timing_note


def test_a_snapshot_made_by_hand_has_the_headers_units():
    from vrift_profile.snapshot import CommandStats, SessionInfo

    info = SessionInfo("p", "1.4", 0, 0, 0, 0, False, "tsc", 8, 1, 0, "")
    snap = Snapshot(info, [CommandStats("cc", 1, {}, {"cow_bytes": 5, "vfs_served_ns_stat": 7})])
    assert (snap.unit("cow_bytes"), snap.unit("vfs_served_ns_stat"), snap.unit("cas_hits")) == (
        "bytes",
        "ns",
        "events",
    )
