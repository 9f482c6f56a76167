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

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString
from vrift_profile import Snapshot, read_profile
from vrift_profile.snapshot import counter_unit


def le_bounds(buckets: int) -> list[str]:
    return [floatToGoString((2 ** (i + 1) - 1) / 1e9) for i in range(buckets - 1)] + ["+Inf"]


def families(snapshot: Snapshot) -> Iterator[Metric]:
    s = snapshot.session
    calls = CounterMetricFamily(
        "vrift_syscall_calls", "File-system calls seen by the vrift shim", labels=["command", "syscall"]
    )
    errors = CounterMetricFamily(
        "vrift_syscall_errors",
        "Calls that failed, by error type (ENOENT, EACCES, other)",
        labels=["command", "syscall", "error_type"],
    )
    duration = HistogramMetricFamily(
        "vrift_syscall_duration_seconds",
        "Latency of timed calls" + (f" ({note})" if (note := snapshot.session.timing_note) else ""),
        labels=["command", "syscall"],
    )
    io = CounterMetricFamily(
        "vrift_io_bytes", "Bytes read and written through wrapped calls", labels=["command", "direction"]
    )
    procs = CounterMetricFamily(
        "vrift_processes", "Process images that made counted calls", labels=["command"]
    )
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
                duration.add_metric([c, op], buckets, st.latency_ns / 1e9)
        for direction, key in (("read", "bytes_read"), ("write", "bytes_written")):
            if key in cmd.counters:
                io.add_metric([c, direction], cmd.counters[key])
    yield from (calls, errors, duration, io, procs)
    yield from counter_families(snapshot)
    yield from vfs_families(snapshot)

    start = GaugeMetricFamily(
        "vrift_session_start_time_seconds", "When the session (or its last reset) started, Unix time"
    )
    start.add_metric([], max(s.start_realtime_ns, s.reset_realtime_ns) / 1e9)
    running = GaugeMetricFamily("vrift_session_running", "1 while the session counts, 0 when stopped")
    running.add_metric([], 1 if s.enabled else 0)
    overflow = CounterMetricFamily(
        "vrift_session_slots_overflowed", "Process images counted in the shared overflow slot"
    )
    overflow.add_metric([], s.slots_overflowed)
    yield from (start, running, overflow)


def counter_families(snapshot: Snapshot) -> Iterator[Metric]:
    """Every other scalar counter (VFS, cache, copy-on-write...), per command,
    in base units: vrift_<name>_total, _bytes_total, _seconds_total."""
    names = sorted({k for c in snapshot.commands for k in c.counters} - {"bytes_read", "bytes_written"})
    for name in names:
        unit = counter_unit(name)
        metric = "vrift_" + name.replace("_ns_", "_").removesuffix("_ns")
        if unit == "bytes":
            metric = metric.removesuffix("_bytes") + "_bytes"
        elif unit == "ns":
            metric += "_seconds"
        fam = CounterMetricFamily(metric, f"vrift counter {name} ({unit})", labels=["command"])
        for cmd in snapshot.commands:
            v = cmd.counters.get(name, 0)
            fam.add_metric([cmd.command], v / 1e9 if unit == "ns" else v)
        yield fam


def vfs_families(snapshot: Snapshot) -> Iterator[Metric]:
    """What the VFS contributed, as `vrift profile show` and the JSON export
    compute it: session-wide gauges (no command label), absent when the
    session had no projection. Gauges, not counters: the time saved is an
    estimate recomputed from running means, so it can go down."""
    from vrift_profile.vfsstats import contribution

    v = contribution(snapshot)
    if v is None:
        return
    if v.time_saved_ns is not None:
        saved = GaugeMetricFamily(
            "vrift_vfs_time_saved_seconds",
            "Estimated time the VFS saved: served calls x mean real call of the class - serving time",
        )
        saved.add_metric([], v.time_saved_ns / 1e9)
        yield saved
    original = GaugeMetricFamily(
        "vrift_vfs_original_bytes", "Bytes of the session's projections as ingested, before dedup"
    )
    original.add_metric([], v.original_bytes)
    stored = GaugeMetricFamily(
        "vrift_vfs_stored_bytes", "Distinct content bytes stored for the session's projections"
    )
    stored.add_metric([], v.stored_bytes)
    yield from (original, stored)


class SnapshotCollector:
    """A prometheus_client collector over a fixed snapshot or a live session file."""

    def __init__(self, snapshot: Snapshot | None = None, session_path: str | None = None):
        self.snapshot = snapshot
        self.session_path = session_path

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot if self.snapshot is not None else read_profile(self.session_path)
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
