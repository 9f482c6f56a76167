"""Snapshot -> Prometheus metric families (classic text format).

Names follow Prometheus conventions: a `vrift_` prefix, `_total` on
counters, base units (seconds, bytes). Latency histograms keep our log2
buckets exactly: bucket i holds integer ns in [2^i, 2^(i+1)) and
Prometheus buckets are upper-inclusive, so `le` = (2^(i+1) - 1) ns in
seconds; the last log2 bucket is unbounded and becomes `+Inf`. Every
series carries `command` and `syscall` labels; sum them for totals. No
path labels (unbounded cardinality) and no `_created` series.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString
from vrift_profile import Snapshot, read_profile
from vrift_profile import metrics_catalogue as cat


def le_bounds(buckets: int) -> list[str]:
    return [floatToGoString((2 ** (i + 1) - 1) / 1e9) for i in range(buckets - 1)] + ["+Inf"]


_FAMILY = {
    cat.Kind.COUNTER: CounterMetricFamily,
    cat.Kind.GAUGE: GaugeMetricFamily,
    cat.Kind.HISTOGRAM: HistogramMetricFamily,
}


def family(metric: cat.Metric, note: str = "") -> Any:
    """An empty family for a catalogue entry: its name, help text and labels."""
    help_text = metric.description + (f" ({note})" if note else "")
    return _FAMILY[metric.kind](metric.prom_name, help_text, labels=[lb.prom for lb in metric.labels])


def families(snapshot: Snapshot) -> Iterator[Metric]:
    s = snapshot.session
    calls = family(cat.SYSCALL_CALLS)
    errors = family(cat.SYSCALL_ERRORS)
    duration = family(cat.SYSCALL_DURATION, snapshot.session.timing_note or "")
    io = family(cat.IO)
    procs = family(cat.PROCESSES)
    for cmd in snapshot.commands:
        c = cmd.command
        procs.add_metric([c], cmd.processes)
        for op, st in sorted(cmd.ops.items()):
            calls.add_metric([c, op], st.calls)
            for etype, n in (("ENOENT", st.enoent), ("EACCES", st.eacces)):
                if n:
                    errors.add_metric([c, op, etype], n)
            other = st.errors - st.enoent - st.eacces
            if other:
                errors.add_metric([c, op, "other"], other)
            if st.timed_calls:
                cumulative, buckets = 0, []
                for le, n in zip(le_bounds(len(st.histogram)), st.histogram, strict=True):
                    cumulative += n
                    buckets.append((le, cumulative))
                duration.add_metric([c, op], buckets, cat.SYSCALL_DURATION.value(st.latency_ns))
        for direction, key in (("read", "bytes_read"), ("write", "bytes_written")):
            if key in cmd.counters:
                io.add_metric([c, direction], cmd.counters[key])
    yield from (calls, errors, duration, io, procs)
    yield from counter_families(snapshot)
    yield from vfs_families(snapshot)

    start = family(cat.SESSION_START)
    start.add_metric([], cat.SESSION_START.value(max(s.start_realtime_ns, s.reset_realtime_ns)))
    running = family(cat.SESSION_RUNNING)
    running.add_metric([], 1 if s.enabled else 0)
    overflow = family(cat.SLOTS_OVERFLOWED)
    overflow.add_metric([], s.slots_overflowed)
    yield from (start, running, overflow)


def counter_families(snapshot: Snapshot) -> Iterator[Metric]:
    """Every other scalar counter (VFS, cache, copy-on-write...), per command,
    in base units: vrift_<name>_total, _bytes_total, _seconds_total."""
    for name, metric in cat.counter_metrics(snapshot):
        fam = family(metric)
        for cmd in snapshot.commands:
            fam.add_metric([cmd.command], metric.value(cmd.counters.get(name, 0)))
        yield fam


def vfs_families(snapshot: Snapshot) -> Iterator[Metric]:
    """What the VFS contributed, as `vrift profile show` and the JSON export
    compute it: session-wide (no command label), absent when the session had
    no projection."""
    from vrift_profile.vfsstats import contribution

    v = contribution(snapshot)
    if v is None:
        return
    if v.time_saved_ns is not None:
        saved = family(cat.VFS_TIME_SAVED)
        saved.add_metric([], cat.VFS_TIME_SAVED.value(v.time_saved_ns))
        yield saved
    original = family(cat.VFS_ORIGINAL_BYTES)
    original.add_metric([], v.original_bytes)
    stored = family(cat.VFS_STORED_BYTES)
    stored.add_metric([], v.stored_bytes)
    yield from (original, stored)


class SnapshotCollector:
    """A prometheus_client collector over a fixed snapshot or a live session file."""

    def __init__(self, snapshot: Snapshot | None = None, session_path: str | None = None):
        self.snapshot = snapshot
        self.session_path = session_path

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        if snap is None:
            assert self.session_path is not None  # constructed with one or the other
            snap = read_profile(self.session_path)
        yield from families(snap)


def exposition(snapshot: Snapshot) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return generate_latest(registry)


def start_server(session_path: str, port: int, addr: str):
    from prometheus_client import start_http_server

    read_profile(session_path)  # refuse a bad file before listening
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(session_path=session_path))
    server, _thread = start_http_server(port, addr=addr, registry=registry)
    return server
