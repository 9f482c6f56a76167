"""Analytics views: percentiles, hot paths, per command, live watch, summary,
HTML report (rendered in headless Chromium) and flame graphs."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from helpers import profiled_env, vrift
from vrift_cli import units
from vrift_profile import create_session, read_profile
from vrift_profile.flame import folded_stacks
from vrift_profile.writer import SyntheticWriter


def test_show_prints_percentiles_as_bucket_bounds(tmp_path, rundir):
    """The figures are OpStats.percentile_ns's (tests/profile_core/test_snapshot.py),
    printed as "≤" the bucket's upper bound."""
    p = create_session(tmp_path / "p.vrift")
    with SyntheticWriter(p) as w:
        w.add(
            w.process("synth"),
            "stat",
            calls=100,
            latency_ns=50 * 10 + 49 * 1500 + 1_500_000,
            histogram={3: 50, 10: 49, 20: 1},
        )
    show = vrift("profile", "show", "--path", str(p)).stdout
    row = next(ln for ln in show.splitlines() if "─ stat" in ln).split()
    assert row[3:8] == ["100", "1.6ms", "≤16ns", "≤2.0us", "≤2.1ms"]
    assert "upper bounds of log2 buckets" in show


def test_watch_and_show_judge_the_vfs_alike(sample_session: Path, tmp_path: Path):
    """Both go through vfsstats.contribution: a session without a projection
    is "not measured" in both, even though its vfs_handled counter reads 0."""
    from vrift_cli import render, watch

    plain = read_profile(sample_session)
    assert plain.counters["vfs_handled"] == 0
    assert "└─ not measured: no VFS projection in this session" in render.vfs_lines(plain)
    assert watch.vfs_line(plain) == "VFS: not measured: no VFS projection in this session"
    assert "VFS: not measured" in watch.screen(plain, None, 1.0)

    p = create_session(tmp_path / "vfs.vrift")
    with SyntheticWriter(p) as w:
        py = w.process("python3")
        for name, value in (
            ("vfs_handled", 300),
            ("vfs_passthrough", 100),
            ("vfs_served_calls_stat", 300),
            ("vfs_served_ns_stat", 15_000),
            ("vfs_shadow_calls_stat", 3),
            ("vfs_shadow_ns_stat", 6_000),
        ):
            w.add_counter(py, name, value)
    served = read_profile(p)
    assert "VFS Handled:    300 (75.0%)" in "\n".join(render.vfs_lines(served))
    assert "~585.0us" in "\n".join(render.vfs_lines(served))  # 300 x 2,000 ns - 15,000 ns
    assert watch.vfs_line(served) == "VFS handled 300 of 400 (75.0%), saved ~585.0us"


def test_hot_and_by_command_sections(sample_session: Path):
    out = vrift("profile", "show", "--path", str(sample_session), "--hot", "3", "--by-command").stdout
    assert "Hot Paths (most called, top 3 of" in out
    assert "Hot Paths (most time, top 3 of" in out
    host = next(ln for ln in out.splitlines() if "─ /etc/hostname " in ln).split()
    assert int(host[3].replace(",", "")) >= 300  # stat_loop's 300, plus ls's
    assert "stat" in host[-3].split(",") and "stat_loop" in host[-2].split(",")
    assert re.search(r"─ /nonexistent-vrift\s+40\s+\S+\s+40\s+lstat\s+stat_loop\s", out)
    # 340 path calls and the stdio flush of its report line
    assert "Commands (2):" in out and re.search(r"─ stat_loop\s+1\s+341\s", out)


def _read_pty(fd: int, seconds: float) -> str:
    out = b""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out.decode("utf-8", "replace")


def test_watch_in_a_terminal_shows_changing_numbers(cbin, shim_lib, tmp_path, rundir):
    session = create_session(tmp_path / "live.vrift")
    work = subprocess.Popen([cbin / "stat_forever", "/etc/hostname"], env=profiled_env(shim_lib, session))
    master, slave = pty.openpty()
    try:
        watcher = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vrift_cli",
                "profile",
                "show",
                "--watch",
                "--interval",
                "0.3",
                "--path",
                str(session),
            ],
            stdin=slave,
            stdout=slave,
            stderr=slave,
        )
        text = ""
        deadline = time.monotonic() + 20  # a loaded machine starts Python slowly
        while text.count("\x1b[H\x1b[2J") < 4 and time.monotonic() < deadline:
            text += _read_pty(master, 0.5)
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(timeout=10) == 0
    finally:
        work.kill()
        work.wait()
        os.close(master)
        os.close(slave)
    screens = [s for s in text.split("\x1b[H\x1b[2J") if s.strip()]
    assert len(screens) >= 3
    counts = [int(m.group(1).replace(",", "")) for s in screens if (m := re.search(r"calls ([\d,]+) \(", s))]
    assert len(set(counts)) >= 3 and counts == sorted(counts)
    assert "stat_forever" in screens[-1] and "calls/s" in screens[-1]


def test_watch_without_a_terminal_prints_plain_lines(sample_session: Path):
    out = vrift(
        "profile", "show", "--watch", "--interval", "0.05", "--iterations", "3", "--path", str(sample_session)
    ).stdout
    lines = out.splitlines()
    assert len(lines) == 3 and all(re.match(r"\d\d:\d\d:\d\d state=stopped calls=\d+ ", ln) for ln in lines)
    assert "\x1b" not in out
    # the same figures as show: total time in show's units, the most called operations
    snap = read_profile(sample_session)
    total = units.duration_ns(sum(o.est_total_ns for o in snap.ops.values()))
    top = max(snap.ops.items(), key=lambda kv: kv[1].calls)
    assert f" time={total} " in lines[0] and f"top={top[0]}:{top[1].calls}" in lines[0], lines[0]


def test_summary_colours_only_on_a_terminal(cbin, rundir):
    def run(env_extra: dict) -> str:
        master, slave = pty.openpty()
        env = dict(os.environ, **env_extra)
        p = subprocess.Popen(
            [sys.executable, "-m", "vrift_cli", "profile", "run", "--", "true"],
            stdout=subprocess.DEVNULL,
            stderr=slave,
            env=env,
        )
        text = _read_pty(master, 6)
        p.wait(timeout=10)
        os.close(master)
        os.close(slave)
        return text

    colored = run({})
    assert "\x1b[1m" in colored and "VFS not active" in colored
    plain = run({"NO_COLOR": "1"})
    assert "\x1b[" not in plain and "VFS not active" in plain
    piped = vrift("profile", "run", "--", "true").stderr
    assert "\x1b[" not in piped


def test_flamegraph_folded_and_svg(sample_session: Path, tmp_path: Path):
    folded = tmp_path / "f.folded"
    svg = tmp_path / "f.svg"
    vrift("profile", "flamegraph", "--path", str(sample_session), "-o", str(folded), "--svg", str(svg))
    lines = folded.read_text().splitlines()
    snap = read_profile(sample_session)
    assert lines == folded_stacks(snap, "time")
    total = sum(int(ln.rpartition(" ")[2]) for ln in lines)
    assert total == sum(h.latency_ns for h in snap.hot.paths)
    assert any(ln.startswith("stat_loop;etc;hostname ") for ln in lines)
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg") and len(root.findall(".//{http://www.w3.org/2000/svg}rect")) > 3
    calls = vrift("profile", "flamegraph", "--path", str(sample_session), "--weight", "calls").stdout
    assert "stat_loop;etc;hostname 300" in calls.splitlines()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(not CHROMIUM, reason="chromium not installed (scripts/test installs it)")
def test_html_report_renders_in_headless_chromium(cbin, shim_lib, tmp_path, rundir):
    pytest.importorskip("PIL")
    from PIL import Image

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from workloads.cproject import generate

    proj = generate(tmp_path / "proj", files=6)
    session = create_session(tmp_path / "r.vrift", hot_paths=True)
    subprocess.run(
        ["make", "-s", "-j2"],
        cwd=proj,
        env=profiled_env(shim_lib, session),
        check=True,
        capture_output=True,
    )
    assert read_profile(session).command("cc1").processes == 7
    html = tmp_path / "report.html"
    vrift("profile", "report", "--path", str(session), "-o", str(html))
    text = html.read_text()
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")  # self-contained
    # the process timeline: one bar per process image, each with its command line
    images = read_profile(session).images
    timeline = text.split('aria-label="process timeline"', 1)[1].split("</svg>", 1)[0]
    assert timeline.count("<rect") == len(images) > 7
    assert "cc -O1 -Iinclude -c mod0.c -o mod0.o" in timeline and "exit 0" in timeline
    png = tmp_path / "shot.png"
    r = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chrome'}",
            "--enable-logging=stderr",
            "--log-level=0",
            "--window-size=1280,2000",
            f"--screenshot={png}",
            html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert png.exists(), r.stderr[-2000:]
    console = [ln for ln in r.stderr.splitlines() if "CONSOLE" in ln]
    assert console == []
    img = Image.open(png).convert("RGB").resize((320, 500))
    colors = img.getcolors(maxcolors=1 << 16) or []
    assert len(colors) > 50, "the screenshot looks blank"
    nonwhite = sum(n for n, c in colors if sum(c) < 720)
    assert nonwhite > 0.05 * 320 * 500  # a blank page is ~0: header, tiles and charts are dark


def test_timeline_of_a_very_large_build_points_to_perfetto(monkeypatch, tmp_path):
    import gzip

    from vrift_cli import timeline_svg

    golden = Path(__file__).resolve().parents[1] / "profile_core" / "golden" / "session-1.5.vrift.gz"
    copy = tmp_path / "golden.vrift"
    copy.write_bytes(gzip.decompress(golden.read_bytes()))
    snap = read_profile(copy)
    assert "<svg" in timeline_svg.timeline_section(snap)
    monkeypatch.setattr(timeline_svg, "MAX_IMAGES", len(snap.images) - 1)
    note = timeline_svg.timeline_section(snap)
    assert "<svg" not in note and "--format perfetto" in note and "too many to draw" in note
