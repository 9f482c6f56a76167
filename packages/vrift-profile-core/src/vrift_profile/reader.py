"""Read a session file into a Snapshot, treating the file as untrusted input.

Every offset and count is bounds-checked before use; anything wrong
raises ProfileFormatError with one line saying what. Counters are found
through the file's own field table, so a newer minor version (more
fields) reads fine and a foreign or damaged file is refused.
"""

from __future__ import annotations

import operator
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from . import _ffi
from .errors import ProfileFormatError, open_failed
from .layout import TIMED_CALLS, c, misc_names, op_fields, unit_names
from .snapshot import (
    CommandStats,
    HotPath,
    HotPathTable,
    OpStats,
    SessionInfo,
    Snapshot,
    UnseenProgram,
)

READER_MAJOR = 1
_MAX_FIELDS = 65536
_MAX_SLOT_SIZE = 1 << 20


@dataclass(frozen=True)
class Field:
    name: str
    kind: int
    unit: int
    count: int
    offset: int


@dataclass(frozen=True)
class Header:
    """The validated header of a session file plus its field table."""

    major: int
    minor: int
    file_size: int
    enabled: bool
    reset_generation: int
    start_realtime_ns: int
    reset_realtime_ns: int
    stop_realtime_ns: int
    clock_source: int
    field_table_offset: int
    slot_count: int
    slot_size: int
    slots_offset: int
    slots_next: int
    slots_overflowed: int
    hist_buckets: int
    creator: str
    fields: tuple[Field, ...]
    hot_offset: int = 0
    hot_count: int = 0
    hot_arena_offset: int = 0
    hot_arena_size: int = 0
    hot_dropped: int = 0
    hot_unresolved: int = 0
    # VFS projections the session used: (original bytes, unique bytes) each
    projections: tuple[tuple[int, int], ...] = ()
    # sampled timing (1.3): 1 = every call timed; bit i of sampled_ops: op i sampled
    sample_period: int = 1
    sampled_ops: int = 0
    # hot paths on a sample (1.4): 1 in hot_sample_period path calls recorded, weighted
    hot_sample_period: int = 1
    # the session clock's tick in ns (TSC: ns = ticks * mult >> shift)
    clock_mult: int = 0
    clock_shift: int = 0
    # programs started unseen, each with a ghost image slot (1.6; 0 before)
    ghosts_started: int = 0

    @property
    def slots_used(self) -> int:
        """Slots handed out (slot 0, the overflow slot, is always in use)."""
        return max(1, min(self.slots_next, self.slot_count))


def _fail(path: Path, msg: str) -> ProfileFormatError:
    return ProfileFormatError(f"{path}: {msg}")


def parse_header(path: Path, head: bytes, actual_size: int) -> Header:
    """Validate the header bytes (at least the whole header and field table)."""
    ffi = _ffi.ffi()
    pre_size = ffi.sizeof("struct vrift_preamble")
    if actual_size < pre_size or len(head) < pre_size:
        raise _fail(path, f"too short to be a vrift profile ({actual_size} bytes)")
    pre = ffi.cast("struct vrift_preamble *", ffi.from_buffer(head))
    magic = c("VRIFT_MAGIC")
    if pre.magic != magic:
        if pre.magic == int.from_bytes(magic.to_bytes(4, "little"), "big"):
            raise _fail(path, "vrift profile written with the other byte order; not readable here")
        raise _fail(path, "not a vrift profile (bad magic)")
    if pre.byte_order != c("VRIFT_BYTE_ORDER_MARK"):
        raise _fail(path, "vrift profile with a foreign byte order; not readable here")
    if pre.major != READER_MAJOR:
        raise _fail(
            path,
            f"profile format {pre.major}.{pre.minor} is not supported "
            f"(this vrift reads format {READER_MAJOR}.x)",
        )
    if not pre.ready:
        raise _fail(path, "profile is not initialised (its creator has not finished, or died)")
    # 1.0 and 1.1 headers end where 1.2 appended the projection table (440
    # bytes); 1.4 appended slots_ready (448). A field a file's header lacks
    # reads as zero (the padding before its field table).
    if pre.minor >= 2:
        hsize = ffi.offsetof("struct vrift_header", "slots_ready")
    else:
        hsize = c("VRIFT_HEADER_LEN_1_0")
    if pre.header_len < hsize:
        raise _fail(path, f"corrupt header (length {pre.header_len} < {hsize})")
    if pre.file_size > actual_size:
        raise _fail(path, f"truncated: {actual_size} of {pre.file_size} bytes present")
    if len(head) < hsize:
        raise _fail(path, "truncated header")
    h = ffi.cast("struct vrift_header *", ffi.from_buffer(head))
    file_size = int(pre.file_size)
    fsize = ffi.sizeof("struct vrift_field")
    if h.field_size != fsize:
        raise _fail(path, f"corrupt header (field size {h.field_size})")
    if not 0 < h.field_count <= _MAX_FIELDS:
        raise _fail(path, f"corrupt header (field count {h.field_count})")
    table_end = h.field_table_offset + h.field_count * fsize
    if h.field_table_offset < pre.header_len or table_end > file_size:
        raise _fail(path, "corrupt header (field table outside the file)")
    head_size = ffi.sizeof("struct vrift_slot_head")
    if not head_size <= h.slot_size <= _MAX_SLOT_SIZE or h.slot_size % 8:
        raise _fail(path, f"corrupt header (slot size {h.slot_size})")
    if h.slot_count < 1 or h.slots_offset < table_end:
        raise _fail(path, "corrupt header (slot table overlaps the header)")
    if h.slots_offset + h.slot_count * h.slot_size > file_size:
        raise _fail(path, "corrupt header (slots extend past the end of the file)")
    if h.hist_buckets < 1 or h.hist_buckets > 64:
        raise _fail(path, f"corrupt header (histogram buckets {h.hist_buckets})")
    if len(head) < table_end:
        raise _fail(path, "truncated field table")

    fields = []
    name_len = c("VRIFT_FIELD_NAME_LEN")
    base = ffi.from_buffer(head)
    for i in range(h.field_count):
        row = ffi.cast("struct vrift_field *", base + h.field_table_offset + i * fsize)
        raw = bytes(ffi.buffer(row.name, name_len))
        if b"\0" not in raw:
            raise _fail(path, f"corrupt field table (row {i} name not terminated)")
        try:
            name = raw.split(b"\0", 1)[0].decode("ascii")
        except UnicodeDecodeError:
            raise _fail(path, f"corrupt field table (row {i} name not ASCII)") from None
        if not name or row.offset < head_size or row.offset % 8 or row.count < 1:
            raise _fail(path, f"corrupt field table (row {i} '{name}')")
        if row.offset + row.count * 8 > h.slot_size:
            raise _fail(path, f"corrupt field table ('{name}' outside its slot)")
        if row.kind == c("VRIFT_KIND_HISTOGRAM") and row.count != h.hist_buckets:
            raise _fail(path, f"corrupt field table ('{name}' has {row.count} buckets)")
        fields.append(Field(name, int(row.kind), int(row.unit), int(row.count), int(row.offset)))

    creator = ffi.string(h.creator, c("VRIFT_CREATOR_LEN")).decode("utf-8", "replace")
    hot = _hot_layout(path, h, pre.minor, file_size)
    return Header(
        major=int(pre.major),
        minor=int(pre.minor),
        file_size=file_size,
        enabled=bool(h.enabled),
        reset_generation=int(h.reset_generation),
        start_realtime_ns=int(h.start_realtime_ns),
        reset_realtime_ns=int(h.reset_realtime_ns),
        stop_realtime_ns=int(h.stop_realtime_ns),
        clock_source=int(h.clock_source),
        clock_mult=int(h.clock_mult),
        clock_shift=int(h.clock_shift),
        field_table_offset=int(h.field_table_offset),
        slot_count=int(h.slot_count),
        slot_size=int(h.slot_size),
        slots_offset=int(h.slots_offset),
        slots_next=int(h.slots_next),
        slots_overflowed=int(h.slots_overflowed),
        hist_buckets=int(h.hist_buckets),
        creator=creator,
        fields=tuple(fields),
        projections=_projections(h, pre.minor),
        ghosts_started=_ghosts_started(h, pre),
        **_timing(h, pre.minor),
        **hot,
    )


def _ghosts_started(h, pre) -> int:
    """1.6 appended ghosts_started to the header: an older header ends
    before it (its bytes belong to the field table)."""
    ffi = _ffi.ffi()
    if pre.minor < 6 or pre.header_len < ffi.offsetof("struct vrift_header", "ghosts") + 8 * c(
        "VRIFT_GHOST_RING"
    ):
        return 0
    return int(h.ghosts_started)


def _timing(h, minor: int) -> dict[str, int]:
    """How calls were timed: from the header (1.3), else the 1.0-1.2 rule
    (readdir alone, one call in VRIFT_SAMPLE_PERIOD_1_0)."""
    if minor < 3:
        return {
            "sample_period": c("VRIFT_SAMPLE_PERIOD_1_0"),
            "sampled_ops": 1 << c("VRIFT_OP_READDIR"),
            "hot_sample_period": 1,
        }
    period, ops = int(h.timing_sample_period), int(h.timing_sampled_ops)
    hot = int(h.hot_sample_period) if minor >= 4 else 1
    if hot < 1 or hot > 1 << 20 or hot & (hot - 1):
        hot = 1  # the shim records every path call then
    if period < 2 or period & (period - 1):
        return {"sample_period": 1, "sampled_ops": 0, "hot_sample_period": hot}  # the shim: exact too
    return {"sample_period": period, "sampled_ops": ops, "hot_sample_period": hot}


def _projections(h, minor: int) -> tuple[tuple[int, int], ...]:
    if minor < 2:
        return ()
    out = []
    for p in h.vfs_projections:
        if p.id:
            out.append((int(p.original_bytes), int(p.unique_bytes)))
    return tuple(out)


def _hot_layout(path: Path, h, minor: int, file_size: int) -> dict[str, int]:
    """The hot-path table's place (format 1.1+); none in 1.0 files."""
    if minor < 1 or h.hot_count == 0:
        return {}
    entry = _ffi.ffi().sizeof("struct vrift_hot_entry")
    count = int(h.hot_count)
    if count & (count - 1) or count > 1 << 24:
        raise _fail(path, f"corrupt header (hot-path table of {count} entries)")
    end = h.hot_offset + count * entry
    arena_end = h.hot_arena_offset + h.hot_arena_size
    slots_end = h.slots_offset + h.slot_count * h.slot_size
    if h.hot_offset < slots_end or end > file_size or h.hot_arena_offset < end or arena_end > file_size:
        raise _fail(path, "corrupt header (hot-path table outside the file)")
    return {
        "hot_offset": int(h.hot_offset),
        "hot_count": count,
        "hot_arena_offset": int(h.hot_arena_offset),
        "hot_arena_size": int(h.hot_arena_size),
        "hot_dropped": int(h.hot_dropped),
        "hot_unresolved": int(h.hot_unresolved),
    }


def _pread_all(fd: int, size: int, offset: int) -> bytes:
    chunks = []
    while size > 0:
        b = os.pread(fd, size, offset)
        if not b:
            break
        chunks.append(b)
        size -= len(b)
        offset += len(b)
    return b"".join(chunks)


class _SlotDecoder:
    """Turns one slot's bytes into (ops, counters) using the field table."""

    def __init__(self, header: Header):
        by_name = {f.name: f for f in header.fields}
        suffixes = op_fields()  # an operation is a name with a row for each
        self.ops: list[tuple[str, tuple[int, ...]]] = []  # name, u64 index of the fields add() sums
        for f in header.fields:
            if not f.name.endswith(".calls"):
                continue
            op = f.name[: -len(".calls")]
            at = {s: by_name[f"{op}.{s}"].offset // 8 for s in suffixes if f"{op}.{s}" in by_name}
            if len(at) == len(suffixes):
                fields = (at["calls"], at["errors"], at["enoent"], at["eacces"], at["latency_ns"])
                self.ops.append((op, (*fields, at["histogram"])))
        self.hist = header.hist_buckets
        # 1.3: OP.timed_calls (weighted latency and histogram); absent before
        self.timed = {
            op: by_name[f"{op}.{TIMED_CALLS}"].offset // 8
            for op, _ in self.ops
            if f"{op}.{TIMED_CALLS}" in by_name
        }
        per_op = {f"{op}.{s}" for op, _ in self.ops for s in (*suffixes, TIMED_CALLS)}
        self.scalars = [
            (f.name, f.offset // 8)
            for f in header.fields
            if f.name not in per_op and f.kind == c("VRIFT_KIND_COUNTER") and f.count == 1
        ]
        # the unit each scalar counter's row declares (one this reader does not know: events)
        units = unit_names()
        self.units = {name: units.get(by_name[name].unit, "events") for name, _ in self.scalars}

    @property
    def op_names(self) -> tuple[str, ...]:
        return tuple(op for op, _ in self.ops)

    def new_totals(self) -> _Totals:
        return _Totals({}, dict.fromkeys((name for name, _ in self.scalars), 0))

    def add(self, totals: _Totals, words: memoryview) -> bool:
        """Add one slot's counters into `totals`; False if the slot is all zero.
        Works on raw words: a build has thousands of slots, few ops each."""
        width = 6 + self.hist
        any_nonzero = False
        timed = self.timed
        for op, (ci, ei, ni, ai, li, hi) in self.ops:
            calls, errors, lat = words[ci], words[ei], words[li]
            if not (calls or lat or errors):
                continue
            any_nonzero = True
            acc = totals.ops.get(op)
            if acc is None:
                acc = totals.ops[op] = [0] * width
                if op not in timed:
                    acc[5] = -1  # before 1.3: no count of timed calls
            acc[0] += calls
            acc[1] += errors
            acc[2] += words[ni]
            acc[3] += words[ai]
            acc[4] += lat
            if op in timed:
                acc[5] += words[timed[op]]
            acc[6:] = map(operator.add, acc[6:], words[hi : hi + self.hist])
        counters = totals.counters
        for name, i in self.scalars:
            v = words[i]
            if v:
                counters[name] += v
                any_nonzero = True
        return any_nonzero


@dataclass
class _Totals:
    """Running sums for one command: per op [calls, errors, enoent, eacces,
    latency, timed (-1: not recorded, before 1.3), *hist]."""

    ops: dict[str, list[int]]
    counters: dict[str, int]
    processes: int = 0

    def op_stats(self) -> dict[str, OpStats]:
        return {
            op: OpStats(a[0], a[1], a[2], a[3], a[4], tuple(a[6:]), None if a[5] < 0 else a[5])
            for op, a in self.ops.items()
        }


def read_header(path: str | os.PathLike[str]) -> Header:
    return _read(Path(path))[0]


def read_profile(path: str | os.PathLike[str]) -> Snapshot:
    """Read the session file at `path` into a Snapshot (a consistent copy of
    each counter; counters of running processes keep moving meanwhile)."""
    header, slots, hot, p = _read(Path(path))
    return _snapshot(p, header, slots, hot)


def _read(p: Path) -> tuple[Header, bytes, bytes, Path]:
    try:
        fd = os.open(p, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise open_failed(p, e) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ProfileFormatError(f"{p}: not a regular file")
        size = st.st_size
        hsize = _ffi.ffi().sizeof("struct vrift_header")
        first = _pread_all(fd, min(size, hsize), 0)
        if len(first) >= hsize:
            # Header says where the field table ends; read up to it, bounded by the file.
            h = _ffi.ffi().cast("struct vrift_header *", _ffi.ffi().from_buffer(first))
            row = _ffi.ffi().sizeof("struct vrift_field")
            table_end = min(size, int(h.field_table_offset) + int(h.field_count) * row)
            first = _pread_all(fd, max(hsize, table_end), 0)
        header = parse_header(p, first, size)
        slots = _pread_all(fd, header.slots_used * header.slot_size, header.slots_offset)
        if len(slots) < header.slots_used * header.slot_size:
            raise ProfileFormatError(f"{p}: truncated while reading slots")
        hot = b""
        if header.hot_count:
            size = header.hot_arena_offset + header.hot_arena_size - header.hot_offset
            hot = _pread_all(fd, size, header.hot_offset)
            if len(hot) < size:
                raise ProfileFormatError(f"{p}: truncated while reading the hot-path table")
    finally:
        os.close(fd)
    return header, slots, hot, p


def _hot_paths(
    header: Header, hot: bytes, op_names: tuple[str, ...], ghosts: dict[int, list[int | None]] | None = None
) -> tuple[HotPathTable, tuple[UnseenProgram, ...]]:
    """Decode the hot-path table: entries with a published path and calls,
    merged by path text (the same file named relatively and absolutely);
    and apart from them (1.4) the programs run unseen it names."""
    if not header.hot_count:
        return HotPathTable(), ()
    unseen_flag = c("VRIFT_HOT_UNSEEN")
    # the reasons are the unseen_* counters: VRIFT_MISC_UNSEEN_R and VRIFT_HOT_UNSEEN_R
    reasons = [n.removeprefix("unseen_") for n in misc_names() if n.startswith("unseen_")]
    reason_bits = [(r, c(f"VRIFT_HOT_UNSEEN_{r.upper()}")) for r in reasons]
    unseen: dict[tuple[str, str], list] = {}
    # Raw words, not cffi structs: a table has 16384 entries, few in use.
    ffi = _ffi.ffi()
    size = ffi.sizeof("struct vrift_hot_entry")
    raw = memoryview(hot)[: header.hot_count * size]
    words, halves = raw.cast("Q"), raw.cast("I")

    def at(member: str, width: int) -> int:
        return ffi.offsetof("struct vrift_hot_entry", member) // width

    hash_at, calls_at, errors_at = at("hash", 8), at("calls", 8), at("errors", 8)
    latency_at, ops_at = at("latency_ns", 8), at("ops", 8)
    off_at, len_at = at("path_off", 4), at("path_len", 4)
    comm_at, comm_len = at("comm", 1), c("VRIFT_HOT_COMM_LEN")
    arena_at = header.hot_arena_offset - header.hot_offset
    arena_size = header.hot_arena_size
    merged: dict[tuple[str, str], list] = {}
    unknowns: dict[str, list] = {}
    for i in range(header.hot_count):
        w, h, b = i * size // 8, i * size // 4, i * size
        if not words[w + hash_at] or not words[w + calls_at]:
            continue  # empty, or no calls since the last reset
        off, length = halves[h + off_at], halves[h + len_at]
        calls, errors = words[w + calls_at], words[w + errors_at]
        latency, ops = words[w + latency_at], words[w + ops_at]
        raw_comm = hot[b + comm_at : b + comm_at + comm_len].split(b"\0", 1)[0]
        comm = raw_comm.decode("utf-8", "replace") or "?"
        stored = not (off == 0 or off + length >= arena_size)
        # claimed, but the path is not stored (arena full) or not yet published: no name
        name = (
            hot[arena_at + off : arena_at + off + length].decode("utf-8", "surrogateescape") if stored else ""
        )
        if ops & unseen_flag:
            u = unseen.setdefault((comm, name or "(path not stored)"), [0, 0, 0, 0])
            u[0] += calls
            u[1] |= ops
            timed = [t for t in (ghosts or {}).get(i, ()) if t is not None]
            u[2] += sum(timed)
            u[3] += len(timed)
            continue
        if not stored:
            target = unknowns.setdefault(comm, [0, 0, 0, 0])
        else:
            target = merged.setdefault((comm, name), [0, 0, 0, 0])
        target[0] += calls
        target[1] += errors
        target[2] += latency
        target[3] |= ops

    def names(mask: int) -> tuple[str, ...]:
        return tuple(op for i, op in enumerate(op_names) if mask >> i & 1)

    paths = [HotPath(p, v[0], v[1], v[2], names(v[3]), c) for (c, p), v in merged.items()]
    paths += [HotPath("(path not stored)", v[0], v[1], v[2], names(v[3]), c) for c, v in unknowns.items()]
    paths.sort(key=lambda h: (-h.calls, h.path, h.command))
    programs = [
        UnseenProgram(path, comm, v[0], tuple(r for r, bit in reason_bits if v[1] & bit), v[2], v[3])
        for (comm, path), v in unseen.items()
    ]
    programs.sort(key=lambda u: (-u.runs, u.path, u.command))
    table = HotPathTable(
        tuple(paths), header.hot_count, header.hot_dropped, header.hot_unresolved, header.hot_sample_period
    )
    return table, tuple(programs)


def _snapshot(p: Path, header: Header, slots: bytes, hot: bytes = b"") -> Snapshot:
    ffi = _ffi.ffi()
    decoder = _SlotDecoder(header)
    words_all = memoryview(slots).cast("Q")
    halves = memoryview(slots).cast("I")  # the head's u32 members (slot_size is a multiple of 8)
    per_slot = header.slot_size // 8

    def head_u32(member: str) -> int:
        return ffi.offsetof("struct vrift_slot_head", member) // 4

    state_at, gen_at = head_u32("state"), head_u32("reset_generation")
    # 1.4: a thread row names its image's slot; before, the field is 0
    owner_at = head_u32("owner_slot")
    comm_off = ffi.offsetof("struct vrift_slot_head", "comm")
    comm_len = c("VRIFT_COMM_LEN")
    live = c("VRIFT_SLOT_LIVE")
    # 1.6: a ghost (a program run unseen) has an image but no counts: it is
    # no process of any command here; its wall time (None: no end seen) goes
    # to its program's hot-path entry, which show lists under "Not Seen"
    unseen_at = None
    ghosts: dict[int, list[int | None]] = {}
    if header.ghosts_started:
        from .lifetimes import life_layout

        found = life_layout(header)
        if found is not None:
            unseen_at = (found[0] + ffi.offsetof("struct vrift_life", "unseen")) // 4
            end_at = (found[0] + ffi.offsetof("struct vrift_life", "end_realtime_ns")) // 8
            start_at = ffi.offsetof("struct vrift_slot_head", "start_realtime_ns") // 8
            no_entry = c("VRIFT_GHOST_NO_ENTRY")
    seen_images: set[int] = set()
    groups: dict[str, _Totals] = {}
    for i in range(header.slots_used):
        base = i * header.slot_size
        if i > 0 and halves[base // 4 + state_at] != live:
            continue  # claimed but not yet published, or garbage: skip
        if unseen_at is not None and i > 0 and (entry := halves[base // 4 + unseen_at]):
            if entry != no_entry and not halves[base // 4 + owner_at]:
                end, start = words_all[base // 8 + end_at], words_all[base // 8 + start_at]
                ghosts.setdefault(entry - 1, []).append(end - start if end and end >= start else None)
            continue
        if i > 0 and halves[base // 4 + gen_at] != header.reset_generation:
            continue  # counts from before the last reset; its owner renews it at its next call
        words = words_all[i * per_slot : (i + 1) * per_slot]
        if i == 0:
            overflow = decoder.new_totals()
            if decoder.add(overflow, words):
                overflow.processes = header.slots_overflowed
                groups["(overflow)"] = overflow
            continue
        raw = slots[base + comm_off : base + comm_off + comm_len]
        name = raw.split(b"\0", 1)[0].decode("utf-8", "replace") or "?"
        totals = groups.get(name)
        if totals is None:
            totals = groups[name] = decoder.new_totals()
        decoder.add(totals, words)
        # an image counts once, by its slot's index, whichever of its rows is current
        owner = halves[base // 4 + owner_at] if header.minor >= 4 else 0
        image = owner or i
        if image not in seen_images:
            seen_images.add(image)
            totals.processes += 1

    commands = [CommandStats(name, t.processes, t.op_stats(), t.counters) for name, t in groups.items()]
    commands.sort(key=lambda cmd: (-cmd.est_total_ns, cmd.command))
    info = SessionInfo(
        path=str(p),
        format_version=f"{header.major}.{header.minor}",
        start_realtime_ns=header.start_realtime_ns,
        taken_realtime_ns=time.time_ns(),
        stop_realtime_ns=header.stop_realtime_ns,
        reset_realtime_ns=header.reset_realtime_ns,
        enabled=header.enabled,
        clock="tsc" if header.clock_source == c("VRIFT_CLOCK_TSC") else "monotonic",
        slot_count=header.slot_count,
        slots_used=header.slots_used - 1,
        slots_overflowed=header.slots_overflowed,
        creator=header.creator,
        sample_period=header.sample_period,
        sampled_ops=tuple(name for i, name in enumerate(decoder.op_names) if header.sampled_ops >> i & 1),
    )
    from .lifetimes import LazyImages, process_images  # 1.5

    table, unseen = _hot_paths(header, hot, decoder.op_names, ghosts)

    images = LazyImages(lambda: process_images(header, slots, decoder))
    return Snapshot(
        info, commands, decoder.op_names, table, header.projections, unseen, images, decoder.units
    )
