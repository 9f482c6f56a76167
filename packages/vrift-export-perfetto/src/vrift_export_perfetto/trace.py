"""Building the trace: TrackEvent packets, as Perfetto's "synthetic track
event" reference describes them (custom tracks with parent_uuid for the
process tree, TYPE_SLICE_BEGIN/END on each, TYPE_COUNTER on counter
tracks). Timestamps are CLOCK_REALTIME ns, as the session records them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vrift_profile.lifetimes import ProcessImage, parents

if TYPE_CHECKING:
    from vrift_profile import Snapshot
    from vrift_profile.samples import Sample

ROOT_UUID = 1
ALIVE_UUID = 2
CALLS_RATE_UUID = 3
FS_TIME_RATE_UUID = 4
IMAGE_UUID_BASE = 1 << 20  # + slot index: never meets the fixed ones
SEQUENCE_ID = 1  # one writer, one sequence


def image_uuid(slot: int) -> int:
    return IMAGE_UUID_BASE + slot


def _annotation(pb, name: str, value):
    a = pb.DebugAnnotation(name=name)
    if isinstance(value, bool):
        a.bool_value = value
    elif isinstance(value, int):
        a.int_value = value
    elif isinstance(value, dict):
        a.dict_entries.extend(_annotation(pb, k, v) for k, v in sorted(value.items()))
    else:
        a.string_value = str(value)
    return a


def slice_args(p: ProcessImage) -> dict:
    """The lifetime slice's arguments (also what tests read back)."""
    args: dict = {
        "slot": p.slot,
        "pid": p.pid,
        "ppid": p.ppid,
        "command_line": p.command_line,
        "cwd": p.cwd + (" (cut short)" if p.cwd_truncated else ""),
        "exit_status": p.status_text,
        "end_by": p.end_by,
        "fs_time_ns": p.fs_time_ns,
        "calls_total": p.total_calls,
    }
    if p.unseen:  # 1.6: a ghost: the program ran without vrift, its calls are not counted
        args["unseen"] = "ran without vrift: no calls counted"
    for name, per_op in (("calls", p.calls), ("errors", p.errors), ("time_ns", p.time_ns)):
        if per_op:  # an empty dictionary would read back as no argument at all
            args[name] = per_op
    if p.exit_code is not None:
        args["exit_code"] = p.exit_code
    if p.signal is not None:
        args["signal"] = p.signal
    if p.status_from:
        args["status_from"] = p.status_from
    if p.threads > 1:
        args["threads"] = p.threads
    for name in ("vfs_handled", "vfs_passthrough"):
        if name in p.counters:
            args[name] = p.counters[name]
    return args


def _alive_steps(images) -> list[tuple[int, int]]:
    """(time, processes alive from then on). A start and an end at the same
    instant (an exec) count the start first: the process never left."""
    events = sorted([(p.start_ns, 0, 1) for p in images] + [(p.end_ns, 1, -1) for p in images])
    steps: list[tuple[int, int]] = []
    alive = 0
    for t, _, d in events:
        alive += d
        if steps and steps[-1][0] == t:
            steps[-1] = (t, alive)
        else:
            steps.append((t, alive))
    return steps


def build_trace(snap: Snapshot, samples: list[Sample] | None = None) -> bytes:
    from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb

    images = sorted(snap.images, key=lambda p: (p.start_ns, p.slot))
    parent_of = parents(images)
    trace = pb.Trace()
    chrono = pb.TrackDescriptor.ChildTracksOrdering.Value("CHRONOLOGICAL")

    def packet(**kw):
        pkt = trace.packet.add(**kw)
        pkt.trusted_packet_sequence_id = SEQUENCE_ID
        return pkt

    first = packet()
    first.sequence_flags = pb.TracePacket.SequenceFlags.Value("SEQ_INCREMENTAL_STATE_CLEARED")
    first.track_descriptor.uuid = ROOT_UUID
    first.track_descriptor.name = f"vrift session {snap.session.path}"
    first.track_descriptor.child_ordering = chrono
    for uuid, name, unit in (
        (ALIVE_UUID, "processes alive", "COUNT"),
        (CALLS_RATE_UUID, "file-system calls/s", "COUNT"),
        (FS_TIME_RATE_UUID, "file-system time/s", "TIME_NS"),
    ):
        if uuid != ALIVE_UUID and len(samples or ()) < 2:
            continue
        d = packet().track_descriptor
        d.uuid, d.name, d.parent_uuid = uuid, name, ROOT_UUID
        d.counter.unit = pb.CounterDescriptor.Unit.Value(f"UNIT_{unit}")
        d.sibling_order_rank = -10 + uuid  # counters first, above the processes
    for p in images:
        d = packet().track_descriptor
        d.uuid = image_uuid(p.slot)
        d.parent_uuid = image_uuid(parent_of[p.slot]) if p.slot in parent_of else ROOT_UUID
        d.name = f"{p.command} [{p.pid}]" + (" (not seen)" if p.unseen else "")
        d.child_ordering = chrono

    begin = pb.TrackEvent.Type.Value("TYPE_SLICE_BEGIN")
    end = pb.TrackEvent.Type.Value("TYPE_SLICE_END")
    counter = pb.TrackEvent.Type.Value("TYPE_COUNTER")
    events: list[tuple[int, int, Callable[[Any], None]]] = []  # (time, order, fill function)
    for p in images:
        uuid = image_uuid(p.slot)

        def begin_event(ev, p=p, uuid=uuid):
            ev.type, ev.track_uuid, ev.name = begin, uuid, p.command
            ev.debug_annotations.extend(_annotation(pb, k, v) for k, v in slice_args(p).items())

        def end_event(ev, uuid=uuid):
            ev.type, ev.track_uuid = end, uuid

        events.append((p.start_ns, 0, begin_event))
        events.append((p.end_ns, 1, end_event))
    for t, alive in _alive_steps(images):

        def alive_event(ev, alive=alive):
            ev.type, ev.track_uuid, ev.counter_value = counter, ALIVE_UUID, alive

        events.append((t, 2, alive_event))
    for prev, cur in zip(samples or (), (samples or ())[1:], strict=False):
        dt_s = (cur.t_ns - prev.t_ns) / 1e9
        if dt_s <= 0:
            continue
        calls_rate = max(0, cur.calls - prev.calls) / dt_s
        fs_rate = max(0, cur.fs_ns - prev.fs_ns) / dt_s

        def rate_events(ev, calls_rate=calls_rate):
            ev.type, ev.track_uuid, ev.double_counter_value = counter, CALLS_RATE_UUID, calls_rate

        def fs_events(ev, fs_rate=fs_rate):
            ev.type, ev.track_uuid, ev.double_counter_value = counter, FS_TIME_RATE_UUID, fs_rate

        events.append((cur.t_ns, 3, rate_events))
        events.append((cur.t_ns, 3, fs_events))
    events.sort(key=lambda e: (e[0], e[1]))
    for t, _, fill in events:
        pkt = packet(timestamp=t)
        fill(pkt.track_event)
    return trace.SerializeToString()
