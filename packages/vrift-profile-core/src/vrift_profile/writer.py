"""Create session files and change their live state (start/stop/reset).

Creation follows the same rules as the shim (csrc/session.c): O_EXCL and
O_NOFOLLOW, mode 0600, every byte reserved up front with
posix_fallocate (a full disk fails here, not as SIGBUS in a build), the
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
from .layout import c, field_specs, layout
from .reader import parse_header

CREATOR = "vrift_profile"


def _realtime_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_REALTIME)


def write_layout(buf: memoryview | bytearray | mmap.mmap, slot_count: int, creator: str = CREATOR) -> None:
    """Lay out an empty session in a zeroed buffer of layout(slot_count).file_size
    bytes. Does not set `ready`, times or the clock."""
    ffi = _ffi.ffi()
    lay = layout(slot_count)
    h = ffi.cast("struct vrift_header *", ffi.from_buffer(buf))
    h.pre.magic = c("VRIFT_MAGIC")
    h.pre.byte_order = c("VRIFT_BYTE_ORDER_MARK")
    h.pre.major = c("VRIFT_VERSION_MAJOR")
    h.pre.minor = c("VRIFT_VERSION_MINOR")
    h.pre.header_len = ffi.sizeof("struct vrift_header")
    h.pre.file_size = lay.file_size
    h.enabled = 1
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


def create_session(path: str | os.PathLike[str], slot_count: int | None = None, enabled: bool = True) -> Path:
    """Create a new session file at `path` (which must not exist)."""
    p = Path(path)
    if slot_count is None:
        slot_count = c("VRIFT_DEFAULT_SLOT_COUNT")
    if not 2 <= slot_count <= 1_000_000:
        raise SessionError(f"slot count {slot_count} out of range (2..1000000)")
    lay = layout(slot_count)
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(p, flags, 0o600)
    except FileExistsError:
        raise SessionError(f"{p}: already exists (a new session needs a new file)") from None
    except OSError as e:
        raise SessionError(f"cannot create {p}: {e.strerror}") from None
    try:
        try:
            os.posix_fallocate(fd, 0, lay.file_size)
        except OSError as e:
            raise SessionError(f"cannot reserve {lay.file_size} bytes for {p}: {e.strerror}") from None
        with mmap.mmap(fd, lay.file_size) as m:
            write_layout(m, slot_count)
            ffi = _ffi.ffi()
            h = ffi.cast("struct vrift_header *", ffi.from_buffer(m))
            h.start_realtime_ns = _realtime_ns()
            h.start_monotonic_ns = time.monotonic_ns()
            h.creator_pid = os.getpid()
            h.clock_source, h.clock_mult, h.clock_shift = _ffi.calibrate_clock()
            h.enabled = 1 if enabled else 0
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
            h.enabled = 1  # type: ignore[attr-defined]
        else:
            h.enabled = 0  # type: ignore[attr-defined]
            h.stop_realtime_ns = _realtime_ns()  # type: ignore[attr-defined]
    return was


def reset(path: str | os.PathLike[str]) -> None:
    """Zero every counter of every slot.

    Each counter is cleared with one aligned 8-byte store, which is atomic
    against the shim's `lock add`: an increment lands either before the
    store (and is discarded, as a reset should) or after it (and is kept).
    Counters never go negative and no increment is lost after the reset.
    Process identities (pid, command) stay so later calls keep their slot.
    """
    ffi = _ffi.ffi()
    head = ffi.sizeof("struct vrift_slot_head")
    with open_live(path) as (m, h):
        hdr = h  # type: ignore[assignment]
        used = max(1, min(int(hdr.slots_next), int(hdr.slot_count)))
        zeros = bytes(int(hdr.slot_size) - head)
        for i in range(used):
            start = int(hdr.slots_offset) + i * int(hdr.slot_size) + head
            m[start : start + len(zeros)] = zeros
        hdr.reset_generation += 1
        hdr.reset_realtime_ns = _realtime_ns()
