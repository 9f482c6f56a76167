"""Make the golden session files: one per profile format minor, 1.0 to 1.4.

Each file is written by the code of its own version, taken from git
history, never by today's code:

  1. `git archive COMMIT packages/vrift-shim packages/vrift-profile-core`
     into a temporary directory (COMMIT: the last one at which that minor
     was current, VERSIONS below);
  2. that version's shim is built with its own build_shim.py;
  3. in a Python process that imports only that version's vrift_shim and
     vrift_profile (PYTHONPATH; its own cffi cache), the session is
     created with that version's writer (8 slots; from 1.1 a 64-entry
     hot-path table, hot paths recorded), then
       - `golden_stat` runs twice under that version's shim (LD_PRELOAD):
         5 x stat("/etc/passwd"), 3 x lstat of a missing path (ENOENT);
       - `golden_read` runs once: open, read 16 bytes, close /etc/passwd;
       - from 1.4, `golden_exec` runs once: it posix_spawns the statically
         linked `golden_static` (relative path, from the bin directory),
         which 1.4 names as a program run unseen;
       - that version's SyntheticWriter adds a process `synthetic` with
         known counts (open: 7 calls, 2 errors, 1 ENOENT, 1 EACCES,
         7000 ns, histogram {9: 5, 10: 2}; bytes_written 4096; from 1.2 the
         VFS counters and one projection of 1000 original / 600 stored
         bytes; in 1.4 a thread row of the same image with 4 stat calls);
       - counting is stopped (set_enabled False) and that version's reader
         reads the file: its Snapshot.to_dict() is kept as
         vX_Y.expected.json, so the times the shim measured are known too;
  4. the session file is gzipped (mtime 0): it is mostly zeros (unused
     slots, the hot-path arena of 1 MiB), ~2 MiB raw, a few KiB packed.

tests/profile_core/test_golden.py reads every file with today's reader
and asserts the known counts by hand and every other figure against the
expected JSON of the version that wrote it.

Run from the repository root (needs git history, cc, cffi):

    .venv/bin/python tests/profile_core/golden/make_golden.py [1.0 1.1 ...]
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]

# minor -> the last commit at which it was the format the shim wrote
VERSIONS = {
    "1.0": "84f211dcadee8ec355612aa3a07ed9baa506cf21",
    "1.1": "cb489a4e1d8d6d225f237e065052f0d125b56b2d",
    "1.2": "24c6b3fec77d1a5609ed8a44cb151087b96b4ef1",
    "1.3": "f9dc8edfd0a92fcdc753915ee8fcec9ca4b0ecf8",
    "1.4": "e037d73edf4f0fa309838dd34a543602d6c3206c",
}

PROGRAMS = {
    "golden_stat": r"""
#include <sys/stat.h>
int main(void)
{
    struct stat st;
    for (int i = 0; i < 5; i++)
        stat("/etc/passwd", &st);
    for (int i = 0; i < 3; i++)
        lstat("/nonexistent-vrift-golden", &st);
    return 0;
}
""",
    "golden_read": r"""
#include <fcntl.h>
#include <unistd.h>
int main(void)
{
    char buf[16];
    int fd = open("/etc/passwd", O_RDONLY);
    if (fd < 0 || read(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
        return 1;
    return close(fd) != 0;
}
""",
    # 1.4 names programs it cannot follow: a static binary, spawned
    "golden_exec": r"""
#include <spawn.h>
#include <sys/wait.h>
extern char **environ;
int main(void)
{
    pid_t pid;
    int status;
    char *argv[] = {"golden_static", 0};
    if (posix_spawn(&pid, "golden_static", 0, 0, argv, environ) != 0)
        return 1;
    return waitpid(pid, &status, 0) != pid || status != 0;
}
""",
    "golden_static": "int main(void) { return 0; }\n",
}
STATIC = {"golden_static"}

# Runs inside the old version's packages: argv[1] = JSON parameters.
STAGE = r"""
import json, os, subprocess, sys
p = json.loads(sys.argv[1])
import vrift_shim
from vrift_profile import create_session, read_profile, set_enabled
from vrift_profile import _ffi
from vrift_profile.writer import SyntheticWriter

minor = p["minor"]
kw = {"slot_count": 8}
if minor >= 1:
    kw["hot_entries"] = 64
if minor >= 2:
    kw["hot_paths"] = True
path = create_session(p["session"], **kw)
env = dict(os.environ, LD_PRELOAD=str(vrift_shim.library_path()), VRIFT_PROFILE="1",
           VRIFT_PROFILE_PATH=str(path))
for prog in ("golden_stat", "golden_stat", "golden_read"):
    subprocess.run([os.path.join(p["bin"], prog)], env=env, check=True)
if minor >= 4:
    subprocess.run([os.path.join(p["bin"], "golden_exec")], env=env, check=True, cwd=p["bin"])

with SyntheticWriter(path) as w:
    idx = w.process("synthetic", pid=4242, ppid=1)
    w.add(idx, "open", calls=7, errors=2, enoent=1, eacces=1, latency_ns=7000, histogram={9: 5, 10: 2})
    w.add_counter(idx, "bytes_written", 4096)
    if minor >= 2:
        for name, value in (("vfs_handled", 11), ("vfs_passthrough", 3), ("manifest_hits", 9),
                            ("vfs_served_calls_stat", 4), ("vfs_served_ns_stat", 400),
                            ("vfs_shadow_calls_stat", 2), ("vfs_shadow_ns_stat", 3000),
                            ("cow_copies", 1), ("cow_bytes", 123)):
            w.add_counter(idx, name, value)
        proj = w._h.vfs_projections[0]
        proj.id, proj.original_bytes, proj.unique_bytes = 1, 1000, 600
    if minor >= 4:
        row = w.process("synthetic", pid=4242, ppid=1, thread_of=idx)
        w.add(row, "stat", calls=4, latency_ns=400, histogram={6: 4})
set_enabled(path, False)
with open(p["expected"], "w") as f:  # not stdout: old cffi versions announce "generating ..." there
    json.dump(read_profile(path).to_dict(), f)
"""


def build(version: str, commit: str, work: Path) -> None:
    src = work / "src"
    src.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "packages/vrift-shim", "packages/vrift-profile-core"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    subprocess.run([sys.executable, str(src / "packages/vrift-shim/build_shim.py")], check=True)
    bindir = work / "bin"
    bindir.mkdir()
    for name, code in PROGRAMS.items():
        c = work / f"{name}.c"
        c.write_text(code)
        static = ["-static"] if name in STATIC else []
        subprocess.run(["cc", "-O2", *static, "-o", str(bindir / name), str(c)], check=True)


def make(version: str) -> None:
    commit = VERSIONS[version]
    with tempfile.TemporaryDirectory(prefix=f"vrift-golden-{version}-") as t:
        work = Path(t)
        build(version, commit, work)
        src = work / "src" / "packages"
        session = work / "golden.vrift"
        env = {k: v for k, v in os.environ.items() if not k.startswith("VRIFT_") and k != "LD_PRELOAD"}
        env["PYTHONPATH"] = f"{src / 'vrift-shim/src'}:{src / 'vrift-profile-core/src'}"
        env["XDG_CACHE_HOME"] = str(work / "cache")  # that version's cffi module, nobody else's
        params = {
            "minor": int(version.split(".")[1]),
            "session": str(session),
            "bin": str(work / "bin"),
            "expected": str(work / "expected.json"),
        }
        subprocess.run([sys.executable, "-c", STAGE, json.dumps(params)], env=env, cwd=work, check=True)
        expected = json.loads((work / "expected.json").read_text())
        # per reading, not per file: where the file was, when it was read
        del expected["session"]["path"], expected["session"]["snapshot_time_unix_ns"]
        expected["generated_by"] = {"commit": commit, "script": "tests/profile_core/golden/make_golden.py"}
        stem = "v" + version.replace(".", "_")
        (HERE / f"{stem}.expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
        with open(session, "rb") as f, gzip.GzipFile(HERE / f"{stem}.vrift.gz", "wb", 9, mtime=0) as g:
            shutil.copyfileobj(f, g)
        print(f"{version}: {stem}.vrift.gz from {commit[:10]}")


if __name__ == "__main__":
    for v in sys.argv[1:] or VERSIONS:
        make(v)
