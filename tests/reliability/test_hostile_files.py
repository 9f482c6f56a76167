"""Hostile manifests and profile files; file-system security of sessions."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from helpers import profiled_env, vrift
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vrift_profile import create_session, read_profile
from vrift_vfs import VfsError, read_manifest


@pytest.fixture(scope="module")
def manifest_bytes(tmp_path_factory) -> bytes:
    root = tmp_path_factory.mktemp("m")
    src = root / "src"
    (src / "d").mkdir(parents=True)
    for i in range(20):
        (src / "d" / f"f{i}").write_text(str(i % 3))
    os.symlink("d/f1", src / "link")
    env = dict(os.environ, VRIFT_STORE=str(root / "store"), VRIFT_STATE=str(root / "state"))
    vrift("ingest", str(src), "--name", "m", env=env)
    return (root / "store" / "manifests" / "m" / "1.vmf").read_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_manifests_are_refused_or_read_never_traceback(tmp_path, manifest_bytes, data):
    buf = bytearray(manifest_bytes)
    kind = data.draw(st.sampled_from(["flip", "truncate", "extend"]))
    if kind == "flip":
        for _ in range(data.draw(st.integers(1, 16))):
            i = data.draw(st.integers(0, len(buf) - 1))
            buf[i] = data.draw(st.integers(0, 255))
    elif kind == "truncate":
        del buf[data.draw(st.integers(0, len(buf) - 1)) :]
    else:
        buf += bytes(data.draw(st.integers(1, 4096)))
    p = tmp_path / "fuzz.vmf"
    p.write_bytes(bytes(buf))
    try:
        m = read_manifest(p)
        for _ in m.entries():
            pass
    except VfsError:
        pass


def test_shim_ignores_corrupt_manifests_and_runs_the_program(manifest_bytes, tmp_path, shim_lib, cbin):
    """Bit-flipped manifests behind a projection: the program's output never changes."""
    import random

    rng = random.Random(7)
    dest = tmp_path / "proj"
    (dest / "d").mkdir(parents=True)
    (dest / "d" / "f1").write_text("1")
    store = tmp_path / "store" / "manifests"
    store.mkdir(parents=True)
    dirty = tmp_path / "state.dirty"
    dirty.write_bytes(
        (0x59545249445256).to_bytes(8, "little") + (1024).to_bytes(8, "little") + bytes(48 + 8192)
    )
    desc = tmp_path / "p.proj"
    desc.write_text(f"{dest}\n{store / 'm.vmf'}\n{dirty}\n{store.parent}\n")
    for trial in range(200):
        buf = bytearray(manifest_bytes)
        for _ in range(rng.randint(1, 64)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        (store / "m.vmf").write_bytes(bytes(buf[: rng.randint(0, len(buf))] if trial % 4 == 0 else buf))
        env = dict(os.environ, LD_PRELOAD=str(shim_lib), VRIFT_VFS=str(desc))
        r = subprocess.run(
            ["sh", "-c", "cat d/f1; ls d; stat -c %s d/f1"],
            cwd=dest,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert r.returncode == 0 and r.stdout.startswith("1f1\n"), (trial, r.stdout, r.stderr)


def test_session_file_security(cbin, shim_lib, tmp_path, rundir):
    # a planted symlink at the profile path is never followed
    target = tmp_path / "victim"
    target.write_text("precious\n")
    link = tmp_path / "p.vrift"
    link.symlink_to(target)
    r = subprocess.run(
        [cbin / "stat_loop", "/etc/hostname", "3", "/x", "0"],
        env=profiled_env(shim_lib, link),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (r.returncode, r.stdout, r.stderr) == (0, "3 0\n", "")
    assert target.read_text() == "precious\n"
    r = vrift("profile", "start", "--path", str(link), check=False)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert target.read_text() == "precious\n"
    # a session file owned by someone else is not attached to
    other = create_session(tmp_path / "other.vrift")
    os.chown(other, 65534, 65534)
    r = subprocess.run(
        [cbin / "stat_loop", "/etc/hostname", "3", "/x", "0"],
        env=profiled_env(shim_lib, other),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.stdout == "3 0\n" and read_profile(other).total_calls == 0
    # a group/world-accessible session file is not attached to either
    loose = create_session(tmp_path / "loose.vrift")
    os.chmod(loose, 0o644)
    subprocess.run(
        [cbin / "stat_loop", "/etc/hostname", "3", "/x", "0"],
        env=profiled_env(shim_lib, loose),
        check=True,
        capture_output=True,
        timeout=30,
    )
    assert read_profile(loose).total_calls == 0


def test_run_dir_with_wrong_mode_is_refused(rundir: Path):
    rundir.mkdir(mode=0o755)
    os.chmod(rundir, 0o755)
    r = vrift("profile", "start", check=False)
    assert r.returncode == 2 and "expected 0700" in r.stderr and len(r.stderr.splitlines()) == 1
