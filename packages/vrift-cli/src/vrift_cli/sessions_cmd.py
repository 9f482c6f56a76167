"""`vrift profile ls | clean`: the session files in the run directory.

Every `vrift profile start`/`run` leaves a file (~2.4 MB on disk, more with many processes) in the
per-user run directory. `ls` shows them; `clean` deletes stopped ones
(never a running session, never a file that is not a vrift session).
"""

from __future__ import annotations

import argparse
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from vrift_profile import ProfileError, read_profile
from vrift_profile.paths import current_session, run_dir

from . import units

DEFAULT_AGE = "7d"
_AGE = re.compile(r"^(\d+)([smhdw])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def age_seconds(text: str) -> int:
    m = _AGE.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"not an age: {text!r} (e.g. 30m, 12h, 7d)")
    return int(m.group(1)) * _SECONDS[m.group(2)]


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    verbs.add_parser("ls", help="list the session files in the run directory").set_defaults(func=ls)
    v = verbs.add_parser("clean", help="delete stopped sessions from the run directory (never a running one)")
    v.set_defaults(func=clean)
    v.add_argument(
        "--older-than",
        type=age_seconds,
        default=age_seconds(DEFAULT_AGE),
        metavar="AGE",
        help=f"only sessions started longer ago than AGE (e.g. 12h; default {DEFAULT_AGE})",
    )
    v.add_argument("--all", action="store_true", help="every stopped session, whatever its age")
    v.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")


@dataclass(frozen=True)
class SessionFile:
    path: Path
    size: int  # bytes on disk
    running: bool | None  # None: not a readable vrift session
    start_ns: int
    processes: int
    current: bool


def sessions() -> list[SessionFile]:
    d = run_dir()
    cur = current_session()
    out = []
    for p in sorted(d.glob("*.vrift")) if d.is_dir() else []:
        try:
            st = p.stat()
        except OSError:
            continue
        try:
            snap = read_profile(p)
            running, start, procs = snap.session.enabled, snap.session.start_realtime_ns, snap.processes
        except ProfileError:
            running, start, procs = None, st.st_mtime_ns, 0
        out.append(SessionFile(p, st.st_blocks * 512, running, start, procs, p == cur))
    return out


def ls(args: argparse.Namespace) -> int:
    found = sessions()
    print(f"sessions in {run_dir()}:" if found else f"no sessions in {run_dir()}")
    for s in found:
        state = {True: "running", False: "stopped", None: "unreadable"}[s.running]
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.start_ns / 1e9))
        mark = " (current)" if s.current else ""
        print(
            f"  {s.path.name}  {state:<10} {when}  {units.count(s.processes):>7} processes  "
            f"{units.size(s.size):>9}{mark}"
        )
    if found:
        total = sum(s.size for s in found)
        print(
            f"  {len(found)} files, {units.size(total)} on disk; `vrift profile clean` deletes stopped ones"
        )
    return 0


def clean(args: argparse.Namespace) -> int:
    now = time.time_ns()
    freed = deleted = 0
    for s in sessions():
        if s.running is not False:  # running, or not a session we can vouch for
            continue
        if not args.all and now - s.start_ns < args.older_than * 1_000_000_000:
            continue
        if not args.dry_run:
            try:
                os.unlink(s.path)
                from vrift_profile.samples import samples_path

                samples_path(s.path).unlink(missing_ok=True)  # its sampled totals, if any
            except OSError as e:
                print(f"vrift: cannot delete {s.path}: {e.strerror}")
                continue
        deleted += 1
        freed += s.size
    verb = "would delete" if args.dry_run else "deleted"
    print(f"vrift: {verb} {deleted} stopped session{'s' if deleted != 1 else ''} ({units.size(freed)})")
    return 0
