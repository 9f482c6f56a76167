"""One metric catalogue (vrift_profile.metrics_catalogue) for both exporters:
every metric the OTel and Prometheus exporters emit is a catalogue entry,
under its name, unit and description, so the two cannot drift apart."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from vrift_export_otel.metrics import metrics_data
from vrift_export_prometheus.collector import exposition
from vrift_profile import create_session, read_profile
from vrift_profile import metrics_catalogue as cat
from vrift_profile.writer import SyntheticWriter


def _snapshot(tmp_path: Path):
    """Calls, errors, timed latency, bytes and VFS counters: every family appears."""
    p = create_session(tmp_path / "all.vrift", slot_count=8)
    with SyntheticWriter(p) as w:
        py = w.process("python3")
        w.add(py, "stat", calls=10, errors=2, enoent=1, latency_ns=1_000, histogram={6: 10})
        for name, value in (
            ("bytes_read", 4096),
            ("vfs_handled", 8),
            ("vfs_passthrough", 2),
            ("vfs_served_calls_stat", 8),
            ("vfs_served_ns_stat", 400),
            ("vfs_shadow_calls_stat", 1),
            ("vfs_shadow_ns_stat", 900),
            ("cow_bytes", 10),
        ):
            w.add_counter(py, name, value)
    return read_profile(p)


def _expected(snap) -> list[cat.Metric]:
    return [*cat.CATALOGUE, *(m for _, m in cat.counter_metrics(snap))]


def test_prometheus_families_are_the_catalogue(tmp_path: Path):
    snap = _snapshot(tmp_path)
    families = {f.name: f for f in text_string_to_metric_families(exposition(snap).decode())}
    want = {m.prom_name.removesuffix("_total"): m for m in _expected(snap)}
    assert set(families) == set(want)
    for name, fam in families.items():
        m = want[name]
        assert fam.type == m.kind.value, name
        assert fam.documentation.startswith(m.description), name
        for sample in fam.samples:
            labels = set(sample.labels) - {"le"}
            assert labels == {lb.prom for lb in m.labels}, (name, sample)


def test_otel_metrics_are_the_catalogue(tmp_path: Path):
    snap = _snapshot(tmp_path)
    (rm,) = metrics_data(snap).resource_metrics
    (scope,) = rm.scope_metrics
    got = {m.name: m for m in scope.metrics}
    want = {m.otel_name: m for m in _expected(snap)}
    assert set(got) == set(want)
    for name, metric in got.items():
        m = want[name]
        assert (metric.unit, metric.description.startswith(m.description)) == (m.unit, True), name
        for point in metric.data.data_points:
            assert set(point.attributes) == {lb.otel for lb in m.labels}, name


def test_names_and_units_agree_in_both_conventions(tmp_path: Path):
    metrics = _expected(_snapshot(tmp_path))
    assert len({m.otel_name for m in metrics}) == len({m.prom_name for m in metrics}) == len(metrics)
    for m in metrics:
        assert m.prom_name.startswith("vrift_") and m.otel_name.startswith("vrift.")
        assert m.prom_name.endswith("_seconds") == (m.unit == "s"), m
        assert m.prom_name.endswith("_bytes") == (m.unit == "By"), m
        assert (m.scale == 1 / cat.NS_PER_S) == (m.unit == "s"), m
    vfs_ns = cat.counter_metric("vfs_served_ns_stat", "ns")
    assert (vfs_ns.prom_sample, vfs_ns.unit, vfs_ns.value(2_000_000_000)) == (
        "vrift_vfs_served_stat_seconds_total",
        "s",
        2.0,
    )
    assert cat.counter_metric("cow_bytes", "bytes").prom_sample == "vrift_cow_bytes_total"
    assert cat.counter_metric("cas_hits", "events").value(7) == 7  # counts stay integers
