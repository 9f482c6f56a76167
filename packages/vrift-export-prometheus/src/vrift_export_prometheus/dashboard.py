"""A Grafana dashboard for what `vrift profile serve` exposes, scraped by
Prometheus (`vrift profile dashboard -o vrift-grafana.json`).

Built with grafana-foundation-sdk, Grafana Labs' typed builders, so the
JSON is a dashboard model Grafana imports rather than something typed by
hand. Every expression names a metric of vrift_profile.metrics_catalogue, the
list collector.py writes from (tests/exporters/test_grafana_prometheus.py runs each one
against a real Prometheus and compares it with the JSON export).

Panels read one Prometheus data source, chosen by the `datasource`
variable; `instance` picks the scraped `vrift profile serve` endpoints and
`command` the commands (both multi-valued, all by default). Rates use
Grafana's `$__rate_interval`; "since the session started" figures are the
raw cumulative counters, the same numbers `vrift profile show` prints.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import common, stat, table, timeseries
from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.common import (
    BigValueColorMode,
    BigValueGraphMode,
    LegendDisplayMode,
    LegendPlacement,
    SortOrder,
    StackingMode,
    TooltipDisplayMode,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat
from vrift_profile import metrics_catalogue as cat

# The series the panels query, named by the metric catalogue that collector.py writes from.
CALLS = cat.SYSCALL_CALLS.prom_sample
ERRORS = cat.SYSCALL_ERRORS.prom_sample
LATENCY_BUCKET = cat.SYSCALL_DURATION.prom_name + "_bucket"
TIME_IN_CALLS = cat.SYSCALL_DURATION.prom_name + "_sum"
IO_BYTES = cat.IO.prom_sample
PROCESSES = cat.PROCESSES.prom_sample
RUNNING = cat.SESSION_RUNNING.prom_sample
VFS_HANDLED = cat.counter_metric("vfs_handled", "events").prom_sample
VFS_PASSTHROUGH = cat.counter_metric("vfs_passthrough", "events").prom_sample
VFS_ORIGINAL = cat.VFS_ORIGINAL_BYTES.prom_sample
VFS_STORED = cat.VFS_STORED_BYTES.prom_sample
VFS_TIME_SAVED = cat.VFS_TIME_SAVED.prom_sample

# The panel builders a row holds (each takes an id: the SDK gives every panel the same default).
Panel = stat.Panel | timeseries.Panel | table.Panel

UID = "vrift-profile"
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")

# Series of the chosen endpoints; `COMMANDS` also of the chosen commands.
ENDPOINTS = 'instance=~"$instance"'
COMMANDS = f'{ENDPOINTS},command=~"$command"'
RATE = "[$__rate_interval]"


def _sel(metric: str, match: str = COMMANDS) -> str:
    return f"{metric}{{{match}}}"


def _query(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> Dataquery:
    q = Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    if legend:
        q = q.legend_format(legend)
    return q.instant() if instant else q.range()


def _stat(title: str, expr: str, unit: str, description: str, legend: str = "") -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(_query(expr, legend, instant=True))
        .unit(unit)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .graph_mode(BigValueGraphMode.NONE)
        .color_mode(BigValueColorMode.VALUE)
        .height(4)
        .span(4)
    )


def _series(
    title: str, unit: str, description: str, *queries: Dataquery, stacked: bool = False
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .min(0)
        .legend(
            common.VizLegendOptions()
            .display_mode(LegendDisplayMode.LIST)
            .placement(LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(common.VizTooltipOptions().mode(TooltipDisplayMode.MULTI).sort(SortOrder.DESCENDING))
        .line_width(1)
        .fill_opacity(30 if stacked else 10)
        .height(8)
        .span(12)
    )
    if stacked:
        panel = panel.stacking(common.StackingConfig().mode(StackingMode.NORMAL))
    for q in queries:
        panel = panel.with_target(q)
    return panel


def _by(label: str, inner: str) -> str:
    return f"sum by ({label}) ({inner})"


def _rate(metric: str, match: str = COMMANDS) -> str:
    return f"rate({_sel(metric, match)}{RATE})"


def _quantile(q: float) -> str:
    return f"histogram_quantile({q}, {_by('syscall, le', _rate(LATENCY_BUCKET))})"


def overview() -> list[Panel]:
    calls = f"sum({_sel(CALLS)})"
    return [
        _stat("Calls", calls, "short", "File-system calls counted since the session started"),
        _stat(
            "Call rate",
            f"sum({_rate(CALLS)})",
            "ops",
            "Calls per second now (all operations)",
        ),
        _stat(
            "Time in calls",
            f"sum({_sel(TIME_IN_CALLS)})",
            "s",
            "Time spent inside counted calls since the session started (sampled classes: estimates)",
        ),
        _stat(
            "Failed calls",
            f"sum({_sel(ERRORS)}) / {calls}",
            "percentunit",
            "Share of calls that returned an error, since the session started",
        ),
        _stat("Processes", f"sum({_sel(PROCESSES)})", "short", "Process images that made calls"),
        _stat(
            "Sessions counting",
            f"sum({_sel(RUNNING, ENDPOINTS)})",
            "short",
            "Scraped sessions that are counting (vrift profile start); stopped ones count 0",
        ),
    ]


def calls_by_operation() -> list[Panel]:
    return [
        _series(
            "Call rate by operation",
            "ops",
            "Calls per second, by operation class",
            _query(_by("syscall", _rate(CALLS)), "{{syscall}}"),
        ),
        _series(
            "Time in calls by operation",
            "s",
            "Seconds spent inside calls per second of wall time (over 1 with parallel processes)",
            _query(_by("syscall", _rate(TIME_IN_CALLS)), "{{syscall}}"),
        ),
        _series(
            "I/O through wrapped calls",
            "Bps",
            "Bytes per second read and written by counted calls",
            _query(_by("direction", _rate(IO_BYTES)), "{{direction}}"),
        ),
    ]


def latency() -> list[Panel]:
    why = (
        "from vrift's log2 latency buckets: Prometheus interpolates inside a bucket, "
        "so the value is within a factor of 2 of the truth (show prints the bucket's upper bound)"
    )
    return [
        _series(
            "p50 latency by operation",
            "s",
            f"Median call latency, {why}",
            _query(_quantile(0.5), "{{syscall}}"),
        ),
        _series(
            "p99 latency by operation", "s", f"99th percentile, {why}", _query(_quantile(0.99), "{{syscall}}")
        ),
    ]


def errors() -> list[Panel]:
    enoent = f'{COMMANDS},error_type="ENOENT"'
    return [
        _series(
            "Errors by type",
            "ops",
            "Failed calls per second: ENOENT, EACCES, other",
            _query(_by("error_type", _rate(ERRORS)), "{{error_type}}"),
        ),
        _series(
            "ENOENT by operation",
            "ops",
            "Calls per second that found no such file, by operation (probing paths that do not exist)",
            _query(_by("syscall", _rate(ERRORS, enoent)), "{{syscall}}"),
        ),
        _stat(
            "Errors since the session started",
            _by("error_type", _sel(ERRORS)),
            "short",
            "Failed calls by type since the session started",
            "{{error_type}}",
        ).span(6),
    ]


def vfs() -> list[Panel]:
    handled = f"sum({_sel(VFS_HANDLED)})"
    passthrough = f"sum({_sel(VFS_PASSTHROUGH)})"
    original = f"sum({_sel(VFS_ORIGINAL, ENDPOINTS)})"
    stored = f"sum({_sel(VFS_STORED, ENDPOINTS)})"
    return [
        _stat(
            "VFS handled",
            f"{handled} / ({handled} + {passthrough})",
            "percentunit",
            "Share of path calls on a projection that the VFS answered from its manifest, since the "
            "session started (no value: no projection in the session)",
        ),
        _stat(
            "Time saved (estimate)",
            f"sum({_sel(VFS_TIME_SAVED, ENDPOINTS)})",
            "s",
            "Served calls x mean real call of the class - serving time (docs/vfs.md); "
            "for the whole session: the Command filter does not apply",
        ),
        _stat(
            "Disk saved by dedup",
            f"{original} - {stored}",
            "bytes",
            "Original bytes of the session's projections minus the distinct content stored "
            "(for the whole session: the Command filter does not apply)",
        ),
        _series(
            "VFS handled vs passthrough",
            "ops",
            "Path calls per second on a projection: answered by the VFS, or passed to the file system",
            _query(f"sum({_rate(VFS_HANDLED)})", "handled", "A"),
            _query(f"sum({_rate(VFS_PASSTHROUGH)})", "passthrough", "B"),
            stacked=True,
        ),
    ]


def commands() -> list[Panel]:
    def column(ref: str, expr: str) -> Dataquery:
        return _query(expr, ref=ref, instant=True).format(PromQueryFormat.TABLE)

    totals = (
        table.Panel()
        .title("Commands since the session started")
        .description("Processes, calls, time in calls and failed calls per command")
        .datasource(DATASOURCE)
        .with_target(column("A", _by("command", _sel(PROCESSES))))
        .with_target(column("B", _by("command", _sel(CALLS))))
        .with_target(column("C", _by("command", _sel(TIME_IN_CALLS))))
        .with_target(column("D", _by("command", _sel(ERRORS))))
        # One row per command: join the four instant queries on `command`.
        .with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(
            model.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {"Time": True},
                    "renameByName": {
                        "Value #A": "processes",
                        "Value #B": "calls",
                        "Value #C": "time in calls (s)",
                        "Value #D": "failed calls",
                    },
                },
            )
        )
        .sort_by([common.TableSortByFieldState().display_name("time in calls (s)").desc(True)])
        .height(8)
        .span(24)
    )
    return [
        _series(
            "Call rate by command",
            "ops",
            "Calls per second, by command (cc1, make, python3...)",
            _query(_by("command", _rate(CALLS)), "{{command}}"),
        ),
        _series(
            "Time in calls by command",
            "s",
            "Seconds spent inside calls per second of wall time, by command",
            _query(_by("command", _rate(TIME_IN_CALLS)), "{{command}}"),
        ),
        totals,
    ]


def variables() -> list[Builder]:
    def labels(name: str, label: str, query: str) -> gd.QueryVariable:
        return (
            gd.QueryVariable(name)
            .id(name)  # the SDK's default id is one fixed UUID for every variable
            .label(label)
            .datasource(DATASOURCE)
            .query(query)
            .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(model.VariableSort.ALPHABETICAL_ASC)
            .multi(True)
            .include_all(True)
            .all_value(".*")  # a regex over every value, including ones not seen yet
            .current(model.VariableOption(selected=True, text="All", value="$__all"))
        )

    return [
        gd.DatasourceVariable("datasource").id("datasource").label("Data source").type("prometheus"),
        labels("instance", "vrift serve", f"label_values({RUNNING}, instance)"),
        labels("command", "Command", f'label_values({CALLS}{{instance=~"$instance"}}, command)'),
    ]


ROWS = (
    ("Overview", overview),
    ("Calls by operation", calls_by_operation),
    ("Latency", latency),
    ("Errors", errors),
    ("VFS contribution", vfs),
    ("Commands", commands),
)


def build() -> model.Dashboard:
    board = (
        gd.Dashboard("vrift: file-system profile")
        .uid(UID)
        .description("File-system calls counted by vrift (vrift profile serve, scraped by Prometheus)")
        .tags(["vrift", "file-system", "builds"])
        .refresh("10s")
        .time("now-30m", "now")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .variables(variables())
    )
    panel_id = 0
    for title, panels in ROWS:
        panel_id += 1
        board = board.with_row(gd.Row(title).id(panel_id))
        for panel in panels():
            panel_id += 1
            board = board.with_panel(panel.id(panel_id))
    return board.build()


def dashboard_json() -> str:
    """The dashboard model as Grafana's import expects it (indented, sorted keys)."""
    return JSONEncoder(sort_keys=True, indent=2).encode(build()) + "\n"


def panel_queries(board: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(panel title, refId, expr) of every query in a dashboard's JSON,
    collapsed rows included: what a test or a reviewer runs."""
    out = []
    for panel in board.get("panels", []):
        for p in [panel, *panel.get("panels", [])]:
            for t in p.get("targets", []):
                out.append((p["title"], t["refId"], t["expr"]))
    return out
