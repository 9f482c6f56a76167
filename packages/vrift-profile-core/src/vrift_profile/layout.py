"""The session-file layout, computed from the C header through cffi.

Mirrors csrc/layout.c rule for rule (field order, names, offsets,
alignment); tests/profile_core/test_vectors.py proves the bytes match.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import _ffi

# Per-operation fields, in table order: (suffix, kind, unit, count or None for 1).
_OP_FIELDS = (
    ("calls", "COUNTER", "EVENTS"),
    ("errors", "COUNTER", "EVENTS"),
    ("enoent", "COUNTER", "EVENTS"),
    ("eacces", "COUNTER", "EVENTS"),
    ("latency_ns", "COUNTER", "NANOSECONDS"),
    ("histogram", "HISTOGRAM", "NANOSECONDS"),
)
_OP_MEMBER = {"histogram": "hist"}


def _align(v: int, a: int) -> int:
    return (v + a - 1) // a * a


def c(name: str) -> int:
    return _ffi.constants()[name]


def op_names() -> list[str]:
    return _ffi.enum_names("VRIFT_OP_", "VRIFT_OP_COUNT")


def misc_names() -> list[str]:
    return _ffi.enum_names("VRIFT_MISC_", "VRIFT_MISC_COUNT")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: int
    unit: int
    count: int
    offset: int  # bytes from the slot start


def field_specs() -> list[FieldSpec]:
    ffi = _ffi.ffi()
    counters_at = ffi.offsetof("struct vrift_slot", "counters")
    op_size = ffi.sizeof("struct vrift_op_stats")
    hist = c("VRIFT_HIST_BUCKETS")
    specs = []
    for i, op in enumerate(op_names()):
        base = counters_at + ffi.offsetof("struct vrift_counters", "op") + i * op_size
        for suffix, kind, unit in _OP_FIELDS:
            member = _OP_MEMBER.get(suffix, suffix)
            specs.append(
                FieldSpec(
                    f"{op}.{suffix}",
                    c(f"VRIFT_KIND_{kind}"),
                    c(f"VRIFT_UNIT_{unit}"),
                    hist if kind == "HISTOGRAM" else 1,
                    base + ffi.offsetof("struct vrift_op_stats", member),
                )
            )
    misc_at = counters_at + ffi.offsetof("struct vrift_counters", "misc")
    for i, name in enumerate(misc_names()):
        specs.append(
            FieldSpec(
                name,
                c("VRIFT_KIND_COUNTER"),
                c(f"VRIFT_UNITOF_{name.upper()}"),
                1,
                misc_at + 8 * i,
            )
        )
    timed_at = counters_at + ffi.offsetof("struct vrift_counters", "timed")
    for i, op in enumerate(op_names()):  # 1.3: calls really timed
        specs.append(
            FieldSpec(
                f"{op}.timed_calls", c("VRIFT_KIND_COUNTER"), c("VRIFT_UNIT_EVENTS"), 1, timed_at + 8 * i
            )
        )
    return specs


@dataclass(frozen=True)
class Layout:
    slot_count: int
    field_table_offset: int
    field_count: int
    slots_offset: int
    slot_size: int
    hot_offset: int
    hot_count: int
    hot_arena_offset: int
    hot_arena_size: int
    file_size: int
    slots_ready: int  # 1.4: slots whose disk blocks a new file reserves (the first chunk)

    @property
    def reserved(self) -> tuple[tuple[int, int], ...]:
        """(offset, length) ranges a new file reserves on disk: header, field
        table and the first chunk of slots; the hot-path table and arena."""
        return (
            (0, self.slots_offset + self.slots_ready * self.slot_size),
            (self.hot_offset, self.file_size - self.hot_offset),
        )


def layout(slot_count: int, hot_entries: int | None = None) -> Layout:
    ffi = _ffi.ffi()
    table = _align(ffi.sizeof("struct vrift_header"), 64)
    nfields = len(field_specs())
    slots = _align(table + nfields * ffi.sizeof("struct vrift_field"), 4096)
    slot_size = _align(ffi.sizeof("struct vrift_slot"), 64)
    hot = _align(slots + slot_count * slot_size, 4096)
    hot_count = c("VRIFT_HOT_DEFAULT_ENTRIES") if hot_entries is None else hot_entries
    arena = hot + hot_count * ffi.sizeof("struct vrift_hot_entry")
    arena_size = c("VRIFT_HOT_DEFAULT_ARENA")
    return Layout(
        slot_count=slot_count,
        field_table_offset=table,
        field_count=nfields,
        slots_offset=slots,
        slot_size=slot_size,
        hot_offset=hot,
        hot_count=hot_count,
        hot_arena_offset=arena,
        hot_arena_size=arena_size,
        file_size=_align(arena + arena_size, 4096),
        slots_ready=min(slot_count, c("VRIFT_SLOT_CHUNK")),
    )
