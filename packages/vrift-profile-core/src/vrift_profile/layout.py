"""The session-file layout, computed from the C header through cffi.

Mirrors csrc/layout.c rule for rule (field order, names, offsets,
alignment); tests/profile_core/test_vectors.py proves the bytes match.
Every fact comes from the header: the per-operation fields are the
members of struct vrift_op_stats, their units the VRIFT_OPUNITOF_*
constants, the scalar counters enum vrift_misc with VRIFT_UNITOF_*.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from . import _ffi

# The per-operation row of struct vrift_counters.timed (1.3): OP.timed_calls.
TIMED_CALLS = "timed_calls"


def _align(v: int, a: int) -> int:
    return (v + a - 1) // a * a


def c(name: str) -> int:
    return _ffi.constants()[name]


def op_names() -> tuple[str, ...]:
    return _ffi.enum_names("enum vrift_op", "VRIFT_OP_")


def misc_names() -> tuple[str, ...]:
    return _ffi.enum_names("enum vrift_misc", "VRIFT_MISC_")


@cache
def unit_names() -> dict[int, str]:
    """enum vrift_unit by value, named after its members: "events", "ns", "bytes"."""
    members = _ffi.ffi().typeof("enum vrift_unit").relements
    return {v: k[len("VRIFT_UNIT_") :].lower() for k, v in members.items()}


@cache
def op_fields() -> tuple[str, ...]:
    """The suffixes of one operation's rows (calls, errors, ..., histogram):
    the members of struct vrift_op_stats, in order."""
    return tuple(name for name, _ in _ffi.ffi().typeof("struct vrift_op_stats").fields)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: int
    unit: int
    count: int
    offset: int  # bytes from the slot start


@cache
def field_specs() -> tuple[FieldSpec, ...]:
    ffi = _ffi.ffi()
    counters_at = ffi.offsetof("struct vrift_slot", "counters")
    op_size = ffi.sizeof("struct vrift_op_stats")
    members = ffi.typeof("struct vrift_op_stats").fields
    specs = []
    for i, op in enumerate(op_names()):
        base = counters_at + ffi.offsetof("struct vrift_counters", "op") + i * op_size
        for member, f in members:
            array = f.type.kind == "array"  # the histogram: one u64 per bucket
            specs.append(
                FieldSpec(
                    f"{op}.{member}",
                    c("VRIFT_KIND_HISTOGRAM" if array else "VRIFT_KIND_COUNTER"),
                    c(f"VRIFT_OPUNITOF_{member.upper()}"),
                    f.type.length if array else 1,
                    base + f.offset,
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
    unit = c(f"VRIFT_OPUNITOF_{TIMED_CALLS.upper()}")
    for i, op in enumerate(op_names()):  # 1.3: calls really timed
        specs.append(FieldSpec(f"{op}.{TIMED_CALLS}", c("VRIFT_KIND_COUNTER"), unit, 1, timed_at + 8 * i))
    return tuple(specs)


@cache
def declared_units() -> dict[str, str]:
    """The unit this header declares for each field name ("events", "ns",
    "bytes"): what a session file's field table says for the same name."""
    names = unit_names()
    return {s.name: names[s.unit] for s in field_specs()}


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
    table = _align(ffi.sizeof("struct vrift_header"), c("VRIFT_ALIGN_LINE"))
    nfields = len(field_specs())
    slots = _align(table + nfields * ffi.sizeof("struct vrift_field"), c("VRIFT_ALIGN_PAGE"))
    slot_size = _align(ffi.sizeof("struct vrift_slot"), c("VRIFT_ALIGN_LINE"))
    hot = _align(slots + slot_count * slot_size, c("VRIFT_ALIGN_PAGE"))
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
        file_size=_align(arena + arena_size, c("VRIFT_ALIGN_PAGE")),
        slots_ready=min(slot_count, c("VRIFT_SLOT_CHUNK")),
    )
