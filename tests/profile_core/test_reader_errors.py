"""Damaged, foreign and future files give one ProfileFormatError, never a traceback."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vrift_profile import ProfileFormatError, create_session, read_profile


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> bytes:
    p = create_session(tmp_path_factory.mktemp("good") / "p.vrift", slot_count=8)
    return p.read_bytes()


def _write(tmp_path: Path, data: bytes) -> Path:
    p = tmp_path / "bad.vrift"
    p.write_bytes(data)
    return p


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b"", "too short"),
        (lambda b: b[:20], "too short"),
        (lambda b: b"\x7fELF" + b[4:], "bad magic"),
        (lambda b: struct.pack(">I", 0x56524654) + b[4:], "other byte order"),
        (lambda b: b[:8] + struct.pack("<H", 2) + b[10:], r"format 2\.\d+ is not supported"),
        (lambda b: b[:16] + struct.pack("<I", 0) + b[20:], "not initialised"),
        (lambda b: b[: len(b) // 2], "truncated"),
        (lambda b: b[:4096], "truncated"),
    ],
)
def test_bad_files_are_refused_clearly(tmp_path, good, mutate, message):
    with pytest.raises(ProfileFormatError, match=message):
        read_profile(_write(tmp_path, mutate(good)))


def test_missing_and_directory(tmp_path):
    with pytest.raises(ProfileFormatError, match="no such file"):
        read_profile(tmp_path / "nope")
    with pytest.raises(ProfileFormatError, match="directory"):
        read_profile(tmp_path)


def test_newer_minor_version_still_reads(tmp_path, good):
    data = bytearray(good)
    data[10:12] = struct.pack("<H", 7)
    snap = read_profile(_write(tmp_path, bytes(data)))
    assert snap.session.format_version == "1.7"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_headers_never_traceback(tmp_path, good, data):
    """Flip bytes anywhere in the header and field table: read or refuse, nothing else."""
    buf = bytearray(good)
    table_end = 4096 * 3
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, table_end - 1))
        buf[i] = data.draw(st.integers(0, 255))
    try:
        read_profile(_write(tmp_path, bytes(buf)))
    except ProfileFormatError:
        pass
