"""The Snapshot model: what a profile said at one instant, in plain Python.

Totals are sums over every process slot; per-command views group slots
by command name. Everything here is derived from counters in the file:
nothing is estimated except where a name says so (`est_total_ns`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .lifetimes import ProcessImage


def _header_constant(name: str) -> int:
    # On first use, not at import: loading a JSON snapshot needs no header.
    from ._ffi import constants

    return constants()[name]


def __getattr__(name: str) -> Any:
    if name == "HIST_BUCKETS":  # VRIFT_HIST_BUCKETS; files carry their own count
        return _header_constant("VRIFT_HIST_BUCKETS")
    if name == "UNSEEN_REASONS":  # the unseen_* counters, in order
        from .layout import misc_names

        return tuple(n.removeprefix("unseen_") for n in misc_names() if n.startswith("unseen_"))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _empty_histogram() -> tuple[int, ...]:
    return (0,) * _header_constant("VRIFT_HIST_BUCKETS")


def bucket_upper_ns(i: int, buckets: int | None = None) -> float:
    """Largest latency (ns) bucket i holds: 2^(i+1) - 1; the last bucket is unbounded."""
    if buckets is None:
        buckets = _header_constant("VRIFT_HIST_BUCKETS")
    return float("inf") if i >= buckets - 1 else float(2 ** (i + 1) - 1)


@dataclass(frozen=True)
class OpStats:
    """One operation class (stat, open, readdir, ...)."""

    calls: int = 0
    errors: int = 0
    enoent: int = 0
    eacces: int = 0
    latency_ns: int = 0
    # bucket i counts timed calls that took [2^i, 2^(i+1)) ns (0 ns in bucket 0,
    # the last bucket holds everything longer).
    histogram: tuple[int, ...] = field(default_factory=_empty_histogram)
    # Format 1.3: how many calls were really timed. latency_ns and the
    # histogram are then weighted (a call timed on a 1-in-P sample counts P
    # times): estimates of the total time and of the distribution over all
    # calls. None (older files): both describe the timed calls themselves,
    # whose number is the histogram's total.
    timed: int | None = None

    @property
    def timed_calls(self) -> int:
        """Calls whose latency was really measured."""
        return sum(self.histogram) if self.timed is None else self.timed

    @property
    def estimated(self) -> bool:
        """Whether the time figures are estimates from a sample."""
        return 0 < self.timed_calls < self.calls

    @property
    def mean_ns(self) -> float:
        t = sum(self.histogram)
        return self.latency_ns / t if t else 0.0

    def percentile_ns(self, q: float) -> float | None:
        """Upper bound of the log2 bucket holding the q-quantile timed call
        (q in [0, 1]); the true value lies in that bucket, at most a factor
        of 2 below. None when nothing was timed; inf in the last bucket."""
        total = sum(self.histogram)
        if total == 0:
            return None
        rank = max(1, -(-q * total // 1))  # ceil(q * total), at least the first call
        seen = 0
        for i, n in enumerate(self.histogram):
            seen += n
            if seen >= rank:
                return bucket_upper_ns(i, len(self.histogram))
        return bucket_upper_ns(len(self.histogram) - 1, len(self.histogram))

    @property
    def max_ns(self) -> float | None:
        """Upper bound of the highest non-empty bucket."""
        for i in range(len(self.histogram) - 1, -1, -1):
            if self.histogram[i]:
                return bucket_upper_ns(i, len(self.histogram))
        return None

    @property
    def est_total_ns(self) -> float:
        """Time spent in all calls: exact when every call was timed, else an
        estimate (1.3: the weighted sum itself; older files: the sampled mean
        times the number of calls)."""
        if self.timed is not None:
            return float(self.latency_ns)
        t = self.timed_calls
        if t == self.calls or t == 0:
            return float(self.latency_ns)
        return self.latency_ns * self.calls / t

    def __add__(self, other: OpStats) -> OpStats:
        timed = None if self.timed is None and other.timed is None else (self.timed or 0) + (other.timed or 0)
        return OpStats(
            self.calls + other.calls,
            self.errors + other.errors,
            self.enoent + other.enoent,
            self.eacces + other.eacces,
            self.latency_ns + other.latency_ns,
            tuple(a + b for a, b in zip(self.histogram, other.histogram, strict=True)),
            timed,
        )

    def is_zero(self) -> bool:
        return self.calls == 0 and self.latency_ns == 0 and not any(self.histogram)

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "errors": self.errors,
            "enoent": self.enoent,
            "eacces": self.eacces,
            "latency_ns": self.latency_ns,
            "timed_calls": self.timed_calls,
            "weighted": self.timed is not None,
            "histogram": list(self.histogram),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OpStats:
        return cls(
            int(d["calls"]),
            int(d["errors"]),
            int(d.get("enoent", 0)),
            int(d.get("eacces", 0)),
            int(d["latency_ns"]),
            tuple(int(x) for x in d["histogram"]),
            int(d["timed_calls"]) if d.get("weighted") else None,
        )


def _sum_ops(parts: list[dict[str, OpStats]]) -> dict[str, OpStats]:
    out: dict[str, OpStats] = {}
    for ops in parts:
        for name, s in ops.items():
            out[name] = out[name] + s if name in out else s
    return out


def _sum_counters(parts: list[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for ctr in parts:
        for k, v in ctr.items():
            out[k] = out.get(k, 0) + v
    return out


@dataclass(frozen=True)
class CommandStats:
    """All process images of one command (cc1, make, python3, ...)."""

    command: str
    processes: int
    ops: dict[str, OpStats]
    counters: dict[str, int]

    @property
    def calls(self) -> int:
        return sum(s.calls for s in self.ops.values())

    @property
    def est_total_ns(self) -> float:
        return sum(s.est_total_ns for s in self.ops.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "processes": self.processes,
            "calls": self.calls,
            "syscalls": {k: v.to_dict() for k, v in self.ops.items() if not v.is_zero()},
            "counters": dict(self.counters),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CommandStats:
        return cls(
            d["command"],
            int(d["processes"]),
            {k: OpStats.from_dict(v) for k, v in d["syscalls"].items()},
            {k: int(v) for k, v in d.get("counters", {}).items()},
        )


@dataclass(frozen=True)
class SessionInfo:
    path: str
    format_version: str  # "major.minor" of the file
    start_realtime_ns: int
    taken_realtime_ns: int  # when this snapshot was read
    stop_realtime_ns: int  # 0 while running
    reset_realtime_ns: int  # 0 if never reset
    enabled: bool
    clock: str  # "tsc" or "monotonic"
    slot_count: int
    slots_used: int  # slots taken: one per process image, one more per extra counting thread (1.4)
    slots_overflowed: int  # process images counted in the shared overflow slot
    creator: str
    # Timing: the operations in sampled_ops time each call with probability
    # 1/sample_period (their latency figures are estimates scaled by
    # calls/timed); every other call is timed. Period 1: all exact.
    sample_period: int = 1
    sampled_ops: tuple[str, ...] = ()

    @property
    def timing_note(self) -> str | None:
        """One line for people: which figures are sampled, or None when exact."""
        if self.sample_period <= 1 or not self.sampled_ops:
            return None
        first = _header_constant("VRIFT_SAMPLE_EXACT_FIRST")
        return (
            f"{', '.join(self.sampled_ops)} timed on a random 1-in-{self.sample_period} sample "
            f"after each thread's first {first} calls: their times are estimates"
        )

    @property
    def state(self) -> str:
        return "running" if self.enabled else "stopped"

    @property
    def duration_ns(self) -> int:
        end = self.stop_realtime_ns if not self.enabled and self.stop_realtime_ns else self.taken_realtime_ns
        return max(0, end - self.start_realtime_ns)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "profile_format": self.format_version,
            "start_time_unix_ns": self.start_realtime_ns,
            "snapshot_time_unix_ns": self.taken_realtime_ns,
            "stop_time_unix_ns": self.stop_realtime_ns,
            "reset_time_unix_ns": self.reset_realtime_ns,
            "duration_ns": self.duration_ns,
            "state": self.state,
            "clock": self.clock,
            "slots": {
                "capacity": self.slot_count,
                "used": self.slots_used,
                "overflowed": self.slots_overflowed,
            },
            "creator": self.creator,
            "timing": {"sample_period": self.sample_period, "sampled_ops": list(self.sampled_ops)},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SessionInfo:
        return cls(
            path=d["path"],
            format_version=d["profile_format"],
            start_realtime_ns=int(d["start_time_unix_ns"]),
            taken_realtime_ns=int(d["snapshot_time_unix_ns"]),
            stop_realtime_ns=int(d["stop_time_unix_ns"]),
            reset_realtime_ns=int(d["reset_time_unix_ns"]),
            enabled=d["state"] == "running",
            clock=d["clock"],
            slot_count=int(d["slots"]["capacity"]),
            slots_used=int(d["slots"]["used"]),
            slots_overflowed=int(d["slots"]["overflowed"]),
            creator=d.get("creator", ""),
            sample_period=int(d.get("timing", {}).get("sample_period", 1)),
            sampled_ops=tuple(d.get("timing", {}).get("sampled_ops", ())),
        )


@dataclass(frozen=True)
class HotPath:
    """One path as one command used it (from the session's hot-path table)."""

    path: str
    calls: int
    errors: int
    latency_ns: int  # over timed calls
    ops: tuple[str, ...]  # operations that hit it
    command: str = ""  # "" when aggregated over commands

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "path": self.path,
            "calls": self.calls,
            "errors": self.errors,
            "latency_ns": self.latency_ns,
            "ops": list(self.ops),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HotPath:
        return cls(
            d["path"],
            int(d["calls"]),
            int(d["errors"]),
            int(d["latency_ns"]),
            tuple(d["ops"]),
            d.get("command", ""),
        )


@dataclass(frozen=True)
class HotPathTable:
    """All recorded paths plus what could not be recorded."""

    paths: tuple[HotPath, ...] = ()
    capacity: int = 0  # 0: the session has no hot-path table
    dropped: int = 0  # path calls with no free entry in reach
    unresolved: int = 0  # path calls relative to a directory fd
    # 1.4: 1 in sample_period path calls was recorded, weighted by it: calls,
    # errors and latency are estimates (1: every path call, exact)
    sample_period: int = 1

    def by_path(self) -> list[HotPath]:
        """One entry per path, summed over the commands that used it
        (`command` lists them, most calls first, comma-separated)."""
        acc: dict[str, list] = {}
        for h in self.paths:
            a = acc.setdefault(h.path, [0, 0, 0, {}, {}])
            a[0] += h.calls
            a[1] += h.errors
            a[2] += h.latency_ns
            a[3].update(dict.fromkeys(h.ops))
            a[4][h.command] = a[4].get(h.command, 0) + h.calls
        return [
            HotPath(p, a[0], a[1], a[2], tuple(a[3]), ",".join(sorted(a[4], key=lambda c: -a[4][c])))
            for p, a in acc.items()
        ]

    def top(self, n: int, key: str = "calls") -> list[HotPath]:
        """The n paths (over all commands) with the most calls or latency_ns."""
        return sorted(self.by_path(), key=lambda h: (-getattr(h, key), h.path))[:n]

    def to_dict(self) -> dict[str, Any]:
        return {
            "capacity": self.capacity,
            "dropped": self.dropped,
            "unresolved": self.unresolved,
            "sample_period": self.sample_period,
            "paths": [h.to_dict() for h in self.paths],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HotPathTable:
        return cls(
            tuple(HotPath.from_dict(h) for h in d["paths"]),
            int(d["capacity"]),
            int(d["dropped"]),
            int(d["unresolved"]),
            int(d.get("sample_period", 1)),
        )


@dataclass(frozen=True)
class UnseenProgram:
    """A program a command ran that vrift cannot follow (format 1.4): a static
    binary, a set-user/group-ID one, or one run with an environment that
    drops the shim or counting. Its own file-system calls are not counted."""

    path: str
    command: str  # the command that ran it
    runs: int
    reasons: tuple[str, ...]  # what its unseen_* counters say: "static", "setid", "no_preload"
    # 1.6: wall time of the runs whose end their parent's wait saw (timed_runs of runs)
    wall_ns: int = 0
    timed_runs: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "command": self.command,
            "runs": self.runs,
            "reasons": list(self.reasons),
            "wall_ns": self.wall_ns,
            "timed_runs": self.timed_runs,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UnseenProgram:
        return cls(
            d["path"],
            d["command"],
            int(d["runs"]),
            tuple(d["reasons"]),
            int(d.get("wall_ns", 0)),
            int(d.get("timed_runs", 0)),
        )


def declared_units() -> dict[str, str]:
    """The unit ("events", "ns" or "bytes") this vrift's header declares for
    each field name; a file's field table declares the same for the same
    name (names are append-only)."""
    from .layout import declared_units

    return declared_units()


def counter_unit(name: str) -> str:
    """Deprecated: use Snapshot.unit(name), the unit the file declared.

    The unit this vrift's header declares for the scalar counter `name`
    ("events" for a name it does not know)."""
    warnings.warn(
        "vrift_profile.snapshot.counter_unit is deprecated: use Snapshot.unit(name)",
        DeprecationWarning,
        stacklevel=2,
    )
    return declared_units().get(name, "events")


LOADER_METHOD = (
    "derived, not counted: per shared object the loader mapped, one openat, read, fstat and close, "
    "and one mmap per PT_LOAD segment; failed search probes and the loader's time are not seen"
)
LOADER_AUDIT_METHOD = (
    "per shared object the loader mapped, one openat, read, fstat and close, and one mmap per "
    "PT_LOAD segment (derived); plus every failed search probe, an openat each, counted inside "
    "the loader by its audit module (--loader); time: the loader's search and mapping, at startup "
    "and in each dlopen (relocation and constructors left out)"
)
JSON_FORMAT_VERSION = 1
TIME_SAVED_METHOD = "served calls x mean real latency of the class in this session - serving time"

# Scalar counters by JSON section. Only counters the file has are exported:
# a counter with no event behind it is absent, never a fake zero.
CACHE_COUNTERS = ("manifest_hits", "manifest_misses", "bloom_rejects", "cas_hits", "cas_misses")
IO_COUNTERS = ("bytes_read", "bytes_written")


@dataclass(frozen=True)
class Snapshot:
    session: SessionInfo
    commands: list[CommandStats] = field(default_factory=list)
    # Every operation class the file knows, in its order (zeros included in totals).
    op_names: tuple[str, ...] = ()
    hot: HotPathTable = field(default_factory=HotPathTable)
    # VFS projections the session used: (original bytes, distinct stored bytes)
    projections: tuple[tuple[int, int], ...] = ()
    # Programs run that vrift could not follow (1.4), most runs first
    unseen: tuple[UnseenProgram, ...] = ()
    # Every process image with its life (1.5; empty for older files), by start;
    # decoded from the file at first use (lifetimes.LazyImages)
    images: Sequence[ProcessImage] = ()
    # The unit ("events", "ns", "bytes") of each scalar counter, as the
    # file's field table declared it
    counter_units: dict[str, str] = field(default_factory=dict)

    def unit(self, name: str) -> str:
        """The unit of scalar counter `name`, "events", "ns" or "bytes", as the
        file declared it; for a snapshot made without units (by hand), what
        this vrift's header declares ("events" for a name it does not know)."""
        declared = self.counter_units.get(name)
        return declared if declared is not None else declared_units().get(name, "events")

    @property
    def ops(self) -> dict[str, OpStats]:
        """Totals per operation over every process, one entry per known operation."""
        summed = _sum_ops([c.ops for c in self.commands])
        out = {name: summed.get(name, OpStats()) for name in self.op_names}
        out.update(summed)
        return out

    @property
    def counters(self) -> dict[str, int]:
        """Totals of the scalar counters (bytes_read, ...) over every process."""
        return _sum_counters([c.counters for c in self.commands])

    @property
    def total_calls(self) -> int:
        return sum(s.calls for s in self.ops.values())

    @property
    def processes(self) -> int:
        return sum(c.processes for c in self.commands)

    def command(self, name: str) -> CommandStats | None:
        for c in self.commands:
            if c.command == name:
                return c
        return None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape other tools read (extend, never rename)."""
        ops = self.ops
        ctr = self.counters

        def present(names: tuple[str, ...]) -> dict[str, int]:
            return {k: ctr[k] for k in names if k in ctr}

        return {
            "format_version": JSON_FORMAT_VERSION,
            "session": self.session.to_dict(),
            "syscalls": {k: v.to_dict() for k, v in ops.items()},
            # Only counters the session has: a counter with no event behind it is absent.
            "cache": present(CACHE_COUNTERS),
            "io": present(IO_COUNTERS),
            "vfs": self._vfs_dict(),
            "errors": {
                "enoent": sum(s.enoent for s in ops.values()),
                "eacces": sum(s.eacces for s in ops.values()),
            },
            "processes": [c.to_dict() for c in self.commands],
            "hot_paths": self.hot.to_dict(),
            "loader": self.loader(),
            "not_seen": {
                "by_reason": {
                    k.removeprefix("unseen_"): v for k, v in ctr.items() if k.startswith("unseen_")
                },
                "programs": [u.to_dict() for u in self.unseen],
            },
            **({"process_images": [p.to_dict() for p in self.images]} if self.images else {}),
            "counter_units": dict(self.counter_units),
        }

    def loader(self) -> dict[str, Any]:
        """What the dynamic loader mapped (format 1.4), and the system calls
        derived from it: not counted events, an estimate by a stated rule
        ({} before 1.4)."""
        ctr = self.counters
        if "loader_objects" not in ctr:
            return {}
        objects, segments = ctr["loader_objects"], ctr.get("loader_segments", 0)
        out: dict[str, Any] = {
            "objects": objects,
            "segments": segments,
            "derived_syscalls": {
                "open": objects,
                "read": objects,
                "fstat": objects,
                "mmap": segments,
                "close": objects,
            },
            "method": LOADER_METHOD,
        }
        audited = ctr.get("loader_audited", 0)
        if audited:  # format 1.6, --loader: counted inside the loader
            probes = ctr.get("loader_probes", 0)
            misses = max(0, probes - ctr.get("loader_probe_hits", 0))
            out["derived_syscalls"]["open"] = objects + misses
            out.update(
                audited_images=audited,
                images=sum(c.processes for c in self.commands),
                probes=probes,
                failed_probes=misses,
                time_ns=ctr.get("loader_ns", 0),
                method=LOADER_AUDIT_METHOD,
            )
        return out

    def _vfs_dict(self) -> dict[str, Any]:
        from .vfsstats import contribution

        v = contribution(self)
        if v is None:
            return {}
        return {
            "vfs_handled": v.handled,
            "vfs_passthrough": v.passthrough,
            "served_calls": v.served_calls,
            "serving_ns": v.serving_ns,
            "time_saved_ns": v.time_saved_ns,
            "time_saved_method": TIME_SAVED_METHOD,
            "cow_copies": v.cow_copies,
            "cow_bytes": v.cow_bytes,
            "original_size": v.original_bytes,
            "stored_size": v.stored_bytes,
            "dedup_savings": v.dedup_savings,
            "projections": [{"original_bytes": o, "stored_bytes": u} for o, u in self.projections],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Snapshot:
        return cls(
            SessionInfo.from_dict(d["session"]),
            [CommandStats.from_dict(c) for c in d["processes"]],
            tuple(d["syscalls"]),
            HotPathTable.from_dict(d["hot_paths"]) if "hot_paths" in d else HotPathTable(),
            tuple(
                (int(p["original_bytes"]), int(p["stored_bytes"]))
                for p in d.get("vfs", {}).get("projections", [])
            ),
            tuple(UnseenProgram.from_dict(u) for u in d.get("not_seen", {}).get("programs", [])),
            _images_from(d.get("process_images", ())),
            _counter_units(d),
        )


def _counter_units(d: dict[str, Any]) -> dict[str, str]:
    """A JSON snapshot's counter units; one written before they were exported
    gets what the header declares for its counters' names."""
    if "counter_units" in d:
        return {k: str(v) for k, v in d["counter_units"].items()}
    names = {k for p in d["processes"] for k in p.get("counters", {})}
    declared = declared_units()
    return {k: declared[k] for k in sorted(names) if k in declared}


def _images_from(rows) -> tuple[ProcessImage, ...]:
    if not rows:
        return ()
    from .lifetimes import ProcessImage

    return tuple(ProcessImage.from_dict(r) for r in rows)
