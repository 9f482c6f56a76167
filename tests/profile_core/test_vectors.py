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
from vrift_profile.layout import field_specs, layout

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
