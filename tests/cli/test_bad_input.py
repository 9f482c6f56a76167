"""Every kind of bad input the CLI can meet ends the same way: one line on
stderr that starts with "vrift: ", a non-zero exit (2), no traceback.

Bad flags and values, ports, files (missing, empty, truncated, corrupt,
foreign, a directory), outputs that cannot be written, a missing or stale
shim. Each case runs the real command in a subprocess, as a user would.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import vrift
from vrift_profile import create_session


def one_line(r: subprocess.CompletedProcess[str]) -> str:
    lines = r.stderr.splitlines()
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(lines) == 1 and lines[0].startswith("vrift: "), r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


@pytest.fixture
def files(tmp_path: Path, rundir: Path) -> Path:
    """A real session and a drawer of bad files beside it."""
    session = create_session(tmp_path / "s.vrift")
    (tmp_path / "empty.vrift").write_bytes(b"")
    (tmp_path / "trunc.vrift").write_bytes(session.read_bytes()[:100])
    (tmp_path / "foreign.bin").write_bytes(b"\x7fELF" + bytes(4096))
    (tmp_path / "foreign.json").write_text('{"a": 1}\n')
    (tmp_path / "corrupt.json").write_text("{not json\n")
    (tmp_path / "malformed.json").write_text('{"format_version": 1, "session": {}}\n')
    (tmp_path / "newer.json").write_text('{"format_version": 99}\n')
    (tmp_path / "a-file").write_text("not a directory\n")
    return tmp_path


BAD_FLAGS = [
    (("profile", "serve", "--port", "99999"), "argument --port: must be between 0 and 65535, not 99999"),
    (("profile", "serve", "--port", "http"), "argument --port: not a number: 'http'"),
    (("profile", "serve", "--port", "-1"), "argument --port: must be between 0 and 65535"),
    (("profile", "start", "--slots", "1"), "argument --slots: must be between 2 and 1000000"),
    (("profile", "start", "--slots", "many"), "argument --slots: not a number"),
    (("profile", "show", "--hot", "-1"), "argument --hot: must be 0 or more"),
    (("profile", "show", "--watch", "--interval", "0"), "argument --interval: must be a positive number"),
    (("profile", "show", "--watch", "--interval", "nan"), "argument --interval: must be a positive number"),
    (("profile", "show", "--iterations", "x"), "argument --iterations: not a number"),
    (("profile", "clean", "--older-than", "soon"), "argument --older-than: not an age: 'soon'"),
    (("profile", "flamegraph", "--weight", "bytes"), "argument --weight: invalid choice: 'bytes'"),
    (("profile", "show", "--no-such-flag"), "unrecognized arguments: --no-such-flag"),
    (("profile", "frobnicate"), "unknown verb 'frobnicate'"),
    (("frobnicate",), "unknown verb 'frobnicate'"),
    (("profile", "run"), "no command given"),
    (("run",), "no command given"),
    (("profile", "diff", "a.json", "b.json", "--fail-if", "time>>5"), "bad --fail-if 'time>>5'"),
    (("profile", "diff", "a.json", "b.json", "--fail-if", "bogus>5%"), "bad --fail-if metric 'bogus'"),
    (("profile", "export", "--format", "xml"), "unknown export format 'xml'"),
    (("profile", "export", "--format", "otel", "--timeout", "soon"), "argument --timeout: invalid float"),
    (("profile", "badge", "--from", "s.vrift", "--command", "make"), "--command applies to --from history"),
]


@pytest.mark.parametrize(("args", "message"), BAD_FLAGS, ids=[" ".join(a) for a, _ in BAD_FLAGS])
def test_bad_flags_and_values(args: tuple[str, ...], message: str, files: Path):
    assert message in one_line(vrift(*args, check=False, cwd=files))


BAD_FILES = [
    ("empty.vrift", "too short to be a vrift profile (0 bytes)"),
    ("trunc.vrift", "truncated: 100 of"),
    ("foreign.bin", "not a vrift profile (bad magic)"),
    ("foreign.json", "not a vrift JSON export (no format_version)"),
    ("corrupt.json", "not a vrift JSON export"),
    ("malformed.json", "malformed vrift JSON export"),
    ("newer.json", "JSON format_version 99 is not supported"),
    ("no-such.vrift", "no such file"),
    (".", "is a directory, not a profile"),
]
READERS = [
    ("profile", "export", "--path"),
    ("profile", "report", "-o", "out.html", "--path"),
    ("profile", "flamegraph", "--path"),
    ("profile", "badge", "--from"),
]


@pytest.mark.parametrize(("name", "message"), BAD_FILES, ids=[n for n, _ in BAD_FILES])
def test_bad_files(name: str, message: str, files: Path):
    for reader in READERS:
        assert message in one_line(vrift(*reader, name, check=False, cwd=files)), reader
    assert message in one_line(vrift("profile", "diff", "s.vrift", name, check=False, cwd=files))


@pytest.mark.parametrize("name", ["empty.vrift", "trunc.vrift", "foreign.bin", "no-such.vrift"])
def test_bad_session_files(name: str, files: Path):
    """Commands that need a live session file (not a JSON export)."""
    for args in (
        ("profile", "show", "--path", name),
        ("profile", "serve", "--port", "0", "--path", name),
        ("profile", "stop", "--path", name),
        ("profile", "reset", "--path", name),
    ):
        one_line(vrift(*args, check=False, cwd=files))
    if name != "no-such.vrift":  # `vrift run --profile` creates a missing one
        one_line(vrift("run", "--profile", name, "--", "true", check=False, cwd=files))


UNWRITABLE = [
    ("profile", "export", "--path", "s.vrift", "-o"),
    ("profile", "export", "--path", "s.vrift", "--format", "prometheus", "-o"),
    ("profile", "export", "--path", "s.vrift", "--format", "otel", "-o"),
    ("profile", "report", "--path", "s.vrift", "-o"),
    ("profile", "dashboard", "-o"),
    ("profile", "badge", "--from", "s.vrift", "-o"),
]


@pytest.mark.parametrize("target", ["no-such-dir/out", "a-file/out"])
def test_unwritable_outputs(target: str, files: Path):
    why = "No such file or directory" if target.startswith("no-such") else "Not a directory"
    for args in UNWRITABLE:
        assert (
            one_line(vrift(*args, target, check=False, cwd=files)) == f"vrift: cannot write {target}: {why}"
        )
    start = one_line(vrift("profile", "start", "--path", target, check=False, cwd=files))
    assert start.endswith(": no such directory" if target.startswith("no-such") else ": Not a directory")


def test_port_in_use_and_address_not_ours(files: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line(
            vrift("profile", "serve", "--path", "s.vrift", "--port", str(port), check=False, cwd=files)
        )
        assert line == f"vrift: cannot listen on 127.0.0.1:{port}: Address already in use"
    line = one_line(
        vrift("profile", "serve", "--path", "s.vrift", "--addr", "192.0.2.1", check=False, cwd=files)
    )
    assert line.startswith("vrift: cannot listen on 192.0.2.1:9464: ")


def _vrift_with_shim_dir(shim_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run vrift with vrift_shim looking for its library in `shim_dir`
    (what a broken or half-built install looks like)."""
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        import vrift_shim
        vrift_shim._HERE = Path({str(shim_dir)!r})
        from vrift_cli.main import main
        sys.exit(main({list(args)!r}))
        """
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_missing_shim_library(files: Path, shim_lib: Path):
    """An install whose library did not build: headers present, no .so."""
    empty = files / "site" / "vrift_shim"
    shutil.copytree(shim_lib.parent / "include", empty / "include")
    for args in (("run", "--", "true"), ("profile", "run", "--", "true")):
        line = one_line(_vrift_with_shim_dir(empty, *args))
        assert line.startswith(f"vrift: {empty / 'libvrift_shim.so'} is missing: reinstall vrift-shim"), line


def test_stale_shim_library_is_refused(files: Path, shim_lib: Path):
    """A source checkout whose csrc/ changed after the library was built
    (an editable install after `git pull`) must not run the old library."""
    pkg = files / "checkout" / "src" / "vrift_shim"
    (pkg / "include").mkdir(parents=True)
    (pkg / "include" / "vrift_profile.h").write_text("/* header */\n")
    csrc = files / "checkout" / "csrc"
    csrc.mkdir()
    (csrc / "session.c").write_text("/* old */\n")
    lib = pkg / "libvrift_shim.so"
    lib.write_bytes(shim_lib.read_bytes())
    os.utime(csrc / "session.c", ns=(1, 1))
    os.utime(pkg / "include" / "vrift_profile.h", ns=(1, 1))
    assert _vrift_with_shim_dir(pkg, "run", "--", "true").returncode == 0  # current: runs
    (csrc / "interpose.c").write_text("/* edited after the build */\n")
    os.utime(csrc / "interpose.c", ns=(lib.stat().st_mtime_ns + 10**9,) * 2)
    line = one_line(_vrift_with_shim_dir(pkg, "run", "--", "true"))
    assert line == (
        f"vrift: {lib} is older than interpose.c: "
        "rebuild it: python packages/vrift-shim/build_shim.py (or scripts/bootstrap)"
    )
