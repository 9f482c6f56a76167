"""The Perfetto export of a real build, parsed back with the perfetto
package's own protos: one track and one lifetime slice per process image,
nested under the right parent, with command lines, working directories
and exit statuses as executed and counts equal to the JSON export's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import have, vrift
from vrift_profile import _ffi
from vrift_profile.layout import c
from vrift_profile.reader import read_header

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from workloads.cproject import generate  # noqa: E402

pytestmark = pytest.mark.skipif(not have("make") or not have("gcc"), reason="needs make and gcc")

# Two jobs that go wrong on purpose: one fails, one is killed by SIGKILL;
# and one runs a static program (format 1.6: a ghost, drawn "not seen"), if
# a static libc is there to link it.
EXTRA_RULES = (
    "fail:\n\tsh -c 'exit 3'\nkilled:\n\tsh -c 'kill -9 $$$$'\n"
    "unseen:\n\tcc -static -O2 -o static_exit5 static_exit5.c 2>/dev/null && ./static_exit5 || true\n"
)
STATIC_EXIT5 = "#include <unistd.h>\nint main(void) { usleep(20000); return 5; }\n"


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("perfetto")
    src = generate(root / "src", files=8)
    with open(src / "Makefile", "a") as f:
        f.write(EXTRA_RULES)
    (src / "static_exit5.c").write_text(STATIC_EXIT5)
    session = root / "build.vrift"
    env = dict(os.environ, VRIFT_HISTORY="off")
    for var in ("VRIFT_PROFILE", "VRIFT_PROFILE_PATH", "LD_PRELOAD"):
        env.pop(var, None)
    run = subprocess.run(
        [sys.executable, "-m", "vrift_cli", "profile", "run", "-q", "--path", str(session), "--"]
        + ["make", "-s", "-k", "-j2", "app", "fail", "killed", "unseen"],
        cwd=src,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 2, run.stderr  # make -k: some targets failed
    trace_file = root / "build.pftrace"
    vrift("profile", "export", "--path", str(session), "--format", "perfetto", "-o", str(trace_file), env=env)
    data = json.loads(vrift("profile", "export", "--path", str(session), "--format", "json", env=env).stdout)
    from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb

    trace = pb.Trace.FromString(trace_file.read_bytes())
    return {"src": src, "session": session, "trace": trace, "json": data, "pb": pb}


def _slot_heads(session: Path) -> dict[int, tuple[int, int]]:
    """slot -> (pid, ppid) of every live image slot, read straight from the file."""
    ffi = _ffi.ffi()
    h = read_header(session)
    raw = session.read_bytes()
    out = {}
    for i in range(1, h.slots_used):
        s = ffi.cast("struct vrift_slot_head *", ffi.from_buffer(raw) + h.slots_offset + i * h.slot_size)
        if s.state == c("VRIFT_SLOT_LIVE") and s.owner_slot == 0:
            out[i] = (int(s.pid), int(s.ppid))
    return out


def _args(ev) -> dict:
    out = {}
    for a in ev.debug_annotations:
        if a.dict_entries:
            out[a.name] = {e.name: e.int_value for e in a.dict_entries}
        elif a.HasField("string_value"):
            out[a.name] = a.string_value
        else:
            out[a.name] = a.int_value
    return out


def _tracks(build: dict) -> dict:
    """uuid -> {name, parent, slices: [(begin ts, end ts, args)], counter values}"""
    pb = build["pb"]
    tracks: dict[int, dict] = {}
    open_at: dict[int, tuple[int, dict]] = {}
    for pkt in build["trace"].packet:
        if pkt.HasField("track_descriptor"):
            d = pkt.track_descriptor
            tracks[d.uuid] = {"name": d.name, "parent": d.parent_uuid, "slices": [], "counter": []}
        if pkt.HasField("track_event"):
            ev = pkt.track_event
            t = tracks[ev.track_uuid]
            if ev.type == pb.TrackEvent.TYPE_SLICE_BEGIN:
                assert ev.track_uuid not in open_at, "one slice at a time per process track"
                open_at[ev.track_uuid] = (pkt.timestamp, _args(ev))
            elif ev.type == pb.TrackEvent.TYPE_SLICE_END:
                begin, args = open_at.pop(ev.track_uuid)
                t["slices"].append((begin, pkt.timestamp, args))
            elif ev.type == pb.TrackEvent.TYPE_COUNTER:
                value = ev.counter_value if ev.HasField("counter_value") else ev.double_counter_value
                t["counter"].append((pkt.timestamp, value))
    assert not open_at, "every slice is closed"
    return tracks


def test_one_track_and_one_lifetime_slice_per_process_image(build):
    tracks = _tracks(build)
    slots = _slot_heads(build["session"])
    procs = {uuid: t for uuid, t in tracks.items() if t["slices"]}
    assert len(procs) == len(slots) == len(build["json"]["process_images"]) > 20
    by_slot = {p["slot"]: p for p in build["json"]["process_images"]}
    for t in procs.values():
        assert len(t["slices"]) == 1
        begin, end, args = t["slices"][0]
        slot = args["slot"]
        assert f"[{by_slot[slot]['pid']}]" in t["name"] and by_slot[slot]["start_time_unix_ns"] == begin
        assert (args["pid"], args["ppid"]) == slots[slot]
        assert begin <= end
        # per-process counts equal the JSON export's
        assert args.get("calls", {}) == by_slot[slot]["calls"]
        assert args.get("errors", {}) == by_slot[slot]["errors"]
        assert args["calls_total"] == sum(by_slot[slot]["calls"].values())
        assert (args["calls_total"] > 0) != bool(by_slot[slot].get("unseen"))  # a ghost counts nothing
    # and the images together are the session: their calls add up to the per-command totals
    per_op: dict[str, int] = {}
    for p in build["json"]["process_images"]:
        for op, n in p["calls"].items():
            per_op[op] = per_op.get(op, 0) + n
    assert per_op == {op: s["calls"] for op, s in build["json"]["syscalls"].items() if s["calls"]}


def test_children_nest_under_their_parent_image_and_inside_its_span(build):
    tracks = _tracks(build)
    procs = {uuid: t for uuid, t in tracks.items() if t["slices"]}
    session_start = build["json"]["session"]["start_time_unix_ns"]
    stop = build["json"]["session"]["stop_time_unix_ns"]
    roots = []
    for t in procs.values():
        begin, end, args = t["slices"][0]
        assert session_start <= begin <= end <= stop
        parent = procs.get(t["parent"])
        if parent is None:
            roots.append(args)
            continue
        pbegin, pend, pargs = parent["slices"][0]
        assert pargs["pid"] == args["ppid"]
        assert pbegin <= begin and end <= pend, (t["name"], parent["name"])
    assert [r["command_line"] for r in roots] == ["make -s -k -j2 app fail killed unseen"]


def test_command_lines_cwd_and_exit_statuses_as_executed(build):
    procs = [t["slices"][0][2] for t in _tracks(build).values() if t["slices"]]
    by_line = {}
    for a in procs:
        by_line.setdefault(a["command_line"], []).append(a)
    make = by_line["make -s -k -j2 app fail killed unseen"][0]
    assert make["exit_code"] == 2 and make["cwd"] == str(build["src"])
    assert by_line["sh -c 'exit 3'"][-1]["exit_code"] == 3
    killed = by_line["sh -c 'kill -9 $$'"][-1]
    assert killed["signal"] == 9 and killed["exit_status"] == "killed by signal 9"
    assert killed["status_from"] == "parent" and killed["end_by"] == "killed"
    compiles = [line for line in by_line if line.startswith("cc -O1 -Iinclude -c mod3.c -o mod3.o")]
    assert compiles, sorted(by_line)[:20]
    cc1 = [a for line, rows in by_line.items() if "cc1" in line.split(" ")[0] for a in rows]
    assert cc1 and all(a["exit_code"] == 0 and a["status_from"] == "self" for a in cc1)


def test_processes_alive_counter_follows_the_slices(build):
    tracks = _tracks(build)
    alive = next(t for t in tracks.values() if t["name"] == "processes alive")["counter"]
    procs = [t["slices"][0] for t in tracks.values() if t["slices"]]
    assert max(v for _, v in alive) >= 2  # make -j2 ran jobs side by side
    assert alive[-1][1] == 0
    for ts, value in alive[::7]:
        assert value == sum(1 for b, e, _ in procs if b <= ts < e)


def test_sampled_rates_are_in_the_trace(build):
    tracks = _tracks(build)
    rates = next(t for t in tracks.values() if t["name"] == "file-system calls/s")["counter"]
    fs = next(t for t in tracks.values() if t["name"] == "file-system time/s")["counter"]
    assert rates and fs and len(rates) == len(fs)
    assert max(v for _, v in rates) > 0
    # the samples' calls add up to the session's total (last sample = final totals)
    samples = [json.loads(line) for line in Path(f"{build['session']}.samples").read_text().splitlines()[1:]]
    assert samples[-1]["calls"] == sum(op["calls"] for op in build["json"]["syscalls"].values())


def test_a_program_run_unseen_is_drawn_as_not_seen(build):
    """Format 1.6: the static program the `unseen` rule runs has a track of
    its own, marked, with the exit status its parent's wait saw."""
    tracks = _tracks(build)
    ghosts = [t for t in tracks.values() if t["name"].endswith("(not seen)")]
    if not any(p.get("unseen") for p in build["json"].get("process_images", [])):
        pytest.skip("no static libc: the rule could not link its static program")
    (g,) = ghosts
    assert g["name"].startswith("static_exit5 [")
    ((begin, end, args),) = g["slices"]
    assert args["exit_status"] == "exit 5" and args["unseen"].startswith("ran without vrift")
    assert end - begin >= 20_000_000  # it slept 20 ms
