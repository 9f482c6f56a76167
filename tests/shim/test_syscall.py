"""Calls made through glibc's syscall() (libuv, the C++ runtime): counted
as their operation, exactly as strace counts them, with return values
and errno untouched; other numbers pass straight through."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import profiled_env
from vrift_profile import read_profile


def test_raw_syscalls_counted_and_untouched(cbin: Path, shim_lib: Path, tmp_path: Path):
    f = tmp_path / "file"
    f.write_text("0123456789abcdef")
    d = tmp_path / "dir"
    d.mkdir()
    for i in range(5):
        (d / f"e{i}").touch()
    args = [cbin / "raw_syscalls", f, d, "50"]
    plain = subprocess.run(args, capture_output=True, text=True, check=True, timeout=30)
    session = tmp_path / "p.vrift"
    shimmed = subprocess.run(
        args, capture_output=True, text=True, env=profiled_env(shim_lib, session), check=True, timeout=30
    )
    # same results, same errno (ENOENT for the missing file, ENOSYS for an unknown number)
    assert shimmed.stdout == plain.stdout
    assert "missing: -1 errno=2" in plain.stdout and "unknown: -1 errno=38" in plain.stdout
    ops = read_profile(session).command("raw_syscalls").ops
    assert ops["statx"].calls == 51 and ops["statx"].errors == 1 and ops["statx"].enoent == 1
    assert ops["stat"].calls == 50  # newfstatat with flags 0 follows links: a stat
    assert ops["open"].calls == 100 and ops["read"].calls == 50
    assert ops["close"].calls == 100
    assert ops["readdir"].calls == 100  # getdents64: one batch, then the end
    assert read_profile(session).counters["bytes_read"] >= 50 * 10


def _strace_counts(tmp_path: Path, args: list[str], path: Path) -> dict[str, int]:
    """strace -c of the calls that name `path` or use an fd open on it (-P)."""
    out = tmp_path / "strace.txt"
    subprocess.run(
        ["strace", "-f", "-c", "-P", str(path), "-o", str(out), *args],
        check=True,
        timeout=120,
        capture_output=True,
    )
    counts = {}
    for line in out.read_text().splitlines():
        m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$", line)
        if m:
            counts[m.group(2)] = int(m.group(1))
    return counts


NODE_SCRIPT = """
const fs = require('fs');
const n = Number(process.argv[2]);
for (let i = 0; i < n * 10; i++) fs.statSync(process.argv[3]);
for (let i = 0; i < n; i++) { const fd = fs.openSync(process.argv[3], 'r'); fs.closeSync(fd); }
"""


@pytest.mark.skipif(not shutil.which("node") or not shutil.which("strace"), reason="needs node and strace")
def test_node_fs_calls_counted_as_strace_counts_them(shim_lib: Path, tmp_path: Path):
    """1,000 fs.statSync and 100 fs.openSync/closeSync, as vrift and as strace
    count them. vrift's side is the difference between n=100 and n=0 runs
    (node's own startup is the same in both); strace's side is the calls
    on the target file (-P): glibc's internal opens (malloc reads
    /proc/sys/vm/overcommit_memory when V8's heap grows) are neither."""
    script = tmp_path / "fs.js"
    script.write_text(NODE_SCRIPT)
    target = tmp_path / "target"
    target.write_text("x")

    def vrift_counts(n: int) -> dict[str, int]:
        session = tmp_path / f"n{n}.vrift"
        subprocess.run(
            ["node", str(script), str(n), str(target)],
            env=profiled_env(shim_lib, session),
            check=True,
            timeout=120,
        )
        ops = read_profile(session).ops
        return {"statx": ops["statx"].calls, "open": ops["open"].calls, "close": ops["close"].calls}

    v100, v0 = vrift_counts(100), vrift_counts(0)
    vd = {k: v100[k] - v0[k] for k in v100}
    s = _strace_counts(tmp_path, ["node", str(script), "100", str(target)], target)
    sd = {"statx": s.get("statx", 0), "open": s.get("openat", 0), "close": s.get("close", 0)}
    assert vd == sd == {"statx": 1000, "open": 100, "close": 100}
