"""The manifest layout as `struct` formats, for readers that must be fast.

The source of truth is the shim's vrift_manifest.h (the writer goes
through cffi over it). Reading needs only fixed offsets, and parsing the
header with cffi costs ~75 ms per process, which `vrift run --vfs` would
pay on every build command; tests/vfs/test_lifecycle.py checks every
offset and constant here against cffi's offsetof and the header's values.
"""

from __future__ import annotations

import struct

# struct vrift_manifest_header
HEADER = struct.Struct("<IIHHIQ" + "8Q" + "6Q" + "64s" + "8Q")
(
    H_MAGIC,
    H_BYTE_ORDER,
    H_MAJOR,
    H_MINOR,
    H_HEADER_LEN,
    H_FILE_SIZE,
    H_ENTRY_COUNT,
    H_ENTRIES_OFFSET,
    H_INDEX_OFFSET,
    H_INDEX_SLOTS,
    H_BLOOM_OFFSET,
    H_BLOOM_BITS,
    H_STRINGS_OFFSET,
    H_STRINGS_SIZE,
    H_ORIGINAL_BYTES,
    H_UNIQUE_BYTES,
    H_FILE_COUNT,
    H_DIR_COUNT,
    H_SYMLINK_COUNT,
    H_CREATED_REALTIME_NS,
    H_NAME,
) = range(21)
HEADER_FIELDS = (
    "magic byte_order major minor header_len file_size entry_count entries_offset index_offset "
    "index_slots bloom_offset bloom_bits strings_offset strings_size original_bytes unique_bytes "
    "file_count dir_count symlink_count created_realtime_ns name"
).split()

MAGIC = 0x464D5256
BYTE_ORDER_MARK = 0x01020304
MAJOR = 1

# struct vrift_manifest_entry: the fixed part, then struct vrift_statx up to
# stx_mtime; the rest of the statx record is padding to this reader.
ENTRY = struct.Struct("<QIIIIII32s" + "IIQIIIHHQQQQ" + "qIi" * 4 + "128x")
E_PATH_OFF, E_PATH_LEN, E_TYPE, E_TARGET_LEN, E_TARGET_OFF = 1, 2, 3, 4, 5
E_BLOB = 7
E_MODE, E_SIZE = 14, 17
E_ATIME_SEC, E_ATIME_NSEC = 20, 21
E_MTIME_SEC, E_MTIME_NSEC = 29, 30

# (C member, struct index) pairs the layout test checks against cffi.
ENTRY_CHECKS = (
    ("path_off", E_PATH_OFF),
    ("path_len", E_PATH_LEN),
    ("type", E_TYPE),
    ("target_len", E_TARGET_LEN),
    ("target_off", E_TARGET_OFF),
    ("blob", E_BLOB),
    ("st.stx_mode", E_MODE),
    ("st.stx_size", E_SIZE),
    ("st.stx_atime.tv_sec", E_ATIME_SEC),
    ("st.stx_atime.tv_nsec", E_ATIME_NSEC),
    ("st.stx_mtime.tv_sec", E_MTIME_SEC),
    ("st.stx_mtime.tv_nsec", E_MTIME_NSEC),
)

TYPE_FILE, TYPE_DIR, TYPE_SYMLINK = 1, 2, 3  # enum vrift_entry_type

# The lines of a projection descriptor (vrift_vfs_state.h, enum vrift_proj_line):
# `vrift run --vfs` reads descriptors, so these too are copies checked by the test.
PROJ_LINE_ROOT, PROJ_LINE_MANIFEST, PROJ_LINE_DIRTY, PROJ_LINE_STORE, PROJ_LINE_MECHANISM = range(5)
PROJ_LINES = 5


def field_offsets(s: struct.Struct) -> list[int]:
    """Byte offset of each unpacked item of a little-endian, padding-free format."""
    offsets: list[int] = []
    pos = 0
    fmt = s.format.lstrip("<")
    i = 0
    while i < len(fmt):
        j = i
        while fmt[j].isdigit():
            j += 1
        count = int(fmt[i:j]) if j > i else 1
        code = fmt[j]
        size = struct.calcsize("<" + code)
        if code == "s":
            offsets.append(pos)
            pos += count
        elif code == "x":
            pos += count
        else:
            for _ in range(count):
                offsets.append(pos)
                pos += size
        i = j + 1
    return offsets
