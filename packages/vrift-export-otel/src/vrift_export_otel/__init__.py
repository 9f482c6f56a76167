"""vrift exporter: OpenTelemetry metrics (registered as format `otel`).

This module stays light; the SDK is imported only when an export runs
(metrics.py builds the data, this file sends it).
"""

from __future__ import annotations

import argparse
import logging
import os

from vrift_profile import Exporter, ExportError, Snapshot, hookimpl, write_output

DEFAULT_ENDPOINT = "http://localhost:4318/v1/metrics"


class OtelExporter(Exporter):
    name = "otel"
    description = "OpenTelemetry metrics: OTLP/HTTP (--endpoint), OTLP JSON Lines (--output) or --console"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--endpoint",
            help="OTLP/HTTP metrics URL (default: $OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, "
            f"$OTEL_EXPORTER_OTLP_ENDPOINT/v1/metrics, else {DEFAULT_ENDPOINT})",
        )
        parser.add_argument("--timeout", type=float, default=5.0, help="seconds (default 5)")
        parser.add_argument("--console", action="store_true", help="print the OTLP JSON to stdout")
        parser.add_argument("--service-name", default="vrift", help="resource service.name (default vrift)")

    def export(self, snapshot: Snapshot, options: argparse.Namespace) -> None:
        from .metrics import metrics_data, to_otlp_json

        data = metrics_data(snapshot, service_name=options.service_name)
        if options.output:  # OTLP JSON Lines: one request per line, appended
            line = to_otlp_json(data, indent=None) + "\n"
            try:
                with open(options.output, "a", encoding="utf-8") as f:
                    f.write(line)
            except OSError as e:
                raise ExportError(f"cannot write {options.output}: {e.strerror}") from None
            return
        if options.console:
            write_output((to_otlp_json(data, indent=2) + "\n").encode(), None)
            return
        send(data, endpoint_of(options.endpoint), options.timeout)


def endpoint_of(flag: str | None) -> str:
    if flag:
        return flag
    if os.environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"):
        return os.environ["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"]
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/metrics"
    return DEFAULT_ENDPOINT


def send(data, endpoint: str, timeout: float) -> None:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics.export import MetricExportResult

    # The SDK logs each failed attempt (with a traceback); we keep its words
    # and report one line instead.
    said: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(record.getMessage())

    sdk_log = logging.getLogger("opentelemetry.exporter.otlp.proto.http")
    keep, propagate = Keep(), sdk_log.propagate
    sdk_log.addHandler(keep)
    sdk_log.propagate = False
    try:
        exporter = OTLPMetricExporter(endpoint=endpoint, timeout=timeout)
        result = exporter.export(data, timeout_millis=timeout * 1000)
        exporter.shutdown()
    finally:
        sdk_log.removeHandler(keep)
        sdk_log.propagate = propagate
    if result is not MetricExportResult.SUCCESS:
        raise ExportError(f"OTLP export to {endpoint} failed: {why_failed(endpoint, timeout, said)}")


def why_failed(endpoint: str, timeout: float, said: list[str]) -> str:
    """Connection refused, timed out, or the collector's HTTP answer."""
    import re
    import socket
    from urllib.parse import urlsplit

    for line in said:
        m = re.search(r"code: (\d+), reason: (.*)", line)
        if m:
            return f"the collector answered HTTP {m.group(1)} ({m.group(2).strip()})"
    u = urlsplit(endpoint)
    port = u.port or (443 if u.scheme == "https" else 80)
    try:
        with socket.create_connection((u.hostname or "localhost", port), timeout=timeout):
            return f"the collector accepted the connection but gave no answer within {timeout:g}s"
    except ConnectionRefusedError:
        return f"connection refused ({u.hostname}:{port}: nothing listening)"
    except TimeoutError:
        return f"timed out after {timeout:g}s connecting to {u.hostname}:{port}"
    except OSError as e:
        return f"cannot connect to {u.hostname}:{port}: {e.strerror or e}"


@hookimpl
def vrift_exporters() -> list[Exporter]:
    return [OtelExporter()]
