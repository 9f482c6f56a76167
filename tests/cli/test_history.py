"""`vrift profile history`: what is recorded, when, and what a broken database costs."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import vrift
from vrift_cli import history
from vrift_cli.run_record import OpTotals, RunRecord

S = 1_000_000_000


def _history_json(*args: str, env=None) -> dict:
    return json.loads(vrift("profile", "history", "--json", *args, env=env).stdout)


def _export(session: str) -> dict:
    return json.loads(vrift("profile", "export", "--format", "json", "--path", session).stdout)


def test_profile_run_records_the_figures_show_gives(
    cbin: Path, rundir: Path, tmp_path: Path, history_db: Path
):
    cmd = ["sh", "-c", f"{cbin / 'stat_loop'} /etc/hostname 300 /nonexistent 20; exit 3"]
    r = vrift("profile", "run", "--", *cmd, check=False, cwd=tmp_path)
    assert r.returncode == 3 and r.stdout == "300 20\n"
    assert "vrift: history" not in r.stderr
    (run,) = _history_json()["runs"]
    data = _export(run["session"])
    assert run["argv"] == cmd and run["cwd"] == str(tmp_path) and run["command"] == "sh"
    assert run["exit_status"] == 3 and run["source"] == "run"
    assert run["calls"] == sum(s["calls"] for s in data["syscalls"].values())
    assert run["processes"] == sum(p["processes"] for p in data["processes"])
    assert run["commands"] == {p["command"]: p["processes"] for p in data["processes"]}
    assert run["syscalls"]["stat"] == {
        "calls": data["syscalls"]["stat"]["calls"],
        "errors": 0,
        "latency_ns": data["syscalls"]["stat"]["latency_ns"],
    }
    assert run["syscalls"]["lstat"]["errors"] == 20 and run["enoent"] == data["errors"]["enoent"]
    assert run["duration_ns"] == data["session"]["duration_ns"]
    assert run["vfs_handled"] is None and run["time_saved_ns"] is None  # no projection: absent, not zero
    from importlib.metadata import version

    assert run["vrift_version"] == version("vrift-cli")


def test_two_concurrent_runs_both_land(rundir: Path, tmp_path: Path, history_db: Path):
    """Four builds end at the same instant into a database that does not
    exist yet: creation, migration and the inserts all race."""
    go = tmp_path / "go"
    wait = f"while [ ! -e {go} ]; do sleep 0.01; done"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "vrift_cli", "profile", "run", "--", "sh", "-c", f"{wait}; exit {n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    time.sleep(1.5)  # every vrift is waiting on its child
    assert not history_db.exists()
    go.touch()
    results = [(p.wait(timeout=60), p.stderr.read()) for p in procs]
    assert [rc for rc, _ in results] == [0, 1, 2, 3]
    assert all("vrift: history" not in err for _, err in results), results
    runs = _history_json()["runs"]
    assert sorted(r["exit_status"] for r in runs) == [0, 1, 2, 3]
    assert len({r["session"] for r in runs}) == 4
    con = sqlite3.connect(history_db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA user_version").fetchone()[0] == history.SCHEMA_VERSION


def _rec(start: str, seconds: int, **kw) -> RunRecord:
    """A run starting at `start` (UTC, "YYYY-MM-DD HH:MM")."""
    import calendar

    t0 = calendar.timegm(time.strptime(start, "%Y-%m-%d %H:%M")) * S
    fields = dict(
        argv=("make", "-j2"),
        cwd="/src/proj",
        command_name="make",
        exit_status=0,
        source="run",
        session_path=f"/tmp/s-{start}.vrift",
        processes=10,
        calls=1000,
        errors=7,
        enoent=5,
        eacces=1,
        latency_ns=2 * S,
        vfs_handled=None,
        vfs_passthrough=None,
        time_saved_ns=None,
        projections=(),
        bytes_read=4096,
        bytes_written=100,
        vrift_version="0.1.0",
    )
    fields.update(kw)
    return RunRecord(started_ns=t0, ended_ns=t0 + seconds * S, **fields)


SCRIPTED = [
    # Monday of ISO week 2026-W10
    _rec(
        "2026-03-02 10:00",
        60,
        vfs_handled=800,
        vfs_passthrough=200,
        time_saved_ns=20 * S,
        projections=((1000, 400),),
        ops={"stat": OpTotals(900, 7, S), "open": OpTotals(100, 0, S)},
    ),
    _rec("2026-03-02 23:30", 30, exit_status=2, calls=500),
    # Sunday, same week, the same projection: its disk saving counts once in the week
    _rec(
        "2026-03-08 12:00",
        45,
        vfs_handled=600,
        vfs_passthrough=400,
        time_saved_ns=15 * S,
        projections=((1000, 400),),
    ),
    # the next Monday: week 11; another projection; a session stopped with `profile stop`
    _rec(
        "2026-03-09 00:10",
        20,
        argv=None,
        cwd=None,
        command_name=None,
        exit_status=None,
        source="stop",
        vfs_handled=100,
        vfs_passthrough=0,
        time_saved_ns=5 * S,
        projections=((2000, 500), (300, 300)),
        commands={"cc1": 8, "make": 1},
    ),
]


def test_history_json_totals_per_day_and_week_are_exact(history_db: Path):
    for rec in SCRIPTED:
        history.record(rec, history_db)
    env = dict(os.environ, TZ="UTC")
    out = _history_json(env=env)
    assert [r["id"] for r in out["runs"]] == [1, 2, 3, 4]
    assert out["runs"][0]["syscalls"] == {
        "stat": {"calls": 900, "errors": 7, "latency_ns": S},
        "open": {"calls": 100, "errors": 0, "latency_ns": S},
    }
    assert out["runs"][3]["argv"] is None and out["runs"][3]["commands"] == {"cc1": 8, "make": 1}

    def pick(t: dict) -> tuple:
        return (
            t["runs"],
            t["failed"],
            t["duration_ns"],
            t["calls"],
            t["time_saved_ns"],
            t["dedup_saved_bytes"],
        )

    assert [(d["day"], *pick(d)) for d in out["days"]] == [
        ("2026-03-02", 2, 1, 90 * S, 1500, 20 * S, 600),
        ("2026-03-08", 1, 0, 45 * S, 1000, 15 * S, 600),
        ("2026-03-09", 1, 0, 20 * S, 1000, 5 * S, 1500),
    ]
    assert [(w["week"], *pick(w)) for w in out["weeks"]] == [
        ("2026-W10", 3, 1, 135 * S, 2500, 35 * S, 600),
        ("2026-W11", 1, 0, 20 * S, 1000, 5 * S, 1500),
    ]
    t = out["totals"]
    assert pick(t) == (4, 1, 155 * S, 3500, 40 * S, 2100)
    assert t["runs_with_time_saved"] == 3 and t["vfs_handled"] == 1500 and t["vfs_passthrough"] == 600
    assert t["errors"] == 28 and t["latency_ns"] == 8 * S and t["bytes_read"] == 4 * 4096
    # in New York, 23:30 UTC on 03-02 is still 03-02 and 00:10 on 03-09 is 03-08: week 10
    ny = _history_json(env=dict(os.environ, TZ="America/New_York"))
    assert [(w["week"], w["runs"]) for w in ny["weeks"]] == [("2026-W10", 4)]
    # --command: the command's name, or a process of a stopped session
    assert [r["id"] for r in _history_json("--command", "make", env=env)["runs"]] == [1, 2, 3, 4]
    assert [r["id"] for r in _history_json("--command", "cc1", env=env)["runs"]] == [4]
    assert _history_json("--command", "ninja", env=env)["runs"] == []
    text = vrift("profile", "history", env=env).stdout
    assert "2026-W10" in text and "(session: cc1, make)" in text and "make -j2" in text


def test_since_and_this_week(history_db: Path):
    now = time.time_ns()
    old = _rec("2026-01-01 00:00", 10)
    recent = _rec("2026-01-01 00:00", 10, time_saved_ns=3 * S, vfs_handled=1, vfs_passthrough=1)
    history.record(
        RunRecord(**{**old.__dict__, "started_ns": now - 10 * 86400 * S, "ended_ns": now}), history_db
    )
    # a second ago: this week, whatever the hour (a second after Monday 00:00 is the only exception)
    history.record(RunRecord(**{**recent.__dict__, "started_ns": now - S, "ended_ns": now}), history_db)
    assert len(_history_json()["runs"]) == 2
    (only,) = _history_json("--since", "7d")["runs"]
    assert only["time_saved_ns"] == 3 * S
    assert (
        "This week vrift saved you 3.00s of build time" in vrift("profile", "history", "--since", "1d").stdout
    )


def _one_line(r: subprocess.CompletedProcess, starts: str) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(starts) and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def test_damaged_database_one_line_and_the_build_keeps_its_status(rundir: Path, history_db: Path):
    history_db.parent.mkdir(parents=True)
    history_db.write_bytes(b"this is not an SQLite database, just some text" * 100)
    r = vrift("profile", "run", "--", "sh", "-c", "echo built; exit 7", check=False)
    assert r.returncode == 7 and r.stdout == "built\n"
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("vrift: history")]
    assert len(errors) == 1 and errors[0].startswith("vrift: history: this run is not recorded: ")
    assert "damaged or not a vrift history database" in errors[0] and str(history_db) in errors[0]
    assert "vrift: profile " in r.stderr  # the summary is still there
    assert history_db.read_bytes().startswith(b"this is not")  # left for the user to look at
    line = _one_line(vrift("profile", "history", check=False), "vrift: ")
    assert "damaged" in line
    assert "damaged" in _one_line(vrift("profile", "badge", check=False), "vrift: ")
    # profile stop: stops, says so, exit 0, one line about the history
    vrift("profile", "start")
    stop = vrift("profile", "stop")
    assert "session stopped" in stop.stdout and "damaged" in _one_line(stop, "vrift: history: ")


def test_locked_database_waits_a_bounded_time(rundir: Path, history_db: Path):
    history.record(_rec("2026-03-02 10:00", 1), history_db)
    holder = sqlite3.connect(history_db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        t0 = time.monotonic()
        r = vrift("profile", "run", "--", "sh", "-c", "exit 5", check=False)
        elapsed = time.monotonic() - t0
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.returncode == 5
    (error,) = [ln for ln in r.stderr.splitlines() if ln.startswith("vrift: history")]
    assert (
        error.startswith("vrift: history: this run is not recorded:") and "locked by another process" in error
    )
    assert history.WRITE_TIMEOUT_S <= elapsed < history.WRITE_TIMEOUT_S + 15  # waited, then gave up
    assert len(_history_json()["runs"]) == 1


def test_newer_schema_is_refused(history_db: Path):
    history.record(_rec("2026-03-02 10:00", 1), history_db)
    con = sqlite3.connect(history_db)
    con.execute(f"PRAGMA user_version = {history.SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    line = _one_line(vrift("profile", "history", check=False), "vrift: ")
    assert "written by a newer vrift" in line


def test_stop_records_once_and_a_resumed_session_replaces_its_record(cbin: Path, rundir: Path):
    vrift("profile", "start")
    vrift("run", "--", str(cbin / "stat_loop"), "/etc/hostname", "50", "/nonexistent", "0")
    vrift("profile", "stop")
    vrift("profile", "stop")  # already stopped: nothing new
    (run,) = _history_json()["runs"]
    assert run["source"] == "stop" and run["argv"] is None and run["exit_status"] is None
    assert run["commands"] == {"stat_loop": 1} and run["syscalls"]["stat"]["calls"] == 50
    vrift("profile", "start", "--resume")
    vrift("run", "--", str(cbin / "stat_loop"), "/etc/hostname", "25", "/nonexistent", "0")
    vrift("profile", "stop")
    (again,) = _history_json()["runs"]  # the same session, counted once, with its final figures
    assert again["session"] == run["session"] and again["syscalls"]["stat"]["calls"] == 75
    assert again["commands"] == {"stat_loop": 2}


def test_history_off_and_where_it_lives(rundir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    env = dict(os.environ, VRIFT_HISTORY="off")
    r = vrift("profile", "run", "--", "true", env=env)
    assert "vrift: history" not in r.stderr
    assert "turned off" in _one_line(vrift("profile", "history", check=False, env=env), "vrift: ")
    monkeypatch.delenv("VRIFT_HISTORY")
    monkeypatch.delenv("VRIFT_STATE", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdgstate"))
    assert history.history_path() == tmp_path / "xdgstate" / "vrift" / "history.sqlite3"
    monkeypatch.setenv("VRIFT_STATE", str(tmp_path / "st"))  # where VFS projections are registered
    assert history.history_path() == tmp_path / "st" / "history.sqlite3"
    monkeypatch.delenv("VRIFT_STATE")
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert history.history_path() == tmp_path / "home" / ".local" / "state" / "vrift" / "history.sqlite3"
    vrift("profile", "run", "--", "true")
    assert (tmp_path / "home" / ".local" / "state" / "vrift" / "history.sqlite3").exists()
    assert len(_history_json("--since", "1h")["runs"]) == 1
    assert "not an age" in _one_line(vrift("profile", "history", "--since", "soon", check=False), "vrift: ")
