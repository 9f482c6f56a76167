"""The metrics vrift exports: one list of names, units and descriptions.

The OpenTelemetry and Prometheus exporters both build their output from
these entries, so the two cannot drift apart (a metric renamed, a unit
or a help text changed in one and not the other). Each entry carries the
name in both conventions: OTel's dotted name with a UCUM unit
("vrift.syscall.calls", "{call}"), and Prometheus's base name as
prometheus_client takes it (it appends `_total` to counters itself; unit
suffixes such as `_seconds` are part of the base name). Values are stored
in vrift's units (ns, bytes, counts); `scale` turns them into the export
unit (seconds for time).

The exporters import this module; it imports neither of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .snapshot import Snapshot


class Kind(Enum):
    COUNTER = "counter"  # cumulative since the session start (or its last reset)
    GAUGE = "gauge"  # a value that may go down
    HISTOGRAM = "histogram"  # the log2 latency buckets


@dataclass(frozen=True)
class Label:
    """One dimension of a metric, named in each convention."""

    otel: str
    prom: str


COMMAND = Label("process.command", "command")
SYSCALL = Label("vrift.syscall.name", "syscall")
ERROR_TYPE = Label("error.type", "error_type")
DIRECTION = Label("disk.io.direction", "direction")

NS_PER_S = 1e9


@dataclass(frozen=True)
class Metric:
    otel_name: str
    prom_name: str  # without `_total`: prometheus_client adds it to counters
    kind: Kind
    unit: str  # UCUM, as OTel wants it
    description: str
    labels: tuple[Label, ...] = ()
    scale: float = 1.0  # export value = stored value x scale

    def value(self, stored: int | float) -> int | float:
        """A stored value (ns, bytes, count) in the export unit; counts stay integers."""
        return stored if self.scale == 1.0 else stored * self.scale

    @property
    def prom_sample(self) -> str:
        """The name a counter's samples carry in the exposition."""
        return self.prom_name + "_total" if self.kind is Kind.COUNTER else self.prom_name


SYSCALL_CALLS = Metric(
    "vrift.syscall.calls",
    "vrift_syscall_calls",
    Kind.COUNTER,
    "{call}",
    "File-system calls seen by the vrift shim",
    (COMMAND, SYSCALL),
)
SYSCALL_ERRORS = Metric(
    "vrift.syscall.errors",
    "vrift_syscall_errors",
    Kind.COUNTER,
    "{error}",
    "Calls that failed, by error type (ENOENT, EACCES, other)",
    (COMMAND, SYSCALL, ERROR_TYPE),
)
SYSCALL_DURATION = Metric(
    "vrift.syscall.duration",
    "vrift_syscall_duration_seconds",
    Kind.HISTOGRAM,
    "s",
    "Latency of timed calls",
    (COMMAND, SYSCALL),
    scale=1 / NS_PER_S,
)
IO = Metric(
    "vrift.io",
    "vrift_io_bytes",
    Kind.COUNTER,
    "By",
    "Bytes read and written through wrapped calls",
    (COMMAND, DIRECTION),
)
PROCESSES = Metric(
    "vrift.processes",
    "vrift_processes",
    Kind.COUNTER,
    "{process}",
    "Process images that made counted calls",
    (COMMAND,),
)
SESSION_START = Metric(
    "vrift.session.start_time",
    "vrift_session_start_time_seconds",
    Kind.GAUGE,
    "s",
    "When the session (or its last reset) started, Unix time",
    scale=1 / NS_PER_S,
)
SESSION_RUNNING = Metric(
    "vrift.session.running",
    "vrift_session_running",
    Kind.GAUGE,
    "1",
    "1 while the session counts, 0 when stopped",
)
SLOTS_OVERFLOWED = Metric(
    "vrift.session.slots_overflowed",
    "vrift_session_slots_overflowed",
    Kind.COUNTER,
    "{process}",
    "Process images counted in the shared overflow slot",
)
# What the VFS contributed, as `vrift profile show` computes it
# (vfsstats.contribution). Gauges: the time saved is an estimate recomputed
# from running means, so it can go down.
VFS_TIME_SAVED = Metric(
    "vrift.vfs.time_saved",
    "vrift_vfs_time_saved_seconds",
    Kind.GAUGE,
    "s",
    "Estimated time the VFS saved: served calls x mean real call of the class - serving time",
    scale=1 / NS_PER_S,
)
VFS_ORIGINAL_BYTES = Metric(
    "vrift.vfs.original_size",
    "vrift_vfs_original_bytes",
    Kind.GAUGE,
    "By",
    "Bytes of the session's projections as ingested, before dedup",
)
VFS_STORED_BYTES = Metric(
    "vrift.vfs.stored_size",
    "vrift_vfs_stored_bytes",
    Kind.GAUGE,
    "By",
    "Distinct content bytes stored for the session's projections",
)

CATALOGUE: tuple[Metric, ...] = (
    SYSCALL_CALLS,
    SYSCALL_ERRORS,
    SYSCALL_DURATION,
    IO,
    PROCESSES,
    SESSION_START,
    SESSION_RUNNING,
    SLOTS_OVERFLOWED,
    VFS_TIME_SAVED,
    VFS_ORIGINAL_BYTES,
    VFS_STORED_BYTES,
)

# The scalar counters IO already covers; every other one gets a metric of its own.
_IO_COUNTERS = frozenset({"bytes_read", "bytes_written"})
# vrift's unit of a counter -> (UCUM unit, Prometheus suffix, scale)
_UNITS = {
    "bytes": ("By", "_bytes", 1.0),
    "ns": ("s", "_seconds", 1 / NS_PER_S),
    "events": ("{event}", "", 1.0),
}


def counter_metric(name: str, unit: str) -> Metric:
    """The metric for one scalar counter of the format (VFS, cache,
    copy-on-write...), per command, in base units: `cow_bytes` ->
    vrift.counter.cow_bytes / vrift_cow_bytes_total, `vfs_served_ns_stat`
    -> vrift_vfs_served_stat_seconds_total."""
    ucum, suffix, scale = _UNITS[unit]
    base = "vrift_" + name.replace("_ns_", "_").removesuffix("_ns")
    prom = base.removesuffix(suffix) + suffix if suffix else base
    return Metric(
        f"vrift.counter.{name}",
        prom,
        Kind.COUNTER,
        ucum,
        f"vrift counter {name} ({unit})",
        (COMMAND,),
        scale=scale,
    )


def counter_metrics(snapshot: Snapshot) -> list[tuple[str, Metric]]:
    """(counter name, metric) for every scalar counter the snapshot's commands
    carry, bytes read/written excepted (they are IO), sorted by name."""
    names = sorted({k for c in snapshot.commands for k in c.counters} - _IO_COUNTERS)
    # each counter's unit as the file declared it (its field-table row)
    return [(name, counter_metric(name, snapshot.unit(name))) for name in names]
