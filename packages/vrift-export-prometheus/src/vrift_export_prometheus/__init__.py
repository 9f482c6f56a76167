"""vrift exporter: Prometheus text exposition (registered as format `prometheus`).

`--output dir/vrift.prom` writes atomically for node_exporter's textfile
collector; `vrift profile serve --port N` (serve()) exposes /metrics live.
prometheus_client is imported only when an export or the server runs.
"""

from __future__ import annotations

import argparse

from vrift_profile import Exporter, Snapshot, hookimpl, write_output


class PrometheusExporter(Exporter):
    name = "prometheus"
    description = "Prometheus text format (node_exporter textfile collector friendly)"

    def export(self, snapshot: Snapshot, options: argparse.Namespace) -> None:
        from .collector import exposition

        write_output(exposition(snapshot), options.output, mode=0o644)


def serve(session_path: str, port: int, addr: str = "127.0.0.1"):
    """Serve /metrics for the session at `session_path`, read afresh on each
    scrape. Returns the HTTP server (call .shutdown() to stop)."""
    from .collector import start_server

    return start_server(session_path, port, addr)


@hookimpl
def vrift_exporters() -> list[Exporter]:
    return [PrometheusExporter()]
