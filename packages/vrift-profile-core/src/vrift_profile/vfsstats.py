"""What the VFS contributed in a session, derived from its counters.

Time saved is an estimate with a stated method (docs/vfs.md): for each
call class the VFS answers from memory (stat, lstat, fstat, statx,
access, readlink),

    saved = served calls x (mean real call - mean served call)

"mean served call" is timed over the whole served path, from the VFS
hook's entry to the end of its bookkeeping (counters, hot paths). "mean
real call" is measured in place: in runs of VRIFT_VFS_SHADOW_RUN of every
VRIFT_VFS_SHADOW_PERIOD served calls per thread (vrift_profile.h) the shim
also makes the real call, into a scratch buffer, and times the system call
alone ("shadow samples"; the program still gets the served answer). The
two differ in what they leave out (the real side omits its bookkeeping,
and a lone real call among served ones finds colder caches than one in a
stream); docs/vfs.md and benchmarks/RESULTS.md compare the estimate with
measured A/B runs. Without shadow samples (counters-only sessions) the
baseline falls back to the mean of the class's real calls elsewhere in the
session; a class with neither gets no estimate. Disk saved is exact: the
sum over the session's projections of original bytes minus distinct stored
bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Snapshot.to_dict() asks this module for the VFS block: no import back
    from .snapshot import Snapshot


@dataclass(frozen=True)
class VfsContribution:
    handled: int
    passthrough: int
    manifest_hits: int
    manifest_misses: int
    bloom_rejects: int
    cas_hits: int
    cas_misses: int
    cow_copies: int
    cow_bytes: int
    served_calls: int
    serving_ns: int
    time_saved_ns: int | None  # None: no baseline to estimate from
    unestimated_ops: tuple[str, ...]  # served classes with no real calls to compare
    original_bytes: int
    stored_bytes: int

    @property
    def dedup_savings(self) -> int:
        return self.original_bytes - self.stored_bytes

    @property
    def lookups(self) -> int:
        return self.manifest_hits + self.manifest_misses + self.bloom_rejects


def contribution(snap: Snapshot) -> VfsContribution | None:
    """None when no process of the session had a VFS projection."""
    ctr = snap.counters
    if "vfs_handled" not in ctr or not (ctr["vfs_handled"] or ctr["vfs_passthrough"] or snap.projections):
        return None
    ops = snap.ops
    saved = 0.0
    estimated = False
    missing = []
    served_calls = serving_ns = 0
    # the classes the VFS serves: those the file has vfs_served_calls_OP counters for
    served = [k.removeprefix("vfs_served_calls_") for k in ctr if k.startswith("vfs_served_calls_")]
    for op in served:
        n = ctr.get(f"vfs_served_calls_{op}", 0)
        ns = ctr.get(f"vfs_served_ns_{op}", 0)
        shadow_n = ctr.get(f"vfs_shadow_calls_{op}", 0)
        shadow_ns = ctr.get(f"vfs_shadow_ns_{op}", 0)
        served_calls += n
        serving_ns += ns
        if not n:
            continue
        if shadow_n:
            baseline = shadow_ns / shadow_n
        else:
            o = ops.get(op)
            real_timed = (o.timed_calls if o else 0) - n
            real_ns = (o.latency_ns if o else 0) - ns
            if real_timed <= 0 or real_ns <= 0:
                missing.append(op)
                continue
            baseline = real_ns / real_timed
        saved += max(0.0, n * baseline - ns)
        estimated = True
    return VfsContribution(
        handled=ctr["vfs_handled"],
        passthrough=ctr["vfs_passthrough"],
        manifest_hits=ctr.get("manifest_hits", 0),
        manifest_misses=ctr.get("manifest_misses", 0),
        bloom_rejects=ctr.get("bloom_rejects", 0),
        cas_hits=ctr.get("cas_hits", 0),
        cas_misses=ctr.get("cas_misses", 0),
        cow_copies=ctr.get("cow_copies", 0),
        cow_bytes=ctr.get("cow_bytes", 0),
        served_calls=served_calls,
        serving_ns=serving_ns,
        time_saved_ns=int(saved) if estimated else None,
        unestimated_ops=tuple(missing),
        original_bytes=sum(p[0] for p in snap.projections),
        stored_bytes=sum(p[1] for p in snap.projections),
    )
