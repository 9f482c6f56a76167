"""Today's reader reads the files every earlier format version wrote.

golden/vX_Y.vrift.gz were written by the shim and the Python writer of
format X.Y itself (golden/make_golden.py says exactly how). Each test
asserts the counts the generator made by hand, then every figure against
what the reader of that version said about the same file
(golden/vX_Y.expected.json): times measured by the shim included.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from vrift_profile import read_profile

GOLDEN = Path(__file__).resolve().parent / "golden"
VERSIONS = ("1.0", "1.1", "1.2", "1.3", "1.4")
DEFAULT_SAMPLED = ("stat", "fstat", "lstat", "statx", "access", "close", "read", "write", "readdir")


def _stem(version: str) -> str:
    return "v" + version.replace(".", "_")


def _read(version: str, tmp_path: Path):
    path = tmp_path / f"{_stem(version)}.vrift"
    with gzip.open(GOLDEN / f"{_stem(version)}.vrift.gz", "rb") as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return read_profile(path)


def _minor(version: str) -> int:
    return int(version.split(".")[1])


@pytest.mark.parametrize("version", VERSIONS)
def test_known_counts(version: str, tmp_path: Path):
    snap = _read(version, tmp_path)
    minor = _minor(version)
    assert snap.session.format_version == version
    assert snap.session.creator == "vrift_profile" and not snap.session.enabled
    assert (snap.session.slot_count, snap.session.slots_overflowed) == (8, 0)

    stat = snap.command("golden_stat")  # run twice: 5 stat, 3 lstat of a missing path
    assert stat.processes == 2
    assert (stat.ops["stat"].calls, stat.ops["stat"].errors) == (10, 0)
    lstat = stat.ops["lstat"]
    assert (lstat.calls, lstat.errors, lstat.enoent, lstat.eacces) == (6, 6, 6, 0)
    assert stat.ops["stat"].latency_ns > 0 and sum(stat.ops["stat"].histogram) == 10

    read = snap.command("golden_read")  # open, read 16 bytes, close
    assert read.processes == 1
    assert [read.ops[op].calls for op in ("open", "read", "close")] == [1, 1, 1]
    assert read.counters["bytes_read"] == 16

    synthetic = snap.command("synthetic")  # the version's SyntheticWriter
    assert synthetic.processes == 1  # 1.4: its thread row folds into the image
    o = synthetic.ops["open"]
    assert (o.calls, o.errors, o.enoent, o.eacces, o.latency_ns) == (7, 2, 1, 1, 7000)
    assert o.histogram[9] == 5 and o.histogram[10] == 2 and sum(o.histogram) == 7
    assert synthetic.counters["bytes_written"] == 4096
    # units as the file's field table declared them
    assert snap.unit("bytes_read") == snap.unit("bytes_written") == "bytes"

    # timing: 1.0-1.2 timed readdir alone, 1 in 16; 1.3 names its sample in the header
    sampled = DEFAULT_SAMPLED if minor >= 3 else ("readdir",)
    assert (snap.session.sample_period, snap.session.sampled_ops) == (16, sampled)
    assert (o.timed is None) == (minor < 3)

    if minor == 0:
        assert snap.hot.capacity == 0 and snap.hot.paths == ()
    else:
        assert snap.hot.capacity == 64
        got = {(h.command, h.path): (h.calls, h.errors, h.ops) for h in snap.hot.paths}
        assert got[("golden_stat", "/etc/passwd")] == (10, 0, ("stat",))
        assert got[("golden_stat", "/nonexistent-vrift-golden")] == (6, 6, ("lstat",))
        assert got[("golden_read", "/etc/passwd")] == (1, 0, ("open",))

    if minor >= 2:
        c = synthetic.counters
        assert (c["vfs_handled"], c["vfs_passthrough"], c["manifest_hits"]) == (11, 3, 9)
        assert (c["vfs_served_calls_stat"], c["vfs_served_ns_stat"]) == (4, 400)
        assert (c["vfs_shadow_calls_stat"], c["vfs_shadow_ns_stat"]) == (2, 3000)
        assert (c["cow_copies"], c["cow_bytes"]) == (1, 123)
        assert (snap.unit("vfs_served_ns_stat"), snap.unit("cow_bytes"), snap.unit("cow_copies")) == (
            "ns",
            "bytes",
            "events",
        )
        assert snap.projections == ((1000, 600),)
    else:
        assert "vfs_handled" not in snap.counters and snap.projections == ()

    if minor >= 4:
        assert synthetic.ops["stat"].calls == 4  # counted in the thread row
        spawner = snap.command("golden_exec")
        assert (spawner.processes, spawner.ops["exec"].calls, spawner.counters["unseen_static"]) == (1, 1, 1)
        (unseen,) = snap.unseen
        assert unseen.path.endswith("/golden_static") and unseen.command == "golden_exec"
        assert (unseen.runs, unseen.reasons) == (1, ("static",))
    else:
        assert "exec" not in snap.op_names and snap.unseen == ()


def _subset(expected, actual, where: str = "") -> None:
    """Every value the old reader reported, today's reports equally
    (today's may report more: figures later versions added)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), where
        for k, v in expected.items():
            assert k in actual, f"{where}.{k} missing"
            _subset(v, actual[k], f"{where}.{k}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            _subset(e, a, f"{where}[{i}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


@pytest.mark.parametrize("version", VERSIONS)
def test_reads_what_the_reader_of_its_version_read(version: str, tmp_path: Path):
    expected = json.loads((GOLDEN / f"{_stem(version)}.expected.json").read_text())
    del expected["generated_by"]
    actual = _read(version, tmp_path).to_dict()
    for d in (expected, actual):
        d["processes"].sort(key=lambda c: c["command"])
    _subset(expected, actual)
    # the same counters, no more and no fewer: they come from the file's field table
    for e, a in zip(expected["processes"], actual["processes"], strict=True):
        assert set(a["counters"]) == set(e["counters"]), a["command"]
