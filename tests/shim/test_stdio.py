"""The reads and writes of glibc's FILE streams (fwrite, fputs, fprintf,
putc, fread, fgets, getc) are counted where the stream fills or flushes
its buffer: the same calls and bytes strace sees, buffering untouched."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from helpers import have, profiled_env
from vrift_profile import read_profile


def test_stdio_bytes_and_calls_exact(cbin: Path, shim_lib: Path, tmp_path: Path):
    out = tmp_path / "out.txt"
    args = [str(cbin / "stdio_io"), str(out), "1000000", "10000"]
    plain = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60)
    plain_bytes = out.read_bytes()
    session = tmp_path / "p.vrift"
    r = subprocess.run(
        args, capture_output=True, text=True, check=True, timeout=60, env=profiled_env(shim_lib, session)
    )
    assert r.stdout == plain.stdout and out.read_bytes() == plain_bytes  # nothing changed for the program
    size = out.stat().st_size
    assert size == 1_000_000 + 10_000 * 34 + len("printf 42\n") + 1000
    snap = read_profile(session)
    ctr = snap.counters
    # the file once, then the report line on stdout (a pipe here)
    assert ctr["bytes_written"] == size + len(r.stdout)
    # fread, fgets and getc each read the whole file back
    assert ctr["bytes_read"] == 3 * size
    if have("strace"):
        trace = tmp_path / "trace"
        subprocess.run(
            ["strace", "-f", "-qq", "-e", "trace=read,write", "-o", str(trace), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )
        calls = {"read": 0, "write": 0}
        for line in trace.read_text().splitlines():
            m = re.search(r"\b(read|write)\(", line)
            if m:
                calls[m.group(1)] += 1
        # strace also sees the dynamic loader read libc's ELF header, before any preloaded code runs
        assert snap.ops["write"].calls == calls["write"]
        assert snap.ops["read"].calls == calls["read"] - 1


@pytest.mark.skipif(not have("python3"), reason="needs python3")
def test_python_print_to_a_file_is_counted(shim_lib: Path, tmp_path: Path):
    """Python's own I/O is not stdio (it calls write(2)); both routes add up."""
    out = tmp_path / "o"
    code = (
        f"import sys\nf = open({str(out)!r}, 'w')\nf.write('z' * 100000)\nf.close()\n"
        "sys.stdout.write('ok\\n')\n"
    )
    session = tmp_path / "p.vrift"
    r = subprocess.run(
        ["python3", "-c", code],
        env=profiled_env(shim_lib, session),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert r.stdout == "ok\n"
    assert read_profile(session).command("python3").counters["bytes_written"] == 100000 + 3
