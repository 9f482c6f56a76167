"""Create session files and change their live state (start/stop/reset).

Creation follows the same rules as the shim (csrc/session.c): O_EXCL and
O_NOFOLLOW, mode 0600, the full size laid out but only what is written
from the start reserved with posix_fallocate (header, the first chunk of
slots, the hot-path table: a full disk fails here, not as SIGBUS in a
build; the shim reserves later slot chunks as processes claim them), the
layout written, then `ready` published last. Live changes are single
aligned 8-byte or 4-byte stores, which running processes observe at
their next call.
"""

from __future__ import annotations

import mmap
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import _ffi
from .errors import ProfileFormatError, SessionError
from .layout import c, field_specs, layout, misc_names, op_names
from .reader import parse_header

CREATOR = "vrift_profile"


def _realtime_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_REALTIME)


def write_layout(
    buf: memoryview | bytearray | mmap.mmap,
    slot_count: int,
    creator: str = CREATOR,
    hot_entries: int | None = None,
) -> None:
    """Lay out an empty session in a zeroed buffer of layout(...).file_size
    bytes. Does not set `ready`, times or the clock."""
    ffi = _ffi.ffi()
    lay = layout(slot_count, hot_entries)
    h = ffi.cast("struct vrift_header *", ffi.from_buffer(buf))
    h.pre.magic = c("VRIFT_MAGIC")
    h.pre.byte_order = c("VRIFT_BYTE_ORDER_MARK")
    h.pre.major = c("VRIFT_VERSION_MAJOR")
    h.pre.minor = c("VRIFT_VERSION_MINOR")
    h.pre.header_len = ffi.sizeof("struct vrift_header")
    h.pre.file_size = lay.file_size
    h.mode = c("VRIFT_MODE_DEFAULT")
    h.enabled = c("VRIFT_MODE_DEFAULT")
    h.timing_sample_period = c("VRIFT_DEFAULT_SAMPLE_PERIOD")
    h.hot_sample_period = c("VRIFT_DEFAULT_HOT_SAMPLE_PERIOD")
    h.timing_sampled_ops = c("VRIFT_DEFAULT_SAMPLED_OPS")
    h.field_count = lay.field_count
    h.field_size = ffi.sizeof("struct vrift_field")
    h.field_table_offset = lay.field_table_offset
    h.op_count = c("VRIFT_OP_COUNT")
    h.misc_count = c("VRIFT_MISC_COUNT")
    h.hist_buckets = c("VRIFT_HIST_BUCKETS")
    h.slot_count = slot_count
    h.slot_size = lay.slot_size
    h.slots_offset = lay.slots_offset
    h.slots_next = 1
    h.slots_ready = lay.slots_ready
    h.hot_offset = lay.hot_offset
    h.hot_count = lay.hot_count
    h.hot_arena_offset = lay.hot_arena_offset
    h.hot_arena_size = lay.hot_arena_size
    h.hot_arena_used = 1
    name = creator.encode()[: c("VRIFT_CREATOR_LEN") - 1]
    ffi.memmove(h.creator, name, len(name))
    base = ffi.cast("char *", h)
    for i, spec in enumerate(field_specs()):
        row = ffi.cast("struct vrift_field *", base + lay.field_table_offset + i * h.field_size)
        n = spec.name.encode()[: c("VRIFT_FIELD_NAME_LEN") - 1]
        ffi.memmove(row.name, n, len(n))
        row.kind = spec.kind
        row.unit = spec.unit
        row.count = spec.count
        row.offset = spec.offset
    overflow = ffi.cast("struct vrift_slot_head *", base + lay.slots_offset)
    ffi.memmove(overflow.comm, b"(overflow)", 10)
    overflow.state = c("VRIFT_SLOT_OVERFLOW")


def create_session(
    path: str | os.PathLike[str],
    slot_count: int | None = None,
    enabled: bool = True,
    counters_only: bool = False,
    hot_entries: int | None = None,
    hot_paths: bool | None = None,
    exact_timing: bool = False,
) -> Path:
    """Create a new session file at `path` (which must not exist).
    Counting, timing and hot paths are on. Cheap operations are timed on a
    1-in-VRIFT_DEFAULT_SAMPLE_PERIOD random sample and path calls recorded in
    the hot-path table on a 1-in-VRIFT_DEFAULT_HOT_SAMPLE_PERIOD one;
    `exact_timing` times and records every call. `hot_paths`: None (default:
    sampled), True (every path call), False (none). `counters_only` counts
    calls, errors and bytes but reads no clock and records no path.
    `hot_entries`: the table's size (a power of two; 0 for none)."""
    p = Path(path)
    if slot_count is None:
        slot_count = c("VRIFT_DEFAULT_SLOT_COUNT")
    if not 2 <= slot_count <= 1_000_000:
        raise SessionError(f"slot count {slot_count} out of range (2..1000000)")
    if hot_entries is not None and hot_entries and hot_entries & (hot_entries - 1):
        raise SessionError(f"hot-path entries {hot_entries} is not a power of two")
    lay = layout(slot_count, hot_entries)
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(p, flags, 0o600)
    except FileExistsError:
        raise SessionError(f"{p}: already exists (a new session needs a new file)") from None
    except OSError as e:
        raise SessionError(f"cannot create {p}: {e.strerror}") from None
    try:
        try:
            os.ftruncate(fd, lay.file_size)
            for offset, length in lay.reserved:
                os.posix_fallocate(fd, offset, length)
        except OSError as e:
            raise SessionError(f"cannot reserve {lay.file_size} bytes for {p}: {e.strerror}") from None
        with mmap.mmap(fd, lay.file_size) as m:
            write_layout(m, slot_count, hot_entries=hot_entries)
            ffi = _ffi.ffi()
            h = ffi.cast("struct vrift_header *", ffi.from_buffer(m))
            h.start_realtime_ns = _realtime_ns()
            h.start_monotonic_ns = time.monotonic_ns()
            h.creator_pid = os.getpid()
            h.clock_source, h.clock_mult, h.clock_shift = _ffi.calibrate_clock()
            if counters_only:
                h.mode = c("VRIFT_MODE_COUNTERS")
            else:
                h.mode = c("VRIFT_MODE_NO_HOT") if hot_paths is False else c("VRIFT_MODE_DEFAULT")
            h.enabled = h.mode if enabled else 0
            if exact_timing:
                h.timing_sample_period = 1
                h.timing_sampled_ops = 0
            if exact_timing or hot_paths:
                h.hot_sample_period = 1
            if not enabled:
                h.stop_realtime_ns = h.start_realtime_ns
            h.pre.ready = 1  # published last; x86-64 keeps store order
            m.flush()
    except BaseException:
        os.unlink(p)
        raise
    finally:
        os.close(fd)
    return p


@contextmanager
def open_live(path: str | os.PathLike[str]) -> Iterator[tuple[mmap.mmap, object]]:
    """Map an existing, valid session read-write; yields (mmap, header pointer)."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise SessionError(f"{p}: no such profile session") from None
    except OSError as e:
        raise SessionError(f"{p}: cannot open: {e.strerror}") from None
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            raise ProfileFormatError(f"{p}: empty file, not a vrift profile")
        m = mmap.mmap(fd, size)
    finally:
        os.close(fd)
    try:
        parse_header(p, m[: min(size, 1 << 20)], size)
        ffi = _ffi.ffi()
        yield m, ffi.cast("struct vrift_header *", ffi.from_buffer(m))
    finally:
        m.close()


def set_enabled(path: str | os.PathLike[str], enabled: bool) -> bool:
    """Start or stop counting; returns the previous state. Running processes
    obey at their next wrapped call."""
    with open_live(path) as (_, h):
        was = bool(h.enabled)  # type: ignore[attr-defined]
        if enabled:
            h.stop_realtime_ns = 0  # type: ignore[attr-defined]
            h.enabled = h.mode or c("VRIFT_MODE_DEFAULT")  # type: ignore[attr-defined]
        else:
            h.enabled = 0  # type: ignore[attr-defined]
            h.stop_realtime_ns = _realtime_ns()  # type: ignore[attr-defined]
    return was


def reset(path: str | os.PathLike[str]) -> None:
    """Start counting from zero.

    Bumps the header's reset generation; nothing else in the process slots
    is written from outside. (The shared hot-path table's counters and the
    overflow slot are cleared here with aligned 8-byte stores, which are
    atomic against the shim's locked adds.) Each process zeroes its own slot at its next
    call and marks it with the new generation, and readers ignore slots of
    an older generation, so no increment is lost or half-reset and nothing
    goes negative. Only the overflow slot (shared, written with locked
    adds) is cleared here, one aligned 8-byte store per counter, which is
    atomic against those adds.
    """
    ffi = _ffi.ffi()
    head = ffi.sizeof("struct vrift_slot_head")
    with open_live(path) as (m, h):
        hdr = h  # type: ignore[assignment]
        gen = (int(hdr.reset_generation) + 1) & 0xFFFFFFFF
        start = int(hdr.slots_offset) + head
        m[start : start + int(hdr.slot_size) - head] = bytes(int(hdr.slot_size) - head)
        overflow = ffi.cast("struct vrift_slot_head *", ffi.cast("char *", hdr) + int(hdr.slots_offset))
        overflow.reset_generation = gen
        # Hot paths stay claimed (their names remain valid); their counters
        # (the members from calls to ops) restart.
        entry = ffi.sizeof("struct vrift_hot_entry")
        first = ffi.offsetof("struct vrift_hot_entry", "calls")
        zeros = bytes(ffi.offsetof("struct vrift_hot_entry", "ops") + 8 - first)
        for i in range(int(hdr.hot_count)):
            at = int(hdr.hot_offset) + i * entry + first
            m[at : at + len(zeros)] = zeros
        hdr.hot_dropped = 0
        hdr.hot_unresolved = 0
        hdr.reset_realtime_ns = _realtime_ns()
        hdr.reset_generation = gen  # published last: processes renew on their next call


class SyntheticWriter:
    """Write counters into a session the way a process image would.

    For tests, demos and tools that import data from elsewhere: it claims
    slots and follows the reset-generation protocol like the shim does,
    but with plain (non-atomic) Python stores, so do not point it at a
    session that live processes are writing at the same moment.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._ctx = open_live(path)
        self._m, self._h = self._ctx.__enter__()
        self._ffi = _ffi.ffi()

    def __enter__(self) -> SyntheticWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._ctx is not None:
            self._h = None
            self._ctx.__exit__(None, None, None)
            self._ctx = None

    def _slot(self, idx: int):
        h = self._h
        return self._ffi.cast(
            "struct vrift_slot *", self._ffi.cast("char *", h) + h.slots_offset + idx * h.slot_size
        )

    def process(self, command: str, pid: int = 0, ppid: int = 0, thread_of: int = 0) -> int:
        """Claim the next slot for a process image named `command`, or with
        `thread_of` (an image's slot index) a thread row of that image
        (format 1.4); returns its index."""
        h = self._h
        idx = int(h.slots_next)
        if idx >= h.slot_count:
            raise SessionError(f"all {h.slot_count} slots are taken")
        h.slots_next = idx + 1
        s = self._slot(idx)
        name = command.encode()[: c("VRIFT_COMM_LEN") - 1]
        self._ffi.memmove(s.head.comm, name, len(name))
        s.head.pid, s.head.ppid = pid, ppid
        s.head.start_realtime_ns = _realtime_ns()
        s.head.reset_generation = h.reset_generation
        s.head.owner_slot = thread_of
        s.head.state = c("VRIFT_SLOT_LIVE")
        return idx

    def _counters(self, idx: int):
        s = self._slot(idx)
        if idx > 0 and s.head.reset_generation != self._h.reset_generation:
            size = self._ffi.sizeof("struct vrift_counters")
            self._ffi.memmove(self._ffi.addressof(s, "counters"), bytes(size), size)
            s.head.reset_generation = self._h.reset_generation
        return s.counters

    def add(
        self,
        idx: int,
        op: str,
        calls: int = 0,
        errors: int = 0,
        enoent: int = 0,
        eacces: int = 0,
        latency_ns: int = 0,
        histogram: dict[int, int] | None = None,
        timed: int | None = None,
    ) -> None:
        """Add to operation `op` (e.g. "stat") of slot `idx`; histogram maps
        bucket -> count (weighted, format 1.3); `timed`: calls really timed
        (default: the histogram's total, i.e. every timed call weighs 1)."""
        names = op_names()
        if op not in names:
            raise SessionError(f"unknown operation {op!r}")
        ctr = self._counters(idx)
        i = names.index(op)
        o = ctr.op[i]
        o.calls += calls
        o.errors += errors
        o.enoent += enoent
        o.eacces += eacces
        o.latency_ns += latency_ns
        for bucket, n in (histogram or {}).items():
            o.histogram[bucket] += n
        ctr.timed[i] += sum((histogram or {}).values()) if timed is None else timed

    def add_counter(self, idx: int, name: str, value: int) -> None:
        names = misc_names()
        if name not in names:
            raise SessionError(f"unknown counter {name!r}")
        self._counters(idx).misc[names.index(name)] += value


def record_launched_status(
    path: str | os.PathLike[str], pid: int, returncode: int, end_ns: int | None = None
) -> bool:
    """`vrift profile run` saw its child end: record the status (and, if the
    child could not record its end itself, the reaping time: `end_ns`,
    CLOCK_REALTIME taken when its wait returned, else now) in the child's
    newest image slot. Returns whether a slot was found."""
    ffi = _ffi.ffi()
    live = c("VRIFT_SLOT_LIVE")
    status = (-returncode & 0x7F) if returncode < 0 else (returncode & 0xFF) << 8
    me = os.getpid()
    with open_live(path) as (_, h):
        base = ffi.cast("char *", h)
        used = min(int(h.slots_next), int(h.slot_count))  # type: ignore[attr-defined]
        for i in range(used - 1, 0, -1):
            s = ffi.cast("struct vrift_slot *", base + h.slots_offset + i * h.slot_size)  # type: ignore[attr-defined]
            if s.head.state != live or s.head.pid != pid or s.head.owner_slot:
                continue
            if s.head.ppid != me:
                return False
            if not s.life.end_realtime_ns:  # it could not record its end itself
                s.life.end_realtime_ns = end_ns or time.clock_gettime_ns(time.CLOCK_REALTIME)
            s.life.status = status
            s.life.status_from = c("VRIFT_STATUS_LAUNCHER")  # stored last
            return True
    return False
