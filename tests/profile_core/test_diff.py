"""vrift_profile.diff: the comparison of two snapshots and the --fail-if grammar
(the `vrift profile diff` command is tested in tests/cli/test_diff_cmd.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from vrift_profile import UsageError, create_session, read_profile
from vrift_profile.diff import Threshold, diff
from vrift_profile.writer import SyntheticWriter


def _session(path: Path, stats: int, opens: int) -> Path:
    create_session(path, slot_count=8)
    with SyntheticWriter(path) as w:
        cc = w.process("cc1")
        w.add(cc, "stat", calls=stats, errors=10, enoent=10, latency_ns=stats * 100, timed=stats)
        w.add(cc, "open", calls=opens, latency_ns=opens * 1_000, timed=opens)
    return path


def test_changes_are_exact_and_sorted_by_impact(tmp_path: Path):
    a = read_profile(_session(tmp_path / "a.vrift", 1000, 10))
    b = read_profile(_session(tmp_path / "b.vrift", 1500, 10))
    d = diff(a, b)
    assert (d.totals["calls"].a, d.totals["calls"].b) == (1010, 1510)
    stat = next(e for e in d.ops if e.name == "stat")
    assert stat.changes["calls"].percent == 50.0
    assert stat.changes["errors"].percent == 0.0
    assert [e.name for e in d.ops][0] == "stat"  # the only op that changed leads
    assert d.ops[0].impact >= d.ops[-1].impact


def test_threshold_grammar():
    t = Threshold.parse("open.p99 > +20%")
    assert (t.metric, t.limit, t.relative) == ("open.p99", 20.0, True)
    assert Threshold.parse("command:cc1.time>1000000").relative is False
    for bad in ("time>>5", "bogus>5%", "stat.nope>1"):
        with pytest.raises(UsageError, match="bad --fail-if"):
            Threshold.parse(bad)
