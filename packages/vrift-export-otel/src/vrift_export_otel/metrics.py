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

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
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
from vrift_profile.snapshot import counter_unit

CUMULATIVE = AggregationTemporality.CUMULATIVE
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

    calls, errors, hists, io, procs = [], [], [], [], []
    for cmd in snapshot.commands:
        c = cmd.command
        procs.append(point(cmd.processes, **{"process.command": c}))
        for op, st in cmd.ops.items():
            attrs = {"process.command": c, "vrift.syscall.name": op}
            calls.append(point(st.calls, **attrs))
            other = st.errors - st.enoent - st.eacces
            for etype, n in (("ENOENT", st.enoent), ("EACCES", st.eacces), ("other", other)):
                if n:
                    errors.append(point(n, **attrs, **{"error.type": etype}))
            if st.timed_calls:
                hists.append(
                    HistogramDataPoint(
                        attributes=attrs,
                        start_time_unix_nano=start,
                        time_unix_nano=now,
                        count=sum(st.histogram),  # = calls, estimated when sampled
                        sum=st.latency_ns / 1e9,
                        bucket_counts=list(st.histogram),
                        explicit_bounds=explicit_bounds_s(len(st.histogram)),
                        min=None,  # only bucket bounds are known; left out of OTLP
                        max=None,
                    )
                )
        for direction, key in (("read", "bytes_read"), ("write", "bytes_written")):
            if key in cmd.counters:
                io.append(point(cmd.counters[key], **{"process.command": c, "disk.io.direction": direction}))

    def total(name: str, unit: str, desc: str, points: list) -> Metric:
        return Metric(name, desc, unit, Sum(points, CUMULATIVE, is_monotonic=True))

    metrics = [
        total("vrift.syscall.calls", "{call}", "File-system calls seen by the vrift shim", calls),
        total("vrift.syscall.errors", "{error}", "Calls that failed, by error.type", errors),
        Metric(
            "vrift.syscall.duration",
            "Latency of timed calls" + (f" ({note})" if (note := snapshot.session.timing_note) else ""),
            "s",
            Histogram(hists, CUMULATIVE),
        ),
        total("vrift.io", "By", "Bytes read and written through wrapped calls", io),
        total("vrift.processes", "{process}", "Process images that made counted calls", procs),
    ]
    names = sorted({k for c in snapshot.commands for k in c.counters} - {"bytes_read", "bytes_written"})
    for name in names:
        unit = counter_unit(name)
        points = [
            point(c.counters.get(name, 0) / (1e9 if unit == "ns" else 1), **{"process.command": c.command})
            for c in snapshot.commands
        ]
        otel_unit = {"bytes": "By", "ns": "s", "events": "{event}"}[unit]
        metrics.append(total(f"vrift.counter.{name}", otel_unit, f"vrift counter {name}", points))
    scope = ScopeMetrics(SCOPE, [m for m in metrics if m.data.data_points], schema_url="")
    return MetricsData([ResourceMetrics(resource(snapshot, service_name), [scope], schema_url="")])


def to_otlp_json(data: MetricsData, indent: int | None = None) -> str:
    """OTLP/JSON of an ExportMetricsServiceRequest (what the collector's
    otlpjsonfile receiver reads), with integer enums as the spec requires."""
    from google.protobuf.json_format import MessageToJson
    from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics

    return MessageToJson(encode_metrics(data), use_integers_for_enums=True, indent=indent)
