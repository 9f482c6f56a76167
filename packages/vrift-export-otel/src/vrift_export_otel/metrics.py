"""Snapshot -> OpenTelemetry MetricsData, pre-aggregated.

The counters are already cumulative sums and the latency histograms
already bucketed, so we build the SDK's point objects directly (no
instruments, no re-sampling) and keep the true start time: the session
start, or its last reset.

Histogram buckets: our bucket i holds integer ns in [2^i, 2^(i+1)); OTel
explicit buckets are upper-inclusive, so bounds of (2^(i+1) - 1) ns map
them exactly. Our last bucket is unbounded, so it becomes the +Inf bucket.
"""

from __future__ import annotations

import hashlib
import socket
from typing import Any

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from vrift_profile import Snapshot
from vrift_profile import metrics_catalogue as cat
from vrift_profile.vfsstats import contribution

CUMULATIVE = AggregationTemporality.CUMULATIVE
# The SDK types a histogram point's min and max as float, but its OTLP
# encoder leaves None out: that is how a pre-aggregated point says "unknown".
UNKNOWN: Any = None
SCOPE = InstrumentationScope("vrift", "0.1.0")


def explicit_bounds_s(buckets: int) -> list[float]:
    return [(2 ** (i + 1) - 1) / 1e9 for i in range(buckets - 1)]


def resource(snapshot: Snapshot, service_name: str) -> Resource:
    s = snapshot.session
    # Stable per session: the same series across repeated exports of one session.
    instance = hashlib.sha256(f"{s.path}:{s.start_realtime_ns}".encode()).hexdigest()[:16]
    return Resource(
        {
            "service.name": service_name,
            "service.instance.id": instance,
            "host.name": socket.gethostname(),
            "vrift.session.path": s.path,
            "vrift.session.start_time_unix_nano": s.start_realtime_ns,
            "vrift.profile.format": s.format_version,
        }
    )


def metrics_data(snapshot: Snapshot, service_name: str = "vrift") -> MetricsData:
    s = snapshot.session
    start = max(s.start_realtime_ns, s.reset_realtime_ns)
    now = s.taken_realtime_ns

    def point(value: int | float, **attrs: str) -> NumberDataPoint:
        return NumberDataPoint(attributes=attrs, start_time_unix_nano=start, time_unix_nano=now, value=value)

    def labels(metric: cat.Metric, *values: str) -> dict[str, str]:
        return {lb.otel: v for lb, v in zip(metric.labels, values, strict=True)}

    calls, errors, hists, io, procs = [], [], [], [], []
    for cmd in snapshot.commands:
        c = cmd.command
        procs.append(point(cmd.processes, **labels(cat.PROCESSES, c)))
        for op, st in cmd.ops.items():
            calls.append(point(st.calls, **labels(cat.SYSCALL_CALLS, c, op)))
            other = st.errors - st.enoent - st.eacces
            for etype, n in (("ENOENT", st.enoent), ("EACCES", st.eacces), ("other", other)):
                if n:
                    errors.append(point(n, **labels(cat.SYSCALL_ERRORS, c, op, etype)))
            if st.timed_calls:
                hists.append(
                    HistogramDataPoint(
                        attributes=labels(cat.SYSCALL_DURATION, c, op),
                        start_time_unix_nano=start,
                        time_unix_nano=now,
                        count=sum(st.histogram),  # = calls, estimated when sampled
                        sum=cat.SYSCALL_DURATION.value(st.latency_ns),
                        bucket_counts=list(st.histogram),
                        explicit_bounds=explicit_bounds_s(len(st.histogram)),
                        min=UNKNOWN,  # only bucket bounds are known; left out of OTLP
                        max=UNKNOWN,
                    )
                )
        for direction, key in (("read", "bytes_read"), ("write", "bytes_written")):
            if key in cmd.counters:
                io.append(point(cmd.counters[key], **labels(cat.IO, c, direction)))

    def metric(entry: cat.Metric, points: list, note: str = "") -> Metric:
        description = entry.description + (f" ({note})" if note else "")
        if entry.kind is cat.Kind.HISTOGRAM:
            data: Sum | Gauge | Histogram = Histogram(points, CUMULATIVE)
        elif entry.kind is cat.Kind.GAUGE:
            data = Gauge(points)
        else:
            data = Sum(points, CUMULATIVE, is_monotonic=True)
        return Metric(entry.otel_name, description, entry.unit, data)

    metrics = [
        metric(cat.SYSCALL_CALLS, calls),
        metric(cat.SYSCALL_ERRORS, errors),
        metric(cat.SYSCALL_DURATION, hists, snapshot.session.timing_note or ""),
        metric(cat.IO, io),
        metric(cat.PROCESSES, procs),
    ]
    for name, entry in cat.counter_metrics(snapshot):
        points = [
            point(entry.value(c.counters.get(name, 0)), **labels(entry, c.command)) for c in snapshot.commands
        ]
        metrics.append(metric(entry, points))
    metrics += [
        metric(cat.SESSION_START, [point(cat.SESSION_START.value(start))]),
        metric(cat.SESSION_RUNNING, [point(1 if s.enabled else 0)]),
        metric(cat.SLOTS_OVERFLOWED, [point(s.slots_overflowed)]),
    ]
    v = contribution(snapshot)
    if v is not None:
        if v.time_saved_ns is not None:
            metrics.append(metric(cat.VFS_TIME_SAVED, [point(cat.VFS_TIME_SAVED.value(v.time_saved_ns))]))
        metrics.append(metric(cat.VFS_ORIGINAL_BYTES, [point(v.original_bytes)]))
        metrics.append(metric(cat.VFS_STORED_BYTES, [point(v.stored_bytes)]))
    scope = ScopeMetrics(SCOPE, [m for m in metrics if m.data.data_points], schema_url="")
    return MetricsData([ResourceMetrics(resource(snapshot, service_name), [scope], schema_url="")])


def to_otlp_json(data: MetricsData, indent: int | None = None) -> str:
    """OTLP/JSON of an ExportMetricsServiceRequest (what the collector's
    otlpjsonfile receiver reads), with integer enums as the spec requires."""
    from google.protobuf.json_format import MessageToJson
    from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics

    return MessageToJson(encode_metrics(data), use_integers_for_enums=True, indent=indent)
