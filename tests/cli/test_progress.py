"""The live line of `vrift profile run`: only on a terminal, a bar and ETA once history knows the command."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from helpers import vrift
from vrift_cli.progress import Estimate, compose
from vrift_cli.run_record import RunRecord
from vrift_profile import CommandStats, OpStats, SessionInfo, Snapshot

S = 1_000_000_000


def _run_on_pty(args: list[str], cwd: Path, columns: int) -> tuple[int, str, str]:
    """vrift with stderr on a pseudo-terminal (stdout a pipe): status, stdout, the terminal's bytes."""
    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS=str(columns))
    p = subprocess.Popen(
        [sys.executable, "-m", "vrift_cli", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        cwd=cwd,
        env=env,
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif p.poll() is not None:
            break
    os.close(master)
    out = p.stdout.read().decode()
    return p.wait(timeout=10), out, seen.decode("utf-8", "replace")


def _status_lines(terminal: str) -> list[str]:
    """The texts drawn by the progress line: between a carriage return and an erase."""
    return [m for m in re.findall(r"\r([^\r\n]*?)\x1b\[K", terminal) if m]


def _build(cbin: Path) -> list[str]:
    # ~2 s, its calls growing step by step, something on stdout
    step = f"{cbin / 'stat_loop'} /etc/hostname 20000 /nonexistent 0 >/dev/null; sleep 0.4"
    return ["sh", "-c", "; ".join([step] * 5) + "; echo built"]


def test_bar_and_eta_on_the_second_run_only(cbin: Path, rundir: Path, tmp_path: Path):
    build = _build(cbin)
    rc, out, first = _run_on_pty(["profile", "run", "--", *build], tmp_path, 160)
    assert rc == 0 and out == "built\n"
    lines = _status_lines(first)
    assert len(lines) >= 2, first
    assert all(re.match(r"vrift [\d.]+s \| [\d,]+ calls \| \d+ procs \| no VFS$", ln) for ln in lines), lines
    assert "ETA" not in first and "█" not in first  # no earlier run: no estimate
    assert "\r\x1b[K\x1b[1mvrift: \x1b[0m" in first  # the line is cleared before the summary

    rc, out, second = _run_on_pty(["profile", "run", "--", *build], tmp_path, 160)
    assert rc == 0 and out == "built\n"
    lines = _status_lines(second)
    bars = [ln for ln in lines if "ETA" in ln]
    assert bars and len(bars) == len(lines), lines
    assert all(
        re.search(r"[█░]{16} \d+% ETA [\d.]+s \(from run #1 of \d\d-\d\d \d\d:\d\d: [\d,]+ calls\)$", b)
        for b in bars
    )
    pcts = [int(re.search(r" (\d+)% ", b).group(1)) for b in bars]
    assert pcts == sorted(pcts) and 0 < pcts[-1] <= 100

    # a narrow terminal: the line still fits, the bar and the run it came from stay
    rc, _, narrow = _run_on_pty(["profile", "run", "--", *build], tmp_path, 60)
    assert rc == 0
    lines = _status_lines(narrow)
    assert lines and all(len(ln) <= 59 and "ETA" in ln and "run #" in ln for ln in lines), lines

    # elsewhere the same command has no history: no bar
    other = tmp_path / "other"
    other.mkdir()
    rc, _, elsewhere = _run_on_pty(["profile", "run", "--", *build], other, 160)
    assert rc == 0 and _status_lines(elsewhere) and "ETA" not in elsewhere


def test_nothing_extra_without_a_terminal_or_with_quiet(cbin: Path, rundir: Path, tmp_path: Path):
    build = _build(cbin)
    for _ in range(2):  # the second run has history: still no line
        r = vrift("profile", "run", "--", *build, cwd=tmp_path)
        assert r.stdout == "built\n"
        assert "\r" not in r.stderr and "\x1b[" not in r.stderr and "ETA" not in r.stderr
    rc, out, quiet = _run_on_pty(["profile", "run", "--quiet", "--", *build], tmp_path, 160)
    assert rc == 0 and out == "built\n"
    assert _status_lines(quiet) == [] and "ETA" not in quiet and "vrift: profile " in quiet


def test_exit_status_and_signals_pass_through_with_the_line(cbin: Path, rundir: Path, tmp_path: Path):
    slow = f"{cbin / 'stat_loop'} /etc/hostname 20000 /nonexistent 0 >/dev/null; sleep 1.2"
    rc, _, term = _run_on_pty(["profile", "run", "--", "sh", "-c", f"{slow}; exit 9"], tmp_path, 120)
    assert rc == 9 and _status_lines(term)
    rc, _, term = _run_on_pty(["profile", "run", "--", "sh", "-c", f"{slow}; kill -TERM $$"], tmp_path, 120)
    assert rc == 128 + 15 and _status_lines(term)


def _snap(calls: int, processes: int, vfs: bool = False) -> Snapshot:
    info = SessionInfo(
        path="/tmp/x.vrift",
        format_version="1.3",
        start_realtime_ns=0,
        taken_realtime_ns=5 * S,
        stop_realtime_ns=0,
        reset_realtime_ns=0,
        enabled=True,
        clock="tsc",
        slot_count=64,
        slots_used=processes,
        slots_overflowed=0,
        creator="test",
    )
    counters = {"vfs_handled": 3 * calls // 4, "vfs_passthrough": calls // 4} if vfs else {}
    cmd = CommandStats("cc1", processes, {"stat": OpStats(calls=calls, latency_ns=calls * 100)}, counters)
    return Snapshot(info, [cmd], ("stat",))


def _reference(calls: int, processes: int) -> RunRecord:
    return RunRecord(
        started_ns=0,
        ended_ns=40 * S,
        argv=("make",),
        cwd="/p",
        command_name="make",
        exit_status=0,
        source="run",
        session_path="/tmp/r.vrift",
        processes=processes,
        calls=calls,
        errors=0,
        enoent=0,
        eacces=0,
        latency_ns=0,
        vfs_handled=None,
        vfs_passthrough=None,
        time_saved_ns=None,
        projections=(),
        bytes_read=0,
        bytes_written=0,
        vrift_version="0.1.0",
        run_id=12,
    )


def test_estimate_by_calls_or_by_processes():
    by_calls = Estimate(_reference(10_000, 40))
    assert by_calls.by == "calls" and by_calls.fraction(_snap(2_500, 3)) == 0.25
    assert by_calls.eta_s(0.25, 10.0) == 30.0  # 10 s for a quarter: 30 s to go at this pace
    assert by_calls.eta_s(1.2, 10.0) == 0.0
    assert by_calls.eta_s(0.0, 10.0) == 30.0  # no pace yet: what the earlier run took, less the elapsed
    by_procs = Estimate(_reference(0, 40))
    assert by_procs.by == "processes" and by_procs.fraction(_snap(0, 10)) == 0.25


def test_compose_fits_the_width_dropping_the_least_important_first():
    est = Estimate(_reference(10_000, 40))
    snap = _snap(5_000, 20, vfs=True)
    when = time.strftime("%m-%d %H:%M", time.localtime(0))
    assert compose(snap, 10.0, est, 200) == (
        "vrift 10s | 5,000 calls | 20 procs | VFS 75.0% handled | "
        f"████████░░░░░░░░ 50% ETA 10s (from run #12 of {when}: 10,000 calls)"
    )
    for width in (120, 80, 60, 40, 20, 12):
        text = compose(snap, 10.0, est, width)
        assert len(text) <= width - 1, (width, text)
        assert text.startswith("vrift 10s")
    assert "ETA 10s (from run #12)" in compose(snap, 10.0, est, 80)
    assert compose(snap, 10.0, None, 200) == "vrift 10s | 5,000 calls | 20 procs | VFS 75.0% handled"
    assert "#" in compose(snap, 10.0, est, 200, utf8=False) and "█" not in compose(
        snap, 10.0, est, 200, utf8=False
    )
