"""C (the shim) and Python (vrift_profile.writer) lay out identical files.

The header is the single source of truth; both writers derive offsets
from it. Here the shim creates a session (VRIFT_PROFILE_PATH names a
missing file) and Python creates another; apart from the fields that are
per-creation by nature (times, pid, clock calibration, creator name, and
the slots processes claimed), every byte must be equal.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from helpers import profiled_env
from vrift_profile import _ffi, create_session
from vrift_profile.layout import field_specs, layout, op_fields, unit_names

VOLATILE_HEADER_FIELDS = (
    "start_realtime_ns",
    "start_monotonic_ns",
    "clock_mult",
    "clock_shift",
    "clock_source",
    "creator_pid",
    "creator",
    "slots_next",  # the shim's process claimed a slot
)


def _blank(data: bytearray) -> bytearray:
    ffi = _ffi.ffi()
    fields = dict(ffi.typeof("struct vrift_header").fields)
    for name in VOLATILE_HEADER_FIELDS:
        f = fields[name]
        data[f.offset : f.offset + ffi.sizeof(f.type)] = bytes(ffi.sizeof(f.type))
    return data


def test_c_and_python_write_identical_layouts(shim_lib: Path, tmp_path: Path, rundir):
    c_file = tmp_path / "c.vrift"
    subprocess.run(["/bin/true"], env=profiled_env(shim_lib, c_file), check=True)
    assert c_file.exists(), "the shim should create a missing VRIFT_PROFILE_PATH"
    py_file = create_session(tmp_path / "py.vrift")

    c_bytes = bytearray(c_file.read_bytes())
    py_bytes = bytearray(py_file.read_bytes())
    assert len(c_bytes) == len(py_bytes) == layout(4096).file_size
    lay = layout(4096)
    # header + field table + overflow slot head: identical once volatile fields are blanked
    end = lay.slots_offset + lay.slot_size
    assert _blank(c_bytes[:end]) == _blank(py_bytes[:end])


def test_field_table_names_every_counter():
    names = [f.name for f in field_specs()]
    assert len(names) == len(set(names))
    for op in (
        "stat",
        "fstat",
        "lstat",
        "statx",
        "access",
        "open",
        "close",
        "read",
        "write",
        "mmap",
        "munmap",
        "opendir",
        "readdir",
        "closedir",
        "readlink",
        "realpath",
        "dlopen",
    ):
        for suffix in ("calls", "errors", "enoent", "eacces", "latency_ns", "histogram"):
            assert f"{op}.{suffix}" in names
    assert "bytes_read" in names and "bytes_written" in names


def test_cdef_parses_the_shipped_header():
    ffi = _ffi.ffi()
    assert ffi.sizeof("struct vrift_preamble") == 32
    assert ffi.sizeof("struct vrift_field") == 64
    assert ffi.sizeof("struct vrift_slot_head") == 64
    assert _ffi.constants()["VRIFT_MAGIC"] == 0x56524654


def test_layout_facts_come_from_the_header():
    """What the reader relies on for old files and the C side asserts
    (csrc/shim.h) is what the header says, through cffi."""
    ffi = _ffi.ffi()
    c = _ffi.constants()
    # 1.0 and 1.1 headers end where 1.2 appended the projections
    assert ffi.offsetof("struct vrift_header", "vfs_projections") == c["VRIFT_HEADER_LEN_1_0"]
    # every operation row is a member of struct vrift_op_stats, with a declared unit
    members = [name for name, _ in ffi.typeof("struct vrift_op_stats").fields]
    assert list(op_fields()) == members
    specs = {s.name: s for s in field_specs()}
    for m in members:
        s = specs[f"stat.{m}"]
        assert s.unit == c[f"VRIFT_OPUNITOF_{m.upper()}"]
        assert s.offset - specs["stat.calls"].offset == ffi.offsetof("struct vrift_op_stats", m)
    assert specs["stat.histogram"].count == c["VRIFT_HIST_BUCKETS"]
    # units have the names readers give them
    assert set(unit_names().values()) == {"events", "ns", "bytes"}
    # the profile and manifest headers share one byte-order mark (vrift_common.h)
    from vrift_vfs import _ffi as vfs_ffi

    assert vfs_ffi.const("VRIFT_BYTE_ORDER_MARK") == c["VRIFT_BYTE_ORDER_MARK"]
    # the shadow sample is a run within a power-of-two period (vfs_serve.c masks)
    period, run = c["VRIFT_VFS_SHADOW_PERIOD"], c["VRIFT_VFS_SHADOW_RUN"]
    assert period & (period - 1) == 0 and 0 < run <= period


def test_cdef_source_inlines_each_included_header_once():
    import vrift_shim

    src = vrift_shim.cdef_source("vrift_profile.h", "vrift_manifest.h")
    assert src.count("#define VRIFT_BYTE_ORDER_MARK") == 1
    assert "#include" not in src and "#ifndef" not in src
    assert '".x"' not in src  # string #defines are C only
