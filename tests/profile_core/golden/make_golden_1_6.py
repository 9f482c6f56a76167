"""Record the format 1.6 golden session (run once; commit what it writes).

    .venv/bin/python tests/profile_core/golden/make_golden_1_6.py

A session of 8 slots and a 64-entry hot-path table, in which the real shim,
with the loader audited (`--loader`), ran

    sh -c 'STATIC 7; ls / >/dev/null; exit 3'

where STATIC is a statically linked program made here that exits with its
argument: a ghost image (1.6) with its status from sh's wait, and the
loader's probes and time (1.6). It writes session-1.6.vrift.gz and
session-1.6.expected.json (the images, the unseen programs and the loader
figures as this version read them); the test requires every later reader
to read the file exactly so.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import tempfile
from pathlib import Path

from vrift_profile import create_session, read_profile, set_enabled
from vrift_profile.launch import shim_environment
from vrift_profile.writer import record_launched_status

HERE = Path(__file__).resolve().parent


def main() -> None:
    with tempfile.TemporaryDirectory() as t:
        src = Path(t) / "exit_with.c"
        src.write_text("#include <stdlib.h>\nint main(int c, char **v) { return c > 1 ? atoi(v[1]) : 0; }\n")
        static = Path(t) / "exit_with"
        subprocess.run(["cc", "-static", "-O2", "-o", str(static), str(src)], check=True)
        path = create_session(Path(t) / "golden.vrift", slot_count=8, hot_entries=64)
        script = f"{static} 7; ls / >/dev/null; exit 3"
        proc = subprocess.Popen(["sh", "-c", script], env=shim_environment(path, loader=True), cwd="/")
        rc = proc.wait()
        set_enabled(path, False)
        record_launched_status(path, proc.pid, rc)
        (HERE / "session-1.6.vrift.gz").write_bytes(gzip.compress(path.read_bytes(), 9, mtime=0))
        snap = read_profile(path)
        expected = {
            "images": [im.to_dict() for im in snap.images],
            "not_seen": [u.to_dict() for u in snap.unseen],
            "loader": snap.loader(),
        }
    (HERE / "session-1.6.expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"{len(expected['images'])} images, exit status {rc}")


if __name__ == "__main__":
    main()
