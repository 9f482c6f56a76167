"""The Grafana dashboard against a real Prometheus server.

Prometheus scrapes `vrift profile serve` every second while a workload runs
under the shim (plain programs, and programs on a VFS projection). Then every
query of every panel, read from `vrift profile dashboard`'s JSON, runs through
Prometheus's HTTP API and must equal what `vrift profile export --format json`
says.

How the rates are made exact: the workload runs in two phases. After each one
the test waits for a scrape that started after the phase ended, takes that
scrape's timestamp (s0 after phase one, s1 after phase two) and exports the
JSON (A, B): nothing moves between the end of a phase and its export, so the
scrape and the JSON describe the same state. Queries run at s1 with
$__rate_interval = s1 - s0. Prometheus 2.x's range [s1 - R, s1] then begins and
ends on a sample, so rate() extrapolates nothing and is (B - A) / R exactly;
phase one creates every series phase two touches (checked), so no series starts
inside the range; a scrape in between sees phase two half done. Instant queries
at s1 equal B. Values agree to float rounding (Prometheus sums in another
order): relative 1e-9.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import profiled_env, vrift
from vrift_profile.snapshot import OpStats

PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="prometheus server not installed (scripts/test installs the Debian package `prometheus`)",
)

SCRAPE_INTERVAL_S = 1
READY_TIMEOUT_S = 120  # a loaded 2-core machine starts Prometheus slowly
SCRAPE_TIMEOUT_S = 60

Labels = frozenset[tuple[str, str]]
Series = dict[tuple[str, Labels], float]  # (metric name, labels) -> value
Vector = dict[Labels, float]


# -- the servers ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    """A Prometheus server on a loopback port with its own config and storage."""

    def __init__(self, workdir: Path, target: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "prometheus.yml"
        config.write_text(
            "global:\n"
            f"  scrape_interval: {SCRAPE_INTERVAL_S}s\n"
            f"  scrape_timeout: {SCRAPE_INTERVAL_S}s\n"
            "scrape_configs:\n"
            "  - job_name: vrift\n"
            "    static_configs:\n"
            f"      - targets: ['{target}']\n"
        )
        self.log = workdir / "prometheus.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    PROMETHEUS,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"prometheus exited: {self.log.read_text()[-2000:]}"
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"prometheus not ready after {READY_TIMEOUT_S}s: {self.log.read_text()[-2000:]}")

    def api(self, path: str, **params: str) -> dict:
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=30) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str, at_ms: int) -> Vector:
        data = self.api("query", query=expr, time=f"{at_ms / 1000:.3f}")
        assert data["resultType"] == "vector", (expr, data)
        return {
            frozenset((k, v) for k, v in r["metric"].items() if k != "__name__"): float(r["value"][1])
            for r in data["result"]
        }

    def scrape_after(self, wall_s: float) -> int:
        """Timestamp (ms) of the first stored scrape that started after `wall_s`.
        A sample is queryable only once its scrape is complete, and the margin
        covers Prometheus aligning a scrape's timestamp by a few ms."""
        after_ms = int(wall_s * 1000) + 100
        deadline = time.monotonic() + SCRAPE_TIMEOUT_S
        while time.monotonic() < deadline:
            now_ms = int(time.time() * 1000)
            got = self.query("timestamp(vrift_session_running)", now_ms)
            if got and (ts := round(next(iter(got.values())) * 1000)) > after_ms:
                return ts
            time.sleep(0.2)
        raise AssertionError(
            f"no scrape after {wall_s} within {SCRAPE_TIMEOUT_S}s: {self.log.read_text()[-2000:]}"
        )

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_prometheus(workdir: Path, target: str) -> Prometheus:
    """Ready to query; another port when the free one was taken meanwhile."""
    for attempt in range(3):
        tries = workdir / f"prometheus-{attempt}"
        tries.mkdir()
        prom = Prometheus(tries, target)
        try:
            prom.wait_ready()
            return prom
        except AssertionError:
            prom.stop()
            if "address already in use" not in prom.log.read_text():
                raise
    raise AssertionError("no free port for prometheus after 3 tries")


def start_serve(session: Path) -> tuple[subprocess.Popen, str]:
    """`vrift profile serve` on a free loopback port; returns it and host:port."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "vrift_cli", "profile", "serve", "--path", str(session), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    assert " at http://" in line, line + proc.stderr.read()
    return proc, line.split(" at http://")[1].split("/")[0]


# -- the workload --------------------------------------------------------------


def projection(tmp_path: Path) -> Path:
    """A projected tree with duplicate contents (so dedup saves something)."""
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    for i in range(24):
        (tree / f"f{i}.txt").write_text(f"content {i % 6}\n" * (1 + i % 6))
    (tree / "sub" / "copy.txt").write_text("content 0\n")
    vrift("ingest", str(tree), "--name", "g")
    dest = tmp_path / "proj"
    vrift("mount", "g", str(dest))
    return dest


def run_workload(cbin: Path, shim_lib: Path, session: Path, proj: Path, scale: int) -> None:
    """Plain programs (stat, ENOENT lstat, a directory listing) and programs on
    the projection (served metadata, reads from blobs). The same commands and
    operations at every scale: only the counts change."""
    env = profiled_env(shim_lib, session)
    missing = "/nonexistent-vrift-grafana"
    subprocess.run(
        [cbin / "stat_loop", "/etc/hostname", str(150 * scale), missing, str(40 * scale)],
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(["ls", "-la", "/etc"], env=env, check=True, capture_output=True)
    script = "for i in $(seq {n}); do cat f*.txt; done >/dev/null; ls -lR >/dev/null; stat f1.txt no || true"
    subprocess.run(
        [sys.executable, "-m", "vrift_cli", "run", "--profile", str(session), "--vfs", str(proj), "--"]
        + ["sh", "-c", script.format(n=scale)],
        cwd=proj,
        check=True,
        capture_output=True,
    )


# -- what the JSON says, in the exposition's names (docs/exporters.md) ---------


def le(i: int, buckets: int) -> str:
    return "+Inf" if i == buckets - 1 else repr((2 ** (i + 1) - 1) / 1e9)


def series_of(doc: dict) -> Series:
    out: Series = {}

    def put(name: str, value: float, **labels: str) -> None:
        out[(name, frozenset(labels.items()))] = float(value)

    for p in doc["processes"]:
        c = p["command"]
        put("vrift_processes_total", p["processes"], command=c)
        for op, st in p["syscalls"].items():
            put("vrift_syscall_calls_total", st["calls"], command=c, syscall=op)
            other = st["errors"] - st["enoent"] - st["eacces"]
            for etype, n in (("ENOENT", st["enoent"]), ("EACCES", st["eacces"]), ("other", other)):
                if n:  # the exposition has no zero error series
                    put("vrift_syscall_errors_total", n, command=c, syscall=op, error_type=etype)
            if st["timed_calls"]:
                put("vrift_syscall_duration_seconds_sum", st["latency_ns"] / 1e9, command=c, syscall=op)
                cumulative = 0
                for i, n in enumerate(st["histogram"]):
                    cumulative += n
                    bucket = le(i, len(st["histogram"]))
                    put("vrift_syscall_duration_seconds_bucket", cumulative, command=c, syscall=op, le=bucket)
        ctr = p["counters"]
        for direction, key in (("read", "bytes_read"), ("write", "bytes_written")):
            if key in ctr:
                put("vrift_io_bytes_total", ctr[key], command=c, direction=direction)
        for key in ("vfs_handled", "vfs_passthrough"):
            if key in ctr:
                put(f"vrift_{key}_total", ctr[key], command=c)
    vfs = doc["vfs"]
    if vfs:
        if vfs["time_saved_ns"] is not None:
            put("vrift_vfs_time_saved_seconds", vfs["time_saved_ns"] / 1e9)
        put("vrift_vfs_original_bytes", vfs["original_size"])
        put("vrift_vfs_stored_bytes", vfs["stored_size"])
    put("vrift_session_running", doc["session"]["state"] == "running")
    return out


class Moment:
    """The two JSON exports and the range between their scrapes, seen through
    the dashboard's `command` filter (a regex, anchored as Prometheus's are)."""

    def __init__(self, a: Series, b: Series, range_s: float, commands: str):
        self.a, self.b, self.range_s, self.commands = a, b, range_s, commands

    def _sum(self, s: Series, metric: str, by: tuple[str, ...], filtered: bool, match: dict) -> Vector:
        out: Vector = {}
        for (name, labels), v in s.items():
            lab = dict(labels)
            if name != metric or any(lab.get(k) != want for k, want in match.items()):
                continue
            if filtered and not re.fullmatch(self.commands, lab.get("command", "")):
                continue
            key = frozenset((k, lab[k]) for k in by if k in lab)
            out[key] = out.get(key, 0.0) + v
        return out

    def now(self, metric: str, *by: str, **match: str) -> Vector:
        """sum by (by) (metric{command=~$command, match}) at s1."""
        return self._sum(self.b, metric, by, True, match)

    def session(self, metric: str) -> Vector:
        """A session-wide gauge: no command label, so no command filter."""
        return self._sum(self.b, metric, (), False, {})

    def rate(self, metric: str, *by: str, **match: str) -> Vector:
        """sum by (by) (rate(metric{...}[s1 - s0])) at s1: (B - A) / R."""
        before = self._sum(self.a, metric, by, True, match)
        after = self._sum(self.b, metric, by, True, match)
        return {k: (v - before[k]) / self.range_s for k, v in after.items()}


def binary(op: Callable[[float, float], float]) -> Callable[[Vector, Vector], Vector]:
    """A PromQL arithmetic operator between vectors: one-to-one on equal labels."""

    def apply(x: Vector, y: Vector) -> Vector:
        return {k: op(v, y[k]) for k, v in x.items() if k in y}

    return apply


def _div(x: float, y: float) -> float:
    if y == 0:  # IEEE, as Prometheus divides
        return math.nan if x == 0 else math.copysign(math.inf, x)
    return x / y


add, sub, div = binary(lambda x, y: x + y), binary(lambda x, y: x - y), binary(_div)


def histogram_quantile(q: float, buckets: Vector) -> Vector:
    """Prometheus's histogram_quantile (promql/quantile.go, bucketQuantile) on
    `sum by (syscall, le)` buckets: linear inside the bucket holding rank q x
    count; the +Inf bucket answers the highest finite bound."""
    groups: dict[Labels, list[tuple[float, float]]] = {}
    for labels, v in buckets.items():
        lab = dict(labels)
        bound = float(lab.pop("le"))
        groups.setdefault(frozenset(lab.items()), []).append((bound, v))
    out: Vector = {}
    for key, bs in groups.items():
        bs.sort()
        rank = q * bs[-1][1]
        b = next((i for i in range(len(bs) - 1) if bs[i][1] >= rank), len(bs) - 1)
        if b == len(bs) - 1:
            out[key] = bs[-2][0]
            continue
        start, end, count = 0.0, bs[b][0], bs[b][1]
        if b > 0:
            start, count, rank = bs[b - 1][0], count - bs[b - 1][1], rank - bs[b - 1][1]
        out[key] = start + (end - start) * _div(rank, count)
    return out


CALLS, ERRORS, PROCS = "vrift_syscall_calls_total", "vrift_syscall_errors_total", "vrift_processes_total"
TIME, BUCKETS, IO = (
    "vrift_syscall_duration_seconds_sum",
    "vrift_syscall_duration_seconds_bucket",
    "vrift_io_bytes_total",
)
HANDLED, PASSTHROUGH = "vrift_vfs_handled_total", "vrift_vfs_passthrough_total"

# What each panel's query must return, from the JSON. A panel without an entry
# here fails the test: a new panel needs its expected value too.
EXPECTED: dict[tuple[str, str], Callable[[Moment], Vector]] = {
    ("Calls", "A"): lambda m: m.now(CALLS),
    ("Call rate", "A"): lambda m: m.rate(CALLS),
    ("Time in calls", "A"): lambda m: m.now(TIME),
    ("Failed calls", "A"): lambda m: div(m.now(ERRORS), m.now(CALLS)),
    ("Processes", "A"): lambda m: m.now(PROCS),
    ("Sessions counting", "A"): lambda m: m.session("vrift_session_running"),
    ("Call rate by operation", "A"): lambda m: m.rate(CALLS, "syscall"),
    ("Time in calls by operation", "A"): lambda m: m.rate(TIME, "syscall"),
    ("I/O through wrapped calls", "A"): lambda m: m.rate(IO, "direction"),
    ("p50 latency by operation", "A"): lambda m: histogram_quantile(0.5, m.rate(BUCKETS, "syscall", "le")),
    ("p99 latency by operation", "A"): lambda m: histogram_quantile(0.99, m.rate(BUCKETS, "syscall", "le")),
    ("Errors by type", "A"): lambda m: m.rate(ERRORS, "error_type"),
    ("ENOENT by operation", "A"): lambda m: m.rate(ERRORS, "syscall", error_type="ENOENT"),
    ("Errors since the session started", "A"): lambda m: m.now(ERRORS, "error_type"),
    ("VFS handled", "A"): lambda m: div(m.now(HANDLED), add(m.now(HANDLED), m.now(PASSTHROUGH))),
    ("Time saved (estimate)", "A"): lambda m: m.session("vrift_vfs_time_saved_seconds"),
    ("Disk saved by dedup", "A"): lambda m: sub(
        m.session("vrift_vfs_original_bytes"), m.session("vrift_vfs_stored_bytes")
    ),
    ("VFS handled vs passthrough", "A"): lambda m: m.rate(HANDLED),
    ("VFS handled vs passthrough", "B"): lambda m: m.rate(PASSTHROUGH),
    ("Call rate by command", "A"): lambda m: m.rate(CALLS, "command"),
    ("Time in calls by command", "A"): lambda m: m.rate(TIME, "command"),
    ("Commands since the session started", "A"): lambda m: m.now(PROCS, "command"),
    ("Commands since the session started", "B"): lambda m: m.now(CALLS, "command"),
    ("Commands since the session started", "C"): lambda m: m.now(TIME, "command"),
    ("Commands since the session started", "D"): lambda m: m.now(ERRORS, "command"),
}


def same(got: Vector, want: Vector) -> bool:
    if got.keys() != want.keys():
        return False
    for k, w in want.items():
        g = got[k]
        if math.isnan(w) or math.isnan(g):
            if not (math.isnan(w) and math.isnan(g)):
                return False
        elif g != pytest.approx(w, rel=1e-9, abs=1e-15):
            return False
    return True


def grafana_expr(expr: str, range_ms: int, instance: str, commands: str) -> str:
    """The query Grafana sends: its variables replaced as Grafana replaces
    them for Prometheus (multi-value regex, All = the variable's allValue)."""
    out = (
        expr.replace("$__rate_interval", f"{range_ms}ms")
        .replace("$instance", instance)
        .replace("$command", commands)
    )
    assert "$" not in out, f"a dashboard variable the test does not know: {out}"
    return out


def export_json(session: Path) -> dict:
    return json.loads(vrift("profile", "export", "--format", "json", "--path", str(session)).stdout)


# -- the test ------------------------------------------------------------------


def test_every_panel_query_matches_the_json_export(
    cbin: Path, shim_lib: Path, tmp_path: Path, rundir, monkeypatch: pytest.MonkeyPatch
):
    from vrift_profile import create_session

    monkeypatch.setenv("VRIFT_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("VRIFT_STATE", str(tmp_path / "state"))
    board_file = tmp_path / "vrift-grafana.json"
    vrift("profile", "dashboard", "-o", str(board_file))
    board = json.loads(board_file.read_text())
    from vrift_export_prometheus.dashboard import panel_queries

    queries = panel_queries(board)
    assert {(title, ref) for title, ref, _ in queries} == set(EXPECTED), (
        "every panel query needs an expectation"
    )

    proj = projection(tmp_path)
    session = create_session(tmp_path / "grafana.vrift")
    serve, target = start_serve(session)
    prom = None
    try:
        prom = start_prometheus(tmp_path, target)
        run_workload(cbin, shim_lib, session, proj, scale=1)
        s0 = prom.scrape_after(time.time())
        a = export_json(session)
        run_workload(cbin, shim_lib, session, proj, scale=2)
        prom.scrape_after(time.time())  # Prometheus also sees the workload half done
        run_workload(cbin, shim_lib, session, proj, scale=1)
        s1 = prom.scrape_after(time.time())
        b = export_json(session)
        range_ms = s1 - s0

        # The range holds its first sample at s0 itself (Prometheus 2.x ranges
        # include their start; 3.x's do not, and rates would extrapolate).
        window = prom.api("query", query=f"vrift_session_running[{range_ms}ms]", time=f"{s1 / 1000:.3f}")
        stamps = [round(float(t) * 1000) for t, _ in window["result"][0]["values"]]
        assert stamps[0] == s0 and stamps[-1] == s1, "the range must begin and end on a scrape"
        stat_calls = f'{CALLS}{{command="stat_loop",syscall="stat"}}'
        changes = prom.query(f"changes({stat_calls}[{range_ms}ms])", s1)
        assert list(changes.values())[0] >= 2, "a scrape must see phase two half done"

        sa, sb = series_of(a), series_of(b)
        assert set(sb) == set(sa), f"series new in phase two: {sorted(set(sb) - set(sa))[:5]}"
        assert sb != sa, "phase two counted nothing"

        # Each pass: Grafana's "All" (allValue .*), then one endpoint and two commands.
        escaped_target = re.escape(target).replace("\\", "\\\\")
        for instance, commands in ((".*", ".*"), (escaped_target, "(cat|stat_loop)")):
            moment = Moment(sa, sb, range_ms / 1000, commands)
            for title, ref, expr in queries:
                promql = grafana_expr(expr, range_ms, instance, commands)
                got = prom.query(promql, s1)
                want = EXPECTED[(title, ref)](moment)
                assert same(got, want), (
                    f"{title} [{ref}]: {promql}\n  prometheus: {got}\n  json:       {want}"
                )
                if commands == ".*":  # the workload must give every panel something to show
                    assert any(v and not math.isnan(v) for v in want.values()), f"{title} [{ref}] is empty"

        check_quantiles_lie_in_vrift_buckets(prom, queries, range_ms, s1, a, b)
        check_variables(prom, board, s1, a)
    finally:
        if prom is not None:
            prom.stop()
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()


def check_quantiles_lie_in_vrift_buckets(
    prom: Prometheus, queries: list, range_ms: int, s1: int, a: dict, b: dict
) -> None:
    """Prometheus interpolates inside the log2 bucket whose upper bound is the
    percentile `vrift profile show` prints for the same calls."""
    for title, q in (("p50 latency by operation", 0.5), ("p99 latency by operation", 0.99)):
        expr = next(e for t, _, e in queries if t == title)
        got = prom.query(grafana_expr(expr, range_ms, ".*", ".*"), s1)
        for labels, value in got.items():
            op = dict(labels)["syscall"]
            hist = [0] * len(b["syscalls"][op]["histogram"])
            for i, (x, y) in enumerate(
                zip(a["syscalls"][op]["histogram"], b["syscalls"][op]["histogram"], strict=True)
            ):
                hist[i] = y - x
            upper_ns = OpStats(histogram=tuple(hist)).percentile_ns(q)
            if upper_ns is None:
                assert math.isnan(value), (op, value)
                continue
            lower_ns = (upper_ns + 1) / 2 - 1  # the previous bucket's bound, 2^i - 1
            assert lower_ns / 1e9 < value <= upper_ns / 1e9 * (1 + 1e-12), (title, op, value, upper_ns)


def check_variables(prom: Prometheus, board: dict, s1: int, a: dict) -> None:
    """The variables' label_values() queries list this endpoint and every command."""
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert (
        variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    )
    for name, expected in (("instance", None), ("command", {p["command"] for p in a["processes"]})):
        m = re.fullmatch(r"label_values\((.*), (\w+)\)", variables[name]["query"])
        assert m, variables[name]["query"]
        selector = m.group(1).replace("$instance", ".*")
        values = prom.api(f"label/{m.group(2)}/values", **{"match[]": selector, "end": f"{s1 / 1000:.3f}"})
        if expected is None:
            assert len(values) == 1 and re.fullmatch(r"127\.0\.0\.1:\d+", values[0]), values
        else:
            assert set(values) == expected
