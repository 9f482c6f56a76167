"""vrift's 64-bit path hash, bit for bit the C one (csrc/shim.h vr_hash_bytes).

Eight bytes a step; the shim computes it on every lookup, the manifest
writer here for every entry, so the two must agree exactly (tested).
"""

from __future__ import annotations

_MASK = (1 << 64) - 1
_MUL = 0x9E3779B97F4A7C15
_LEN_MUL = 0xC2B2AE3D27D4EB4F
PATH_SEED = 0x6A09E667F3BCC908


def _mix(h: int, w: int) -> int:
    h ^= w
    h = (h * _MUL) & _MASK
    return h ^ (h >> 29)


def hash_bytes(seed: int, data: bytes) -> int:
    n = len(data)
    h = seed ^ ((n * _LEN_MUL) & _MASK)
    full = n - n % 8
    for i in range(0, full, 8):
        h = _mix(h, int.from_bytes(data[i : i + 8], "little"))
    tail = int.from_bytes(data[full:], "little") | ((n % 8) << 56)
    h = _mix(h, tail)
    return h or 1


def path_hash(rel: bytes) -> int:
    """Hash of a path relative to a projection root ("" for the root)."""
    return hash_bytes(PATH_SEED, rel)


def bloom_bits(h: int, bits: int, k: int) -> list[int]:
    """The k bit positions of hash h in a bloom filter of `bits` (a power of two)."""
    h2 = ((h >> 32) | 1) & _MASK
    return [((h + i * h2) & _MASK) & (bits - 1) for i in range(k)]
