"""Record the format 1.5 golden session (run once; commit what it writes).

    .venv/bin/python tests/profile_core/golden/make_golden_1_5.py

A session of 8 slots and no hot-path table (small: ~1.1 MB, mostly
zeros, gzipped), in which the real shim ran

    sh -c 'ls / >/dev/null; sh -c "kill -9 \\$\\$"; exit 3'

started by this script as `vrift profile run` starts its command (and
recording its exit status the same way). It writes session-1.5.vrift.gz
and session-1.5.images.json, the images as this version read them; the
test then requires every later reader to read the file exactly so.
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
SCRIPT = 'ls / >/dev/null; sh -c "kill -9 \\$\\$"; exit 3'


def main() -> None:
    with tempfile.TemporaryDirectory() as t:
        path = create_session(Path(t) / "golden.vrift", slot_count=8, hot_entries=0)
        proc = subprocess.Popen(["sh", "-c", SCRIPT], env=shim_environment(path), cwd="/")
        rc = proc.wait()
        set_enabled(path, False)
        record_launched_status(path, proc.pid, rc)
        (HERE / "session-1.5.vrift.gz").write_bytes(gzip.compress(path.read_bytes(), 9, mtime=0))
        images = [im.to_dict() for im in read_profile(path).images]
    (HERE / "session-1.5.images.json").write_text(json.dumps(images, indent=1) + "\n")
    print(f"{len(images)} images, exit status {rc}")


if __name__ == "__main__":
    main()
