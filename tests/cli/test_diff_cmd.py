"""`vrift profile diff` (the command): text and JSON output, --fail-if gates, one-line errors.
The comparison itself is tested in tests/profile_core/test_diff.py."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from helpers import profiled_env, vrift
from vrift_profile import create_session


def run_session(path: Path, cbin: Path, lib: Path, n: int, missing: int) -> Path:
    create_session(path)
    subprocess.run(
        [cbin / "stat_loop", "/etc/hostname", str(n), "/nonexistent", str(missing)],
        env=profiled_env(lib, path),
        check=True,
        capture_output=True,
    )
    return path


def test_diff_numbers_and_gates(cbin: Path, shim_lib: Path, tmp_path: Path, rundir):
    a = run_session(tmp_path / "a.vrift", cbin, shim_lib, 1000, 10)
    b = run_session(tmp_path / "b.vrift", cbin, shim_lib, 1500, 10)
    # B as a JSON export: diff accepts either form
    bj = tmp_path / "b.json"
    vrift("profile", "export", "--path", str(b), "-o", str(bj))

    out = vrift("profile", "diff", str(a), str(bj), "--format", "json").stdout
    data = json.loads(out)
    assert data["syscalls"]["stat"]["calls"] == {
        "a": 1000,
        "b": 1500,
        "delta": 500,
        "ratio": 1.5,
        "percent": 50.0,
    }
    assert data["syscalls"]["lstat"]["errors"]["delta"] == 0

    text = vrift("profile", "diff", str(a), str(bj)).stdout
    assert "1,000 -> 1,500 (+50.0%)" in text

    ok = vrift("profile", "diff", str(a), str(bj), "--fail-if", "stat.calls>60%", "--fail-if", "errors>0")
    assert ok.returncode == 0
    bad = vrift("profile", "diff", str(a), str(bj), "--fail-if", "stat.calls>40%", check=False)
    assert bad.returncode == 1
    assert bad.stderr.strip() == "vrift: regression: stat.calls>40% (1,000 -> 1,500, +50.0%)"
    assert vrift("profile", "diff", str(a), str(bj), "--fail-if", "calls>499", check=False).returncode == 1
    assert vrift("profile", "diff", str(a), str(bj), "--fail-if", "calls>500", check=False).returncode == 0


def test_bad_rules_and_inputs_are_one_line(tmp_path: Path, rundir):
    p = create_session(tmp_path / "a.vrift")
    r = vrift("profile", "diff", str(p), str(p), "--fail-if", "time>>5", check=False)
    assert r.returncode == 2 and r.stderr.startswith("vrift: bad --fail-if") and "Traceback" not in r.stderr
    junk = tmp_path / "junk.json"
    junk.write_text('{"format_version": 1, "session": {}}')
    r = vrift("profile", "diff", str(p), str(junk), check=False)
    assert r.returncode == 2 and "malformed vrift JSON export" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
