"""Snapshot totals, per-command grouping, reset and the JSON shape."""

from __future__ import annotations

from vrift_profile import Snapshot, _ffi, create_session, read_profile, reset, set_enabled


def _put(path, slot: int, comm: bytes, op: int, calls: int, errors: int, lat: int, bucket: int):
    """Write counters into a slot the way a process would (test-only writer)."""
    import mmap
    import os

    ffi = _ffi.ffi()
    fd = os.open(path, os.O_RDWR)
    try:
        m = mmap.mmap(fd, 0)
    finally:
        os.close(fd)
    h = ffi.cast("struct vrift_header *", ffi.from_buffer(m))
    s = ffi.cast("struct vrift_slot *", ffi.cast("char *", h) + h.slots_offset + slot * h.slot_size)
    ffi.memmove(s.head.comm, comm, len(comm))
    s.head.pid = 1000 + slot
    s.head.state = 1
    o = s.counters.op[op]
    o.calls += calls
    o.errors += errors
    o.enoent += errors
    o.latency_ns += lat
    o.hist[bucket] += calls
    h.slots_next = max(h.slots_next, slot + 1)
    del h, s, o
    m.close()


def test_totals_group_by_command_and_reset(tmp_path):
    p = create_session(tmp_path / "p.vrift", slot_count=16)
    stat = _ffi.constants()["VRIFT_OP_STAT"]
    opn = _ffi.constants()["VRIFT_OP_OPEN"]
    _put(p, 1, b"cc1", stat, 100, 10, 100_000, 9)
    _put(p, 2, b"cc1", stat, 50, 0, 50_000, 9)
    _put(p, 3, b"make", opn, 7, 1, 7_000, 9)
    snap = read_profile(p)
    assert snap.ops["stat"].calls == 150 and snap.ops["stat"].errors == 10
    assert snap.ops["open"].calls == 7
    cc1 = snap.command("cc1")
    assert cc1.processes == 2 and cc1.calls == 150
    assert snap.processes == 3
    assert snap.to_dict()["errors"] == {"enoent": 11, "eacces": 0}

    reset(p)
    after = read_profile(p)
    assert after.total_calls == 0
    assert after.session.reset_realtime_ns > 0
    _put(p, 1, b"cc1", stat, 3, 0, 300, 6)
    assert read_profile(p).ops["stat"].calls == 3


def test_json_round_trip_is_lossless(tmp_path):
    p = create_session(tmp_path / "p.vrift", slot_count=8)
    _put(p, 1, b"python3", _ffi.constants()["VRIFT_OP_READDIR"], 64, 0, 4_000, 5)
    set_enabled(p, False)
    snap = read_profile(p)
    again = Snapshot.from_dict(snap.to_dict())
    assert again == snap
    assert again.to_dict() == snap.to_dict()
    assert snap.session.state == "stopped"
