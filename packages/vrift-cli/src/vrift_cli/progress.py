"""The live status line of `vrift profile run` on a terminal.

One line on stderr, redrawn in place (carriage return, then erase to the
end of the line) about twice a second: elapsed time, processes, calls,
VFS handled share and time saved, read from the session file exactly as
`show` reads it. When history holds an earlier successful run of the same
command line in the same directory, a bar and an ETA: this run's calls
(or processes, if that run counted no calls) against that run's, naming
the run. The line is cleared before the summary.

It runs in its own thread, reading the shared profile (a few ms per read,
and never more often than 1 in 20 of the time, see `_pause`); the child
is started, waited for and reported exactly as without it. Nothing is
drawn while vrift is in the background (writing to the terminal could
stop it with SIGTTOU) and nothing at all when stderr is not a terminal.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from vrift_profile import ProfileError, Snapshot, read_profile

from . import units
from .run_record import RunRecord

INTERVAL_S = 0.5
_BAR_WIDTH = 16


def line_width(stream: TextIO) -> int:
    """$COLUMNS, else the width of the terminal the line goes to (stderr's,
    not stdout's: stdout may be piped while stderr is the terminal)."""
    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit() and int(cols) > 0:
        return int(cols)
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (OSError, ValueError, AttributeError):
        return 80


def _short_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    minutes, s = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{s:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


class Estimate:
    """How far along this run is, measured against an earlier run."""

    def __init__(self, reference: RunRecord) -> None:
        self.reference = reference
        self.by = "calls" if reference.calls > 0 else "processes"
        self.total = reference.calls if self.by == "calls" else reference.processes

    def fraction(self, snap: Snapshot) -> float:
        done = snap.total_calls if self.by == "calls" else snap.processes
        return done / self.total

    def eta_s(self, fraction: float, elapsed_s: float) -> float | None:
        """Seconds left at this run's own pace; None before there is a pace."""
        if fraction >= 1.0:
            return 0.0
        if fraction <= 0.0:
            remaining = self.reference.duration_ns / 1e9 - elapsed_s
            return remaining if remaining > 0 else None
        return elapsed_s * (1.0 - fraction) / fraction

    def source_text(self, short: bool) -> str:
        r = self.reference
        if short:
            return f"from run #{r.run_id}"
        when = time.strftime("%m-%d %H:%M", time.localtime(r.started_ns / 1e9))
        return f"from run #{r.run_id} of {when}: {units.count(self.total)} {self.by}"


def status_parts(snap: Snapshot, elapsed_s: float) -> list[str]:
    """The figures, most important first (the last ones go first when the
    terminal is narrow)."""
    from vrift_profile.vfsstats import contribution

    parts = [
        f"vrift {_short_duration(elapsed_s)}",
        f"{units.count(snap.total_calls)} calls",
        f"{units.count(snap.processes)} procs",
    ]
    v = contribution(snap)
    if v is None:
        parts.append("no VFS")
    else:
        total = v.handled + v.passthrough
        parts.append(f"VFS {units.percent(v.handled, total)} handled")
        if v.time_saved_ns is not None:
            parts.append(f"saved ~{units.duration_ns(v.time_saved_ns)}")
    return parts


def compose(
    snap: Snapshot, elapsed_s: float, estimate: Estimate | None, width: int, utf8: bool = True
) -> str:
    """The status line, at most width-1 columns (the last column would
    make some terminals wrap)."""
    room = max(10, width - 1)
    parts = status_parts(snap, elapsed_s)
    bar_variants: list[str] = [""]
    if estimate is not None:
        f = estimate.fraction(snap)
        eta = estimate.eta_s(f, elapsed_s)
        pct = min(f, 1.0)
        full, empty = ("█", "░") if utf8 else ("#", "-")
        eta_text = (
            "ETA any moment" if f >= 1.0 else f"ETA {_short_duration(eta)}" if eta is not None else "ETA ?"
        )
        bar_variants = []
        for bar_width, short in ((_BAR_WIDTH, False), (_BAR_WIDTH, True), (8, True), (0, True)):
            filled = round(pct * bar_width)
            bar = (full * filled + empty * (bar_width - filled) + " ") if bar_width else ""
            bar_variants.append(f"{bar}{100 * pct:.0f}% {eta_text} ({estimate.source_text(short)})")
    sep = " | "
    # Narrow first by shortening the bar part, then by dropping figures from the end.
    for keep in range(len(parts), 0, -1):
        for bar in bar_variants:
            text = sep.join(parts[:keep] + ([bar] if bar else []))
            if len(text) <= room:
                return text
    text = sep.join(parts[:1] + ([bar_variants[-1]] if bar_variants[-1] else []))
    return text[: room - 1] + "…" if len(text) > room else text


def _foreground(stream: TextIO) -> bool:
    """Whether writing to the terminal is safe: it is not our controlling
    terminal (no SIGTTOU then), or our process group is in the foreground."""
    try:
        return os.tcgetpgrp(stream.fileno()) == os.getpgrp()
    except OSError:
        return True


class ProgressLine:
    """Samples the session in a thread and redraws the line until stop()."""

    def __init__(self, session: Path, estimate: Estimate | None, stream: TextIO | None = None) -> None:
        self.session = session
        self.estimate = estimate
        self.stream = stream or sys.stderr
        self.utf8 = (getattr(self.stream, "encoding", "") or "").lower().replace("-", "") == "utf8"
        self._done = threading.Event()
        self._drawn = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._t0 = time.monotonic()
        self._read_cost = 0.0
        self.failure: str | None = None

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="vrift-progress", daemon=True)
        self._thread.start()

    def _pause(self) -> float:
        return max(INTERVAL_S, 20 * self._read_cost)  # reading stays under 5% of a core

    def _loop(self) -> None:
        while not self._done.wait(self._pause()):
            try:
                self.tick()
            except ProfileError:
                continue  # a torn read of a live file: the next one will do
            except Exception as e:  # never let a drawing bug reach the build
                self.failure = f"{type(e).__name__}: {e}"
                return

    def tick(self) -> None:
        t = time.monotonic()
        snap = read_profile(self.session)
        self._read_cost = time.monotonic() - t
        text = compose(snap, t - self._t0, self.estimate, line_width(self.stream), self.utf8)
        with self._lock:
            if self._done.is_set() or not _foreground(self.stream):
                return
            self.stream.write("\r" + text + "\x1b[K")
            self.stream.flush()
            self._drawn = True

    def stop(self) -> None:
        """Stop sampling and clear the line (before the summary is printed)."""
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            if self._drawn:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self._drawn = False
        if self.failure:
            print(f"vrift: progress line stopped: {self.failure}", file=self.stream)


def progress_for(session: Path, argv: list[str], cwd: str | None) -> ProgressLine:
    """A progress line for this run, with an estimate when history has an
    earlier successful run of the same command in the same directory. A
    history that cannot be read gives no estimate here; the record at the
    end of the run reports what is wrong with it, once."""
    from .history import HistoryError, history_path, previous_run

    estimate = None
    path = history_path()
    if path is not None and cwd is not None:
        try:
            ref = previous_run(path, argv, cwd)
        except HistoryError:
            ref = None
        if ref is not None:
            estimate = Estimate(ref)
    return ProgressLine(session, estimate)
