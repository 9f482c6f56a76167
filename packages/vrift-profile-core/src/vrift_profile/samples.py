"""Session totals sampled over time: the sidecar file `SESSION.samples`.

`vrift profile run` reads the session at a fixed interval while its
command runs and appends one line per reading, so that exporters can
draw rates (calls per second, file-system time per second) over the
build. JSON lines, first a header, then one object per sample:

    {"vrift_samples": 1, "interval_s": 0.5}
    {"t": <CLOCK_REALTIME ns>, "calls": <total calls>, "fs_ns": <time in calls, ns>,
     "processes": <process images so far>}

Totals are cumulative (a rate is the difference of two samples over
their time apart). A torn last line (a run killed mid-write) is ignored.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import ProfileError
from .snapshot import Snapshot

SAMPLES_VERSION = 1
DEFAULT_INTERVAL_S = 0.5


def samples_path(session: str | os.PathLike[str]) -> Path:
    return Path(f"{os.fspath(session)}.samples")


@dataclass(frozen=True)
class Sample:
    t_ns: int
    calls: int
    fs_ns: int
    processes: int


class SampleLog:
    """Appends samples to a session's sidecar (line-buffered: each sample is
    on disk as soon as it is taken, a crash loses nothing before it)."""

    def __init__(self, session: str | os.PathLike[str], interval_s: float) -> None:
        self.path = samples_path(session)
        self._f = open(self.path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (closed in close())
        self._f.write(json.dumps({"vrift_samples": SAMPLES_VERSION, "interval_s": interval_s}) + "\n")

    def add(self, snap: Snapshot, t_ns: int | None = None) -> None:
        est = sum(op.est_total_ns for op in snap.ops.values())
        row = {
            "t": time.time_ns() if t_ns is None else t_ns,
            "calls": snap.total_calls,
            "fs_ns": int(est),
            "processes": snap.processes,
        }
        self._f.write(json.dumps(row) + "\n")

    def close(self) -> None:
        self._f.close()


def read_samples(session: str | os.PathLike[str]) -> list[Sample]:
    """The samples recorded next to `session`, oldest first ([] if none)."""
    path = samples_path(session)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out: list[Sample] = []
    for line in lines:
        try:
            d = json.loads(line)
            out.append(Sample(int(d["t"]), int(d["calls"]), int(d["fs_ns"]), int(d.get("processes", 0))))
        except (ValueError, KeyError, TypeError):
            continue  # the header, or a torn line
    out.sort(key=lambda s: s.t_ns)
    return out


class Sampler:
    """Reads the session every `interval_s` in a thread of its own and logs
    the totals. Reading a large session costs a few ms; the pause grows so
    that reading stays under 5% of a core (the interval each sample
    records is then longer, and the rates stay right)."""

    def __init__(self, session: str | os.PathLike[str], interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self.session = Path(session)
        self.interval_s = interval_s
        self.log = SampleLog(session, interval_s)
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._cost = 0.0

    def start(self) -> None:
        self.sample()  # the first point, at the start
        self._thread = threading.Thread(target=self._loop, name="vrift-sampler", daemon=True)
        self._thread.start()

    def sample(self) -> None:
        from .reader import read_profile

        t = time.monotonic()
        try:
            snap = read_profile(self.session)
        except ProfileError:
            return  # a torn read of a live file: the next one will do
        self._cost = time.monotonic() - t
        self.log.add(snap)

    def _loop(self) -> None:
        while not self._done.wait(max(self.interval_s, 20 * self._cost)):
            self.sample()

    def stop(self) -> None:
        """Stop, with a last sample of the final totals."""
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()
        self.log.close()
