"""`vrift profile dashboard`: a Grafana dashboard model Grafana imports, whose
queries name only metrics the exporter writes. (That each query returns what
the JSON export says is tests/exporters/test_grafana_prometheus.py, against a
real Prometheus.)"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import vrift
from prometheus_client.parser import text_string_to_metric_families
from vrift_export_prometheus.collector import exposition
from vrift_export_prometheus.dashboard import panel_queries
from vrift_profile import Snapshot
from vrift_profile.snapshot import HIST_BUCKETS, CommandStats, OpStats, SessionInfo
from vrift_profile.vfsstats import contribution

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("dashboard") / "vrift-grafana.json"
    r = vrift("profile", "dashboard", "-o", str(out))
    assert r.stdout.startswith(f"vrift: Grafana dashboard written: {out}") and len(r.stdout.splitlines()) == 1
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o644
    assert vrift("profile", "dashboard").stdout == out.read_text()  # stdout without -o
    return json.loads(out.read_text())


def vfs_snapshot() -> Snapshot:
    """Two commands, one on a projection: every metric family the exporter has."""
    hist = tuple([0, 0, 0, 0, 0, 0, 5, 30, 10, 2] + [0] * (HIST_BUCKETS - 10))
    stat_op = OpStats(calls=47, errors=7, enoent=6, eacces=1, latency_ns=40_000, histogram=hist)
    vfs = {"vfs_handled": 30, "vfs_passthrough": 17, "vfs_served_calls_stat": 30, "vfs_served_ns_stat": 3_000}
    vfs |= {
        "vfs_shadow_calls_stat": 30,
        "vfs_shadow_ns_stat": 90_000,
        "bytes_read": 4096,
        "bytes_written": 12,
    }
    session = SessionInfo(
        "/tmp/s.vrift", "1.3", 1, 2, 0, 0, True, "tsc", 64, 2, 0, "test", sample_period=1, sampled_ops=()
    )
    commands = [
        CommandStats("python3", 1, {"stat": stat_op}, vfs),
        CommandStats("make", 1, {"stat": stat_op}, {k: 0 for k in vfs}),
    ]
    return Snapshot(session, commands, ("stat",), projections=((10_000, 4_000),))


def test_grafana_imports_it(board: dict):
    """What Grafana's import needs: no numeric id (Grafana assigns one), a uid,
    a schema version, a Prometheus data source variable that every panel and
    query uses, unique panel ids, and panels on the 24-column grid without
    overlapping."""
    assert "id" not in board and board["uid"] == "vrift-profile" and board["title"]
    assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 36
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert (
        variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    )
    assert len({v["id"] for v in variables.values()}) == len(variables)  # Grafana keys its state on them
    for name in ("instance", "command"):
        assert variables[name]["type"] == "query" and variables[name]["datasource"] == DATASOURCE
        assert variables[name]["includeAll"] and variables[name]["allValue"] == ".*"
    ids, cells = set(), set()
    for p in board["panels"]:
        assert p["id"] not in ids
        ids.add(p["id"])
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0
        covered = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not covered & cells, f"{p['title']} overlaps another panel"
        cells |= covered
        if p["type"] == "row":
            continue
        assert p["datasource"] == DATASOURCE and p["targets"], p["title"]
        assert p["options"], f"{p['title']}: Grafana expects an options object"
        for t in p["targets"]:
            assert t["datasource"] == DATASOURCE and t["refId"] and t["expr"]


def test_the_model_round_trips_through_the_sdk(board: dict):
    """Decoding with the SDK's typed models drops every field Grafana's schema
    does not have: the round trip is equal only if the JSON has none."""
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.cog.plugins import register_default_plugins
    from grafana_foundation_sdk.models.dashboard import Dashboard

    register_default_plugins()
    assert json.loads(JSONEncoder().encode(Dashboard.from_json(board))) == board


def test_queries_name_only_metrics_the_exporter_writes(board: dict):
    exposed = set()
    for fam in text_string_to_metric_families(exposition(vfs_snapshot()).decode()):
        exposed |= {s.name for s in fam.samples}
    named = {m for _, _, expr in panel_queries(board) for m in re.findall(r"\bvrift_\w+", expr)}
    assert named and named <= exposed, sorted(named - exposed)
    for v in board["templating"]["list"]:
        assert set(re.findall(r"\bvrift_\w+", v.get("query", ""))) <= exposed
    assert "histogram_quantile(0.99," in json.dumps(board) and "histogram_quantile(0.5," in json.dumps(board)


def test_the_vfs_contribution_gauges_are_shows_figures():
    snap = vfs_snapshot()
    samples = {
        s.name: s.value
        for fam in text_string_to_metric_families(exposition(snap).decode())
        for s in fam.samples
        if s.name.startswith("vrift_vfs_") and not s.labels
    }
    v = contribution(snap)
    assert v is not None and v.time_saved_ns is not None and v.time_saved_ns > 0
    assert samples == {
        "vrift_vfs_time_saved_seconds": v.time_saved_ns / 1e9,
        "vrift_vfs_original_bytes": 10_000,
        "vrift_vfs_stored_bytes": 4_000,
    }


def test_no_vfs_gauges_without_a_projection(sample_session: Path):
    text = vrift("profile", "export", "--path", str(sample_session), "--format", "prometheus").stdout
    assert "vrift_vfs_handled_total" in text  # the counters say 0 ...
    for gauge in ("vrift_vfs_time_saved_seconds", "vrift_vfs_original_bytes", "vrift_vfs_stored_bytes"):
        assert gauge not in text  # ... but nothing was measured: no made-up figure


def test_show_and_export_never_import_the_sdk(sample_session: Path):
    for args in (("show",), ("export", "--format", "prometheus")):
        r = subprocess.run(
            [
                sys.executable,
                "-X",
                "importtime",
                "-m",
                "vrift_cli",
                "profile",
                *args,
                "--path",
                str(sample_session),
            ],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stderr
        assert "grafana_foundation_sdk" not in r.stderr, args


def test_unwritable_output_is_one_line(tmp_path: Path):
    r = vrift("profile", "dashboard", "-o", str(tmp_path / "missing" / "d.json"), check=False)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("vrift: cannot write ") and len(r.stderr.splitlines()) == 1


def test_completion_offers_the_verb(tmp_path: Path):
    out = tmp_path / "words"
    env = dict(
        os.environ,
        _ARGCOMPLETE="1",
        COMP_LINE="vrift profile da",
        COMP_POINT="16",
        _ARGCOMPLETE_IFS=" ",
        _ARGCOMPLETE_STDOUT_FILENAME=str(out),
    )
    vrift(env=env)
    assert out.read_text().split() == ["dashboard"]
