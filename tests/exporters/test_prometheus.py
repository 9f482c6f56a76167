"""Prometheus text: same values as the snapshot, valid for promtool, textfile
and live /metrics."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from helpers import profiled_env, vrift
from prometheus_client.parser import text_string_to_metric_families
from vrift_profile import read_profile


def parse(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def check_against_snapshot(text: str, session: Path) -> None:
    samples = parse(text)
    snap = read_profile(session)
    for cmd in snap.commands:
        c = cmd.command
        for op, st in cmd.ops.items():
            lab = (("command", c), ("syscall", op))
            assert samples[("vrift_syscall_calls_total", lab)] == st.calls
            for etype, n in (
                ("ENOENT", st.enoent),
                ("EACCES", st.eacces),
                ("other", st.errors - st.enoent - st.eacces),
            ):
                key = ("vrift_syscall_errors_total", tuple(sorted((*lab, ("error_type", etype)))))
                assert samples.get(key, 0) == n
            if not st.timed_calls:
                continue
            assert samples[("vrift_syscall_duration_seconds_count", lab)] == sum(st.histogram)
            assert samples[("vrift_syscall_duration_seconds_sum", lab)] == pytest.approx(st.latency_ns / 1e9)
            buckets = sorted(
                (float(dict(k[1])["le"]), v)
                for k, v in samples.items()
                if k[0] == "vrift_syscall_duration_seconds_bucket"
                and (("command", c) in k[1])
                and (("syscall", op) in k[1])
            )
            counts = [v for _, v in buckets]
            assert counts == sorted(counts), "buckets must never decrease"
            assert buckets[-1] == (float("inf"), sum(st.histogram)), "+Inf must equal _count"
            # de-cumulate: exactly our log2 buckets back
            assert [b - a for a, b in zip([0, *counts[:-1]], counts, strict=True)] == list(st.histogram)
            assert buckets[0][0] == 1e-9 and buckets[9][0] == (2**10 - 1) / 1e9
        if "bytes_read" in cmd.counters:
            key = ("vrift_io_bytes_total", (("command", c), ("direction", "read")))
            assert samples[key] == cmd.counters["bytes_read"]
        assert samples[("vrift_processes_total", (("command", c),))] == cmd.processes


def test_text_values_match_the_snapshot(sample_session: Path):
    text = vrift("profile", "export", "--path", str(sample_session), "--format", "prometheus").stdout
    check_against_snapshot(text, sample_session)
    assert "_created" not in text


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool not installed (.ci/run installs it)")
def test_promtool_accepts_it(sample_session: Path):
    text = vrift("profile", "export", "--path", str(sample_session), "--format", "prometheus").stdout
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_textfile_output_is_atomic_and_readable(sample_session: Path, tmp_path: Path):
    out = tmp_path / "textfile" / "vrift.prom"
    out.parent.mkdir()
    vrift("profile", "export", "--path", str(sample_session), "--format", "prometheus", "-o", str(out))
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o644
    assert sorted(p.name for p in out.parent.iterdir()) == ["vrift.prom"]
    check_against_snapshot(out.read_text(), sample_session)


def test_serve_exposes_live_metrics(cbin: Path, shim_lib: Path, tmp_path: Path, rundir):
    from vrift_profile import create_session

    session = create_session(tmp_path / "live.vrift")
    proc = subprocess.Popen(
        [sys.executable, "-m", "vrift_cli", "profile", "serve", "--path", str(session), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        url = line.split(" at ")[1].split(" ")[0]

        def scrape() -> dict:
            with urllib.request.urlopen(url, timeout=10) as r:
                assert r.status == 200
                return parse(r.read().decode())

        key = ("vrift_syscall_calls_total", (("command", "stat_loop"), ("syscall", "stat")))
        assert key not in scrape()
        env = profiled_env(shim_lib, session)
        subprocess.run(
            [cbin / "stat_loop", "/etc/hostname", "123", "/x", "0"], env=env, check=True, capture_output=True
        )
        assert scrape()[key] == 123
        subprocess.run(
            [cbin / "stat_loop", "/etc/hostname", "7", "/x", "0"], env=env, check=True, capture_output=True
        )
        assert scrape()[key] == 130
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


def test_every_scalar_counter_is_exported(sample_session: Path):
    text = vrift("profile", "export", "--path", str(sample_session), "--format", "prometheus").stdout
    samples = parse(text)
    snap = read_profile(sample_session)
    names = {k for c in snap.commands for k in c.counters} - {"bytes_read", "bytes_written"}
    assert "vfs_handled" in names and "cow_copies" in names
    for c in snap.commands:
        for name in names:
            metric = "vrift_" + name.replace("_ns_", "_").removesuffix("_ns")
            unit = snap.unit(name)
            if unit == "bytes":
                metric = metric.removesuffix("_bytes") + "_bytes"
            elif unit == "ns":
                metric += "_seconds"
            value = samples[(metric + "_total", (("command", c.command),))]
            assert value == pytest.approx(c.counters[name] / (1e9 if unit == "ns" else 1))
