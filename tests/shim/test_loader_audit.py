"""The loader audit module (`--loader`: LD_AUDIT=libvrift_audit.so) counts
what no preloaded library sees: every path the dynamic loader tries while
searching for a shared object (RUNPATH, hwcaps subdirectories, the cache's
answer), which of them failed, and the loader's time. The probes are
compared one for one with strace's openat calls in the same run; the
program's behaviour must not change."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import vrift_shim
from helpers import have, vrift
from vrift_export_json import schema_path
from vrift_profile import create_session, read_profile
from vrift_profile.launch import shim_environment

CPROGS = Path(__file__).resolve().parents[1] / "cprogs"
# the names the loader searches for in these runs: a probe is an openat of one
# (a libc loaded into a new namespace needs the loader's own file there too)
SEARCHED = ("libvrift_test_foo.so", "libvrift_test_nothere.so", "libc.so.6", "ld-linux-x86-64.so.2")


@pytest.fixture(scope="module")
def runpath_prog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dlopen_list linked against libvrift_test_foo.so, found through a
    DT_RUNPATH of three directories: the first two do not hold it."""
    d = tmp_path_factory.mktemp("runpath")
    for sub in ("a", "b", "c"):
        (d / sub).mkdir()
    (d / "foo.c").write_text("int vrift_test_foo(void) { return 42; }\n")
    subprocess.run(
        ["cc", "-shared", "-fPIC", "-o", d / "c" / "libvrift_test_foo.so", d / "foo.c"], check=True
    )
    prog = d / "dlopen_list"
    rpath = ":".join(str(d / s) for s in ("a", "b", "c"))
    subprocess.run(
        ["cc", "-O2", "-o", prog, CPROGS / "dlopen_list.c", f"-L{d / 'c'}", "-lvrift_test_foo"]
        + ["-Wl,--no-as-needed", f"-Wl,--enable-new-dtags,-rpath,{rpath}"],
        check=True,
    )
    return prog


def _probes_by_strace(trace: Path) -> tuple[int, int]:
    """(openat calls of a searched name, how many failed) in an strace -f log."""
    calls = failed = 0
    for line in trace.read_text().splitlines():
        m = re.search(r'openat\(AT_FDCWD, "([^"]+)".*\) = (-?\d+)', line)
        if m and os.path.basename(m.group(1)) in SEARCHED:
            calls += 1
            failed += int(m.group(2)) < 0
    return calls, failed


def _loader_run(args: list[str], session: Path, trace: Path | None = None) -> subprocess.CompletedProcess:
    create_session(session)
    env = shim_environment(session, loader=True)
    if trace is not None:  # strace itself runs without vrift: the tracee alone gets its variables
        added = [f"{k}={v}" for k, v in env.items() if os.environ.get(k) != v]
        cmd = ["strace", "-f", "-qq", "-e", "trace=openat", "-o", str(trace)]
        cmd += [a for kv in added for a in ("-E", kv)] + args
        env = dict(os.environ)
    else:
        cmd = args
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.skipif(not have("strace"), reason="needs strace")
def test_every_search_probe_is_counted_as_strace_sees_it(runpath_prog: Path, tmp_path: Path):
    args = [str(runpath_prog), "libvrift_test_foo.so", "libvrift_test_nothere.so"]
    plain = subprocess.run(args, capture_output=True, text=True, timeout=60)
    session, trace = tmp_path / "s.vrift", tmp_path / "trace"
    r = _loader_run(args, session, trace)
    assert (r.returncode, r.stdout, r.stderr) == (plain.returncode, plain.stdout, plain.stderr)
    assert plain.stdout == "libvrift_test_foo.so loaded\nlibvrift_test_nothere.so missing\n"
    calls, failed = _probes_by_strace(trace)
    # RUNPATH a and b, with their hwcaps subdirectories, for libc and both
    # libraries; the missing one through every default directory as well
    assert calls > 3 * 2 and failed == calls - 2  # hits: libc (the cache's answer), foo in c/
    ld = read_profile(session).loader()
    assert ld["audited_images"] == 1
    assert (ld["probes"], ld["failed_probes"]) == (calls, failed)
    assert ld["derived_syscalls"]["open"] == ld["objects"] + failed
    assert ld["time_ns"] > 0


@pytest.mark.skipif(not have("strace"), reason="needs strace")
def test_each_image_of_a_process_tree_is_audited(runpath_prog: Path, tmp_path: Path):
    """sh, then the program twice: three images, each with its own probes;
    one fork child (the subshell) inherits what its parent already counted."""
    session, trace = tmp_path / "s.vrift", tmp_path / "trace"
    line = f"{runpath_prog} libvrift_test_nothere.so; ({runpath_prog} libvrift_test_foo.so)"
    r = _loader_run(["sh", "-c", line], session, trace)
    assert r.returncode == 0, r.stderr
    calls, failed = _probes_by_strace(trace)
    ld = read_profile(session).loader()
    assert (ld["probes"], ld["failed_probes"]) == (calls, failed)
    assert ld["audited_images"] >= 3


def test_startup_alone_is_timed(tmp_path: Path):
    """A program that never calls dlopen still spends its startup in the
    loader: its search and mapping of the startup objects."""
    session = tmp_path / "s.vrift"
    r = _loader_run(["ls", "/"], session)
    assert r.returncode == 0
    ld = read_profile(session).loader()
    assert ld["audited_images"] == 1 and ld["probes"] >= 1
    assert 0 < ld["time_ns"] < 1_000_000_000


@pytest.mark.skipif(not have("strace"), reason="needs strace")
@pytest.mark.parametrize("how", ["exit", "_exit", "dlmopen"])
def test_the_last_dlopen_counts_however_the_image_ends(cbin: Path, tmp_path: Path, how: str):
    """_exit runs no destructor and dlmopen no dlopen wrapper: the audit
    module's figures are taken at _exit (and exec) too, and at exit whether
    or not a dlopen wrapper ran."""
    args = [str(cbin / "dlopen_exit"), how, "libvrift_test_nothere.so", "libc.so.6"]
    session, trace = tmp_path / "s.vrift", tmp_path / "trace"
    r = _loader_run(args, session, trace)
    assert r.returncode == 0, r.stderr
    calls, failed = _probes_by_strace(trace)
    ld = read_profile(session).loader()
    # In a new namespace libc needs ld.so, which the loader opens, finds
    # loaded already and closes: an openat that succeeded, but no object
    # follows it (no audit call tells it apart from a failed one).
    assert (ld["probes"], ld["failed_probes"]) == (calls, failed + (how == "dlmopen"))
    assert failed > 10  # the missing library's search


def test_constructors_are_not_loader_time(tmp_path: Path):
    """A library whose constructor sleeps 300 ms: the loader's time is its
    search and mapping, not the constructors that run after it."""
    d = tmp_path / "lib"
    d.mkdir()
    (d / "slow.c").write_text(
        "#include <unistd.h>\n__attribute__((constructor)) static void slow(void) { usleep(300000); }\n"
        "int vrift_test_slow(void) { return 1; }\n"
    )
    subprocess.run(["cc", "-shared", "-fPIC", "-o", d / "libvrift_test_slow.so", d / "slow.c"], check=True)
    (tmp_path / "main.c").write_text(
        "#include <sys/stat.h>\nint vrift_test_slow(void);\n"
        'int main(void) { struct stat st; return stat("/", &st) + vrift_test_slow() - 1; }\n'
    )
    prog = tmp_path / "main_slow"
    subprocess.run(
        ["cc", "-o", prog, tmp_path / "main.c", f"-L{d}", "-lvrift_test_slow", f"-Wl,-rpath,{d}"], check=True
    )
    session = tmp_path / "s.vrift"
    r = _loader_run([str(prog)], session)
    assert r.returncode == 0, r.stderr
    ld = read_profile(session).loader()
    assert 0 < ld["time_ns"] < 100_000_000


def test_without_loader_nothing_is_claimed(runpath_prog: Path, tmp_path: Path):
    session = create_session(tmp_path / "s.vrift")
    env = shim_environment(session)
    assert "LD_AUDIT" not in env or vrift_shim.audit_library_path().name not in env["LD_AUDIT"]
    subprocess.run([str(runpath_prog)], env=env, check=True, capture_output=True, timeout=60)
    ld = read_profile(session).loader()
    assert ld["objects"] >= 2  # the derived figures are there
    assert "probes" not in ld and "time_ns" not in ld
    assert "loader (counted" not in vrift("profile", "show", "--path", str(session)).stdout


def test_python_under_the_audited_loader_is_unchanged(tmp_path: Path):
    code = "import sqlite3, ssl, json, decimal, ctypes; print(sqlite3.sqlite_version, ssl.OPENSSL_VERSION)"
    cmd = [sys.executable, "-c", code]
    plain = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    session = tmp_path / "py.vrift"
    r = _loader_run(cmd, session)
    assert (r.returncode, r.stdout, r.stderr) == (plain.returncode, plain.stdout, plain.stderr)
    ld = read_profile(session).loader()
    assert ld["audited_images"] == 1 and ld["probes"] > 0 and ld["time_ns"] > 0


def test_profile_run_loader_shows_and_exports_the_counted_figures(runpath_prog: Path, tmp_path: Path):
    session = tmp_path / "cli.vrift"
    r = vrift(
        "profile",
        "run",
        "--quiet",
        "--loader",
        "--path",
        str(session),
        "--",
        str(runpath_prog),
        "libvrift_test_nothere.so",
    )
    assert r.returncode == 0
    show = vrift("profile", "show", "--path", str(session), env=dict(os.environ, COLUMNS="150")).stdout
    assert re.search(r"loader \(counted, --loader; 1 of 1 images\): \d+ search probes, \d+ failed; ", show)
    data = json.loads(vrift("profile", "export", "--path", str(session)).stdout)
    jsonschema.validate(data, json.loads(schema_path().read_text()))
    assert data["loader"]["probes"] > data["loader"]["failed_probes"] > 0
    assert data["loader"]["method"].startswith("per shared object")


def test_an_existing_ld_audit_is_kept_after_ours(tmp_path: Path):
    ours = str(vrift_shim.audit_library_path())
    env = shim_environment(None, {"LD_AUDIT": f"/opt/other.so:{ours}"}, loader=True)
    assert env["LD_AUDIT"] == f"{ours}:/opt/other.so"
