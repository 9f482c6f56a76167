"""Store behaviour: dedup accounting, copy-on-write, bad input."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import blake3
import pytest
from conftest import vrift_cmd
from helpers import vrift


def _blob_digests(store: Path) -> dict[str, str]:
    """{hex name (without an executable blob's '.x'): BLAKE3 of the content}."""
    out = {}
    for blob in (store / "blobs").glob("*/*"):
        out[blob.parent.name + blob.name.removesuffix(".x")] = blake3.blake3(blob.read_bytes()).hexdigest()
    return out


def test_dedup_reports_exact_savings_and_reingest_stores_nothing(store: Path, tmp_path: Path):
    src = tmp_path / "src"
    src.mkdir()
    payload = os.urandom(100_000)
    for i in range(10):
        (src / f"copy{i}.bin").write_bytes(payload)
    (src / "u1.txt").write_text("unique one\n")  # 11 bytes
    (src / "u2.txt").write_text("unique two!\n")  # 12 bytes
    out = vrift("ingest", str(src), "--name", "d").stdout
    assert "original 1000.0 KB (1,000,023 bytes)" in out or "(1,000,023 bytes)" in out
    assert "(100,023 bytes distinct content)" in out
    assert "saved" in out and "(900,000 bytes" in out
    assert "new in store: 100,023 bytes" in out
    again = vrift("ingest", str(src), "--name", "d2").stdout
    assert "new in store: 0 bytes" in again
    assert len(list((store / "blobs").glob("*/*"))) == 3
    assert all(d == name for name, d in _blob_digests(store).items())  # content-addressed


def test_copy_on_write_leaves_store_and_other_projection_alone(store: Path, tmp_path: Path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "f.txt").write_text("original\n")
    (src / "g.txt").write_text("original\n")  # same content: one blob shared by four names
    vrift("ingest", str(src), "--name", "c")
    a, b = tmp_path / "a", tmp_path / "b"
    vrift("mount", "c", str(a))
    vrift("mount", "c", str(b))
    before = _blob_digests(store)
    session = tmp_path / "s.vrift"
    r = subprocess.run(
        vrift_cmd(
            "run",
            "--profile",
            str(session),
            "--vfs",
            str(a),
            "--",
            "sh",
            "-c",
            "echo appended >> f.txt && cat f.txt && stat -c %s f.txt",
        ),
        cwd=a,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "original\nappended\n18\n"  # the served size follows the change
    assert (a / "f.txt").read_text() == "original\nappended\n"
    assert (a / "g.txt").read_text() == "original\n"
    assert (b / "f.txt").read_text() == "original\n"
    assert _blob_digests(store) == before
    data = json.loads(vrift("profile", "export", "--path", str(session)).stdout)
    assert data["vfs"]["cow_copies"] == 1
    assert data["vfs"]["cow_bytes"] == len("original\n")


def test_bad_inputs_are_one_line_errors(store: Path, tmp_path: Path):
    def fails(*args: str, match: str) -> None:
        r = vrift(*args, check=False)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and match in lines[0] and "Traceback" not in r.stderr, r.stderr

    src = tmp_path / "src"
    src.mkdir()
    (src / "x").write_text("x\n")
    vrift("ingest", str(src), "--name", "m")
    fails("ingest", str(tmp_path / "nope"), match="not a directory")
    fails("mount", "unknown", str(tmp_path / "p0"), match="no manifest named 'unknown'")
    full = tmp_path / "full"
    full.mkdir()
    (full / "something").write_text("")
    fails("mount", "m", str(full), match="not an empty directory")
    fails("umount", str(tmp_path / "elsewhere"), match="not a vrift projection")
    manifest = store / "manifests" / "m" / "1.vmf"
    os.chmod(manifest, 0o644)  # versions are 0444; damage it on purpose
    good = manifest.read_bytes()
    manifest.write_bytes(good[: len(good) // 2])
    fails("mount", "m", str(tmp_path / "p1"), match="truncated manifest")
    manifest.write_bytes(b"garbage" * 100)
    fails("mount", "m", str(tmp_path / "p2"), match="not a vrift manifest")
    manifest.write_bytes(good)
    blob = next((store / "blobs").glob("*/*"))
    os.chmod(blob, 0o644)
    blob.unlink()
    fails("mount", "m", str(tmp_path / "p3"), match="store is missing blob")
    assert not (tmp_path / "p3").exists()  # nothing half-made left behind


def test_shim_with_a_damaged_manifest_stays_out_of_the_way(store: Path, tmp_path: Path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "x.txt").write_text("hello\n")
    vrift("ingest", str(src), "--name", "m")
    dest = tmp_path / "p"
    vrift("mount", "m", str(dest))
    version = store / "manifests" / "m" / "1.vmf"
    os.chmod(version, 0o644)
    version.write_bytes(b"\0" * 64)
    session = tmp_path / "s.vrift"
    r = subprocess.run(
        vrift_cmd("run", "--profile", str(session), "--vfs", str(dest), "--", "cat", "x.txt"),
        cwd=dest,
        capture_output=True,
        text=True,
    )
    assert (r.returncode, r.stdout) == (0, "hello\n")
    assert r.stderr == (
        f"vrift: warning: {dest} is not served: {version}: truncated or not a vrift manifest (64 bytes);"
        " its store stays protected\n"
    )
    data = json.loads(vrift("profile", "export", "--path", str(session)).stdout)
    # attached protect-only: nothing served, nothing claimed, no projection registered
    assert data["vfs"]["vfs_handled"] == 0 and data["vfs"]["projections"] == []


def test_missing_blob_falls_back_to_the_projected_file(store: Path, tmp_path: Path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "x.txt").write_text("still here\n")
    vrift("ingest", str(src), "--name", "m")
    dest = tmp_path / "p"
    vrift("mount", "m", str(dest))
    for blob in (store / "blobs").glob("*/*"):
        blob.unlink()  # the projection's hardlink keeps the content alive
    session = tmp_path / "s.vrift"
    r = subprocess.run(
        vrift_cmd("run", "--profile", str(session), "--vfs", str(dest), "--", "cat", "x.txt"),
        cwd=dest,
        capture_output=True,
        text=True,
    )
    assert (r.returncode, r.stdout) == (0, "still here\n")
    data = json.loads(vrift("profile", "export", "--path", str(session)).stdout)
    assert data["cache"]["cas_misses"] >= 1 and data["cache"]["cas_hits"] == 0


def test_read_only_store_is_a_clear_error_and_stays_intact(store: Path, tmp_path: Path):
    ro = tmp_path / "rostore"
    ro.mkdir()
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(ro)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        env = dict(os.environ, VRIFT_STORE=str(ro))
        src = tmp_path / "src"
        src.mkdir()
        (src / "a").write_text("a\n")
        vrift("ingest", str(src), "--name", "first", env=env)
        before = sorted(str(p.relative_to(ro)) for p in ro.rglob("*"))
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        (src / "b").write_text("b\n")
        r = vrift("ingest", str(src), "--name", "second", env=env, check=False)
        assert r.returncode == 2 and "Read-only file system" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
        assert sorted(str(p.relative_to(ro)) for p in ro.rglob("*")) == before
        assert vrift("mount", "first", str(tmp_path / "p"), env=env).returncode == 0
    finally:
        subprocess.run(["umount", str(ro)], capture_output=True)
