"""One finished session as history keeps it: the figures `show` prints, flattened.

Every figure comes from the Snapshot and from vrift_profile.vfsstats'
`contribution()`, the same code `show` and the `profile run` summary use
(total calls, processes, est_total_ns per operation, errors, VFS handled
and passthrough, time saved, dedup), so history never disagrees with
what the user saw at the end of the build.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from vrift_profile import Snapshot


@dataclass(frozen=True)
class OpTotals:
    """One operation class of a run: what `show`'s syscall table lists."""

    calls: int
    errors: int
    latency_ns: int  # est_total_ns, as show's "time" column


@dataclass(frozen=True)
class RunRecord:
    started_ns: int  # wall clock, unix ns
    ended_ns: int
    # The command line of `vrift profile run`; None for a session stopped
    # with `vrift profile stop` (the profile does not store one).
    argv: tuple[str, ...] | None
    cwd: str | None
    command_name: str | None  # argv[0]'s base name; None without a command line
    exit_status: int | None  # profile run: the shell's status (128+N for signal N)
    source: str  # "run" or "stop"
    session_path: str
    processes: int
    calls: int
    errors: int
    enoent: int
    eacces: int
    latency_ns: int
    vfs_handled: int | None  # None: no VFS projection in the session
    vfs_passthrough: int | None
    time_saved_ns: int | None  # None: no estimate (see vfsstats)
    projections: tuple[tuple[int, int], ...]  # (original bytes, stored bytes) per projection
    bytes_read: int
    bytes_written: int
    vrift_version: str
    ops: dict[str, OpTotals] = field(default_factory=dict)
    commands: dict[str, int] = field(default_factory=dict)  # processes per command (cc1, make, ...)
    run_id: int | None = None  # its id in the history database, once recorded

    @property
    def duration_ns(self) -> int:
        return max(0, self.ended_ns - self.started_ns)

    @property
    def original_bytes(self) -> int:
        return sum(o for o, _ in self.projections)

    @property
    def dedup_saved_bytes(self) -> int:
        return sum(o - s for o, s in self.projections)

    @property
    def handled_share(self) -> float | None:
        """VFS handled / (handled + passthrough), 0..1; None without a VFS."""
        if self.vfs_handled is None or self.vfs_passthrough is None:
            return None
        total = self.vfs_handled + self.vfs_passthrough
        return self.vfs_handled / total if total else 0.0

    @property
    def command_text(self) -> str:
        if self.argv is not None:
            import shlex

            return shlex.join(self.argv)
        top = sorted(self.commands, key=lambda c: (-self.commands[c], c))[:3]
        return f"(session: {', '.join(top) or 'no processes'})"


def vrift_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vrift-cli")
    except PackageNotFoundError:
        return "unknown"


def record_of(
    snap: Snapshot,
    *,
    source: str,
    argv: list[str] | None = None,
    cwd: str | None = None,
    exit_status: int | None = None,
) -> RunRecord:
    from vrift_profile.vfsstats import contribution

    s = snap.session
    ops = snap.ops
    ctr = snap.counters
    v = contribution(snap)
    return RunRecord(
        started_ns=s.start_realtime_ns,
        ended_ns=s.start_realtime_ns + s.duration_ns,
        argv=tuple(argv) if argv is not None else None,
        cwd=cwd,
        command_name=os.path.basename(argv[0]) if argv else None,
        exit_status=exit_status,
        source=source,
        session_path=s.path,
        processes=snap.processes,
        calls=snap.total_calls,
        errors=sum(o.errors for o in ops.values()),
        enoent=sum(o.enoent for o in ops.values()),
        eacces=sum(o.eacces for o in ops.values()),
        latency_ns=int(sum(o.est_total_ns for o in ops.values())),
        vfs_handled=v.handled if v else None,
        vfs_passthrough=v.passthrough if v else None,
        time_saved_ns=v.time_saved_ns if v else None,
        projections=tuple(snap.projections),
        bytes_read=ctr.get("bytes_read", 0),
        bytes_written=ctr.get("bytes_written", 0),
        vrift_version=vrift_version(),
        ops={name: OpTotals(o.calls, o.errors, int(o.est_total_ns)) for name, o in ops.items() if o.calls},
        commands={c.command: c.processes for c in snap.commands if c.processes},
    )
