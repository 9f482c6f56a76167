"""OTel export against a real OTLP/HTTP receiver that decodes the protobuf."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from helpers import vrift
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from vrift_profile import read_profile


@pytest.fixture
def receiver():
    received: list[ExportMetricsServiceRequest] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            assert self.path == "/v1/metrics"
            assert self.headers["Content-Type"] == "application/x-protobuf"
            req = ExportMetricsServiceRequest()
            req.ParseFromString(body)
            received.append(req)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/metrics", received
    server.shutdown()


def attrs(kvs) -> dict:
    return {kv.key: (kv.value.string_value or kv.value.int_value) for kv in kvs}


def check_request(req: ExportMetricsServiceRequest, session: Path) -> None:
    snap = read_profile(session)
    (rm,) = req.resource_metrics
    res = attrs(rm.resource.attributes)
    assert res["service.name"] == "vrift"
    assert res["vrift.session.path"] == str(session)
    assert res["host.name"] and res["service.instance.id"]
    (sm,) = rm.scope_metrics
    metrics = {m.name: m for m in sm.metrics}
    start = snap.session.start_realtime_ns

    calls = metrics["vrift.syscall.calls"]
    assert calls.unit == "{call}"
    assert calls.sum.is_monotonic and calls.sum.aggregation_temporality == 2  # CUMULATIVE
    got = {
        (attrs(p.attributes)["process.command"], attrs(p.attributes)["vrift.syscall.name"]): p.as_int
        for p in calls.sum.data_points
    }
    want = {(c.command, op): s.calls for c in snap.commands for op, s in c.ops.items()}
    assert got == want
    assert all(p.start_time_unix_nano == start for p in calls.sum.data_points)

    errs = {}
    for p in metrics["vrift.syscall.errors"].sum.data_points:
        a = attrs(p.attributes)
        errs[(a["process.command"], a["vrift.syscall.name"], a["error.type"])] = p.as_int
    for c in snap.commands:
        for op, s in c.ops.items():
            assert errs.get((c.command, op, "ENOENT"), 0) == s.enoent
            assert errs.get((c.command, op, "EACCES"), 0) == s.eacces
            assert errs.get((c.command, op, "other"), 0) == s.errors - s.enoent - s.eacces

    hist = metrics["vrift.syscall.duration"]
    assert hist.unit == "s" and hist.histogram.aggregation_temporality == 2
    seen = 0
    for p in hist.histogram.data_points:
        a = attrs(p.attributes)
        s = snap.command(a["process.command"]).ops[a["vrift.syscall.name"]]
        assert p.count == sum(s.histogram)  # all calls (weighted when sampled)
        assert p.sum == pytest.approx(s.latency_ns / 1e9)
        assert list(p.bucket_counts) == list(s.histogram)
        assert list(p.explicit_bounds) == [(2 ** (i + 1) - 1) / 1e9 for i in range(31)]
        assert p.start_time_unix_nano == start
        seen += 1
    assert seen == sum(1 for c in snap.commands for s in c.ops.values() if s.timed_calls)

    io = {
        (attrs(p.attributes)["process.command"], attrs(p.attributes)["disk.io.direction"]): p.as_int
        for p in metrics["vrift.io"].sum.data_points
    }
    for c in snap.commands:
        assert io[(c.command, "read")] == c.counters["bytes_read"]


def test_otlp_http_export_every_value(receiver, sample_session: Path):
    url, received = receiver
    vrift("profile", "export", "--path", str(sample_session), "--format", "otel", "--endpoint", url)
    assert len(received) == 1
    check_request(received[0], sample_session)


def test_otlp_endpoint_from_environment(receiver, sample_session: Path, monkeypatch):
    url, received = receiver
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url.removesuffix("/v1/metrics"))
    vrift("profile", "export", "--path", str(sample_session), "--format", "otel")
    assert len(received) == 1


def test_otlp_json_lines_file(sample_session: Path, tmp_path: Path):
    from google.protobuf.json_format import Parse

    out = tmp_path / "metrics.jsonl"
    for _ in range(2):
        vrift("profile", "export", "--path", str(sample_session), "--format", "otel", "-o", str(out))
    lines = out.read_text().splitlines()
    assert len(lines) == 2
    raw = json.loads(lines[0])
    assert raw["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["sum"]["aggregationTemporality"] == 2
    check_request(Parse(lines[1], ExportMetricsServiceRequest()), sample_session)


def export_to(session: Path, url: str, timeout: str):
    return vrift(
        "profile",
        "export",
        "--path",
        str(session),
        "--format",
        "otel",
        "--endpoint",
        url,
        "--timeout",
        timeout,
        check=False,
    )


def test_closed_port_is_a_clear_failure(sample_session: Path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = export_to(sample_session, f"http://127.0.0.1:{port}/v1/metrics", "1")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"vrift: OTLP export to http://127.0.0.1:{port}/v1/metrics failed: "
        f"connection refused (127.0.0.1:{port}: nothing listening)"
    ]


def test_an_http_error_is_told_apart(sample_session: Path):
    import http.server
    import threading

    class Quiet(http.server.BaseHTTPRequestHandler):  # no do_POST: answers 501
        def log_message(self, *args) -> None:
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_port}/v1/metrics"
        r = export_to(sample_session, url, "2")
    finally:
        srv.shutdown()
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"vrift: OTLP export to {url} failed: the collector answered HTTP 501 (Unsupported method ('POST'))"
    ]
