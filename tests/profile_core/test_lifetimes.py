"""Format 1.5: what a slot keeps of its process image's life, recorded by
the shim in real processes, and read back exactly from a golden file."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import time
from pathlib import Path

from helpers import profiled_env
from vrift_profile import create_session, read_profile

GOLDEN = Path(__file__).resolve().parent / "golden"


def _images(session: Path):
    return read_profile(session).images


def test_killed_process_ends_at_its_last_activity(cbin: Path, shim_lib: Path, tmp_path: Path, rundir):
    session = create_session(tmp_path / "s.vrift", exact_timing=True)
    proc = subprocess.Popen([cbin / "stat_forever", "/etc/hostname"], env=profiled_env(shim_lib, session))
    time.sleep(0.4)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    killed_at = time.time_ns()  # after the wait: it may stat() once more before the signal lands
    (im,) = _images(session)
    assert im.end_by == "last_activity" and im.status_from == "" and im.status_text == "not seen"
    assert im.start_ns < im.end_ns <= killed_at
    assert killed_at - im.end_ns < 150_000_000  # it stat()ed every millisecond until then
    assert im.end_ns - im.start_ns > 300_000_000
    assert im.argv == (str(cbin / "stat_forever"), "/etc/hostname")


def test_exit_statuses_seen_by_the_process_and_by_its_parent(
    cbin: Path, shim_lib: Path, tmp_path: Path, rundir
):
    session = create_session(tmp_path / "s.vrift")
    script = "ls / >/dev/null; sh -c 'kill -9 $$'; sh -c 'ls /etc >/dev/null; exit 4'; exit 6"
    env = profiled_env(shim_lib, session)
    plain = subprocess.run(["sh", "-c", script], capture_output=True)
    r = subprocess.run(["sh", "-c", script], env=env, capture_output=True)
    assert (r.returncode, r.stdout, r.stderr) == (plain.returncode, plain.stdout, plain.stderr)
    assert r.returncode == 6
    by_line = {im.command_line: im for im in _images(session)}
    top = next(im for line, im in by_line.items() if line.startswith("sh -c 'ls /"))
    assert (top.exit_code, top.status_from, top.end_by) == (6, "self", "exit")
    assert by_line["ls /"].exit_code == 0 and by_line["ls /"].ppid == top.pid
    killed = by_line["sh -c 'kill -9 $$'"]
    assert (killed.signal, killed.status_from, killed.end_by) == (9, "parent", "killed")
    assert by_line["sh -c 'ls /etc >/dev/null; exit 4'"].exit_code == 4
    assert all(top.start_ns <= im.start_ns <= im.end_ns <= top.end_ns for im in by_line.values())


def test_a_vfork_childs_exit_leaves_its_parent_alone(cbin: Path, shim_lib: Path, tmp_path: Path, rundir):
    session = create_session(tmp_path / "s.vrift")
    r = subprocess.run([cbin / "vfork_exit", "5"], env=profiled_env(shim_lib, session))
    assert r.returncode == 5  # 100 if the child's _exit(7) did not reach its parent intact
    (im,) = _images(session)
    assert (im.exit_code, im.status_from, im.end_by) == (5, "self", "exit")


def test_long_command_line_and_cwd_are_cut_visibly(shim_lib: Path, tmp_path: Path, rundir):
    session = create_session(tmp_path / "s.vrift")
    deep = tmp_path
    for i in range(12):
        deep = deep / f"directory-level-{i:02d}-with-a-long-name"
    deep.mkdir(parents=True)
    args = [f"argument-{i:03d}" for i in range(40)]
    subprocess.run(["ls", *args], env=profiled_env(shim_lib, session), cwd=deep, capture_output=True)
    (im,) = _images(session)
    assert im.argv_truncated and im.command_line.endswith(" …")
    assert im.argv[:5] == ("ls", *args[:4])
    assert len("\0".join(im.argv)) <= 256
    assert im.cwd_truncated and im.cwd.startswith("...") and str(deep).endswith(im.cwd[3:])
    assert im.exit_code == 2  # ls: no such files


def _golden(version: str, tmp_path: Path):
    """tests/profile_core/golden/session-VERSION.vrift.gz, read by today's reader."""
    raw = gzip.decompress((GOLDEN / f"session-{version}.vrift.gz").read_bytes())
    path = tmp_path / "golden.vrift"
    path.write_bytes(raw)
    os.chmod(path, 0o600)
    snap = read_profile(path)
    assert snap.session.format_version == version
    return snap


def test_golden_1_5_session_reads_exactly(tmp_path: Path):
    """tests/profile_core/golden/session-1.5.vrift.gz was recorded by
    make_golden_1_5.py (run it to see how); its images must read back as
    session-1.5.images.json, field for field."""
    snap = _golden("1.5", tmp_path)
    expected = json.loads((GOLDEN / "session-1.5.images.json").read_text())
    assert [im.to_dict() for im in snap.images] == expected
    assert len(expected) >= 3 and {e["status_from"] for e in expected} >= {"self", "launcher"}


def test_golden_1_6_session_reads_exactly(tmp_path: Path):
    """tests/profile_core/golden/session-1.6.vrift.gz was recorded by
    make_golden_1_6.py: a ghost (a static program sh ran, with the status
    sh's wait saw) and the loader's audited probes; every later reader must
    read them exactly as session-1.6.expected.json says."""
    snap = _golden("1.6", tmp_path)
    expected = json.loads((GOLDEN / "session-1.6.expected.json").read_text())
    assert [im.to_dict() for im in snap.images] == expected["images"]
    assert [u.to_dict() for u in snap.unseen] == expected["not_seen"]
    assert snap.loader() == expected["loader"]
    (ghost,) = [im for im in snap.images if im.unseen]
    assert (ghost.exit_code, ghost.status_from) == (7, "parent")
    assert expected["loader"]["audited_images"] == 2 and expected["loader"]["time_ns"] > 0
