"""exec and spawn: every attempt counted (each PATH probe of the execvp
family, as strace sees them), errno exactly as without the shim, and the
programs vrift cannot follow named (format 1.4)."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from helpers import have, profiled_env, vrift
from vrift_export_json import schema_path
from vrift_profile import read_profile


def _probe_dirs(tmp_path: Path) -> tuple[str, Path]:
    """A PATH of two missing directories, one holding a non-executable
    `vrift-target` (EACCES), and /bin."""
    noexec = tmp_path / "noexec"
    noexec.mkdir()
    (noexec / "vrift-target").write_text("#!/bin/sh\nexit 0\n")
    return f"{tmp_path}/missing1:{tmp_path}/missing2:{noexec}", noexec


@pytest.mark.parametrize("how", ["vp", "lp", "vpe"])
def test_failed_path_search_counts_each_probe(cbin: Path, shim_lib: Path, tmp_path: Path, how: str):
    path, _ = _probe_dirs(tmp_path)
    args = [cbin / "exec_probe", how, path, "vrift-target"]
    plain = subprocess.run(args, capture_output=True, text=True, timeout=30)
    session = tmp_path / "p.vrift"
    shimmed = subprocess.run(
        args, capture_output=True, text=True, env=profiled_env(shim_lib, session), timeout=30
    )
    # errno and exit status are the program's own: EACCES wins over ENOENT
    assert plain.stdout == shimmed.stdout == f"errno={13}\n"
    assert plain.returncode == shimmed.returncode == 1
    ex = read_profile(session).ops["exec"]
    assert (ex.calls, ex.errors, ex.enoent, ex.eacces) == (3, 3, 2, 1)


def test_successful_path_search_matches_strace(cbin: Path, shim_lib: Path, tmp_path: Path):
    if not have("strace"):
        pytest.skip("strace is not installed")
    path = f"{tmp_path}/missing1:{tmp_path}/missing2:/usr/bin:/bin"
    args = [str(cbin / "exec_probe"), "vp", path, "true"]
    session = tmp_path / "p.vrift"
    r = subprocess.run(args, env=profiled_env(shim_lib, session), timeout=30)
    assert r.returncode == 0
    ex = read_profile(session).ops["exec"]
    trace = tmp_path / "trace"
    subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=execve", "-o", str(trace), *args], check=True, timeout=60
    )
    calls = [line for line in trace.read_text().splitlines() if "execve(" in line]
    failed = [line for line in calls if "= -1 " in line]
    # strace also sees its own first execve of exec_probe, which vrift does not count
    assert ex.calls == len(calls) - 1 == 3
    assert ex.errors == len(failed) == 2 and ex.enoent == 2


def test_posix_spawnp_path_probes_are_counted_as_strace_sees_them(shim_lib: Path, tmp_path: Path):
    """posix_spawnp searches PATH in its child, inside glibc: the shim counts
    the probes that will fail by the same search, with their errno."""
    if not have("strace"):
        pytest.skip("strace is not installed")
    path, _noexec = _probe_dirs(tmp_path)
    (tmp_path / "bin").mkdir()
    shutil.copy("/bin/true", tmp_path / "bin" / "vrift-target")
    path += f":{tmp_path}/bin"  # missing, missing, not executable (EACCES), then found
    code = (
        "import os\n"
        "os.environ['PATH'] = os.environ['P']  # glibc's child searches the caller's PATH\n"
        "pid = os.posix_spawnp('vrift-target', ['vrift-target'], dict(os.environ))\n"
        "print(os.waitpid(pid, 0)[1])\n"
    )
    session = tmp_path / "p.vrift"
    env = dict(profiled_env(shim_lib, session), P=path)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (0, "0\n"), r.stderr
    trace = tmp_path / "trace"
    subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=execve", "-o", str(trace), sys.executable, "-c", code],
        env=dict(os.environ, P=path),
        check=True,
        timeout=60,
        capture_output=True,
    )
    probes = [line for line in trace.read_text().splitlines() if "vrift-target" in line and "execve(" in line]
    failed = [line for line in probes if "= -1 " in line]
    assert (len(probes), len(failed)) == (4, 3)
    ex = read_profile(session).ops["exec"]
    assert (ex.calls, ex.errors, ex.enoent, ex.eacces) == (4, 3, 2, 1)


def _static_binary(tmp_path: Path, name: str, source: str) -> Path:
    """`source` linked statically as tmp_path/name (the test skips without a static libc)."""
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    prog = tmp_path / name
    if subprocess.run(["cc", "-static", "-O2", "-o", str(prog), str(src)], capture_output=True).returncode:
        pytest.skip("no static libc to link a static test binary")
    return prog


def test_static_and_env_dropping_programs_are_named_as_not_seen(shim_lib: Path, tmp_path: Path, rundir):
    static = _static_binary(
        tmp_path, "static_hello", '#include <stdio.h>\nint main(void) { puts("static hello"); return 0; }\n'
    )
    session = tmp_path / "p.vrift"
    script = f"{static}; env -i /bin/true; ls / >/dev/null"
    r = subprocess.run(
        ["sh", "-c", script], env=profiled_env(shim_lib, session), capture_output=True, text=True, timeout=30
    )
    assert r.returncode == 0 and r.stdout == "static hello\n"
    snap = read_profile(session)
    seen = {(u.path, u.command): (u.runs, u.reasons) for u in snap.unseen}
    assert seen == {(str(static), "sh"): (1, ("static",)), ("/bin/true", "env"): (1, ("no_preload",))}
    d = snap.to_dict()["not_seen"]
    assert d["by_reason"] == {"static": 1, "setid": 0, "no_preload": 1}
    # ls, dynamic and with the shim's environment, is followed: counted, not listed
    assert snap.command("ls") is not None
    out = vrift("profile", "show", "--path", str(session), env={**os.environ, "COLUMNS": "400"}).stdout
    assert "Not Seen" in out and str(static) in out and "static binary" in out


def test_static_binary_under_vrift_run_is_reported(shim_lib: Path, tmp_path: Path, rundir):
    """The must-show: `vrift profile run` of a build step that is a static binary."""
    prog = _static_binary(tmp_path, "static_true", "int main(void) { return 0; }\n")
    session = tmp_path / "run.vrift"
    r = vrift("profile", "run", "--path", str(session), "--", "sh", "-c", f"{prog}; true")
    assert r.returncode == 0
    out = vrift("profile", "show", "--path", str(session), env={**os.environ, "COLUMNS": "400"}).stdout
    assert re.search(rf"static binary\s+1 run\s+wall \S+\s+by sh\s+{re.escape(str(prog))}", out), out
    # the command itself static: the launcher says so, and starts it through
    # env (followed), whose exec gives it a ghost: its wall time and status
    sleeper = _static_binary(tmp_path, "static_sleep", SLEEPER)
    top = tmp_path / "top.vrift"
    r = vrift("profile", "run", "--path", str(top), "--", str(sleeper), "50", "6", check=False)
    assert r.returncode == 6
    assert f"vrift: {sleeper} is statically linked: vrift cannot follow it" in r.stderr
    snap = read_profile(top)
    (g,) = _ghosts(snap)
    assert (g.command, g.exit_code, g.status_from, g.argv) == (
        "static_sleep",
        6,
        "launcher",
        (str(sleeper), "50", "6"),
    )
    assert g.duration_ns >= 50_000_000
    assert [(u.path, u.command, u.timed_runs) for u in snap.unseen] == [(str(sleeper), "env", 1)]
    r = vrift("profile", "run", "--path", str(tmp_path / "dyn.vrift"), "--", "true")
    assert "statically linked" not in r.stderr


SLEEPER = """#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    usleep(atoi(argv[1]) * 1000);
    return argc > 2 ? atoi(argv[2]) : 0;
}
"""


def _ghosts(snap) -> list:
    return [im for im in snap.images if im.unseen]


def test_unseen_programs_get_their_wall_time_and_status(shim_lib: Path, tmp_path: Path):
    """Format 1.6: each run of a program vrift cannot follow has an image of
    its own (a ghost) whose end and status its parent's wait records."""
    prog = _static_binary(tmp_path, "static_sleep", SLEEPER)
    session = tmp_path / "p.vrift"
    script = f"{prog} 120 3; {prog} 40; sh -c 'exec {prog} 5000' & p=$!; sleep 0.2; kill -9 $p; wait $p"
    r = subprocess.run(["sh", "-c", script], env=profiled_env(shim_lib, session), timeout=30)
    assert r.returncode == 137  # `wait` reports the killed job
    snap = read_profile(session)
    ghosts = sorted(_ghosts(snap), key=lambda im: im.start_ns)
    assert [(g.command, g.argv[1:], g.exit_code, g.signal) for g in ghosts] == [
        ("static_sleep", ("120", "3"), 3, None),
        ("static_sleep", ("40",), 0, None),
        ("static_sleep", ("5000",), None, 9),
    ]
    assert [g.end_by for g in ghosts] == ["exit", "exit", "killed"]
    assert all(g.status_from == "parent" and g.total_calls == 0 for g in ghosts)
    assert 120e6 <= ghosts[0].duration_ns < 5e9 and 40e6 <= ghosts[1].duration_ns < 5e9
    assert 150e6 <= ghosts[2].duration_ns < 4.5e9  # killed long before its 5 s
    # the shells of that pid (the fork for `&`, then `sh -c`) each end by an exec
    inner = [im for im in snap.images if im.pid == ghosts[2].pid and not im.unseen]
    assert inner and all(im.end_by == "exec" for im in inner)
    assert max(im.end_ns for im in inner) == ghosts[2].start_ns
    (u,) = snap.unseen
    assert (u.runs, u.timed_runs) == (3, 3)
    assert u.wall_ns == sum(g.duration_ns for g in ghosts)
    # a ghost is no process of any command: it counted nothing
    assert snap.command("static_sleep") is None
    data = json.loads(vrift("profile", "export", "--path", str(session)).stdout)
    jsonschema.validate(data, json.loads(schema_path().read_text()))
    assert [(p["runs"], p["timed_runs"], p["wall_ns"]) for p in data["not_seen"]["programs"]] == [
        (3, 3, u.wall_ns)
    ]
    assert sum(1 for im in data["process_images"] if im.get("unseen")) == 3
    out = vrift("profile", "show", "--path", str(session), env={**os.environ, "COLUMNS": "400"}).stdout
    assert re.search(rf"static binary\s+3 runs\s+wall \d[\d.]*m?s\s+by sh\s+{re.escape(str(prog))}", out), out


def test_posix_spawn_of_an_unseen_program_is_timed(shim_lib: Path, tmp_path: Path):
    """posix_spawn's caller claims the ghost once it knows the child's pid."""
    prog = _static_binary(tmp_path, "static_sleep", SLEEPER)
    session = tmp_path / "p.vrift"
    code = f"import subprocess\nprint(subprocess.run(['{prog}', '60', '5'], close_fds=False).returncode)\n"
    r = subprocess.run(
        [sys.executable, "-c", code],
        env=profiled_env(shim_lib, session),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.stdout == "5\n"
    (g,) = _ghosts(read_profile(session))
    assert (g.exit_code, g.end_by, g.argv) == (5, "exit", (str(prog), "60", "5"))
    assert g.duration_ns >= 60e6


def test_a_failed_exec_leaves_no_ghost(shim_lib: Path, tmp_path: Path):
    prog = _static_binary(tmp_path, "static_true", "int main(void) { return 0; }\n")
    prog.chmod(0o644)  # classified (it is static), then refused by the kernel: EACCES
    session = tmp_path / "p.vrift"
    r = subprocess.run(
        ["sh", "-c", f"{prog}; exit 0"], env=profiled_env(shim_lib, session), capture_output=True, timeout=30
    )
    assert r.returncode == 0
    snap = read_profile(session)
    assert _ghosts(snap) == []
    # it never ran: no run is counted either
    assert snap.unseen == () and snap.to_dict()["not_seen"]["by_reason"]["static"] == 0
    assert snap.ops["exec"].errors >= 1 and snap.ops["exec"].eacces >= 1


EXEC_ARGS = """#include <unistd.h>
int main(int argc, char **argv) { (void)argc; execv(argv[1], argv + 1); return 127; }
"""


def test_a_ghost_that_execs_a_followed_program_ends_there(shim_lib: Path, tmp_path: Path):
    """A static launcher (busybox env, tini) that execs a dynamic program:
    its ghost ends where the program, which vrift follows, begins; the
    program's own end and status are its own."""
    launcher = _static_binary(tmp_path, "static_exec", EXEC_ARGS)
    session = tmp_path / "p.vrift"
    script = f"{launcher} /bin/sh -c 'sleep 0.3; exit 4'; echo $?"
    r = subprocess.run(
        ["sh", "-c", script], env=profiled_env(shim_lib, session), capture_output=True, text=True
    )
    assert r.stdout == "4\n"
    snap = read_profile(session)
    (g,) = _ghosts(snap)
    assert (g.command, g.end_by, g.exit_code, g.signal) == ("static_exec", "exec", None, None)
    (inner,) = [im for im in snap.images if im.pid == g.pid and not im.unseen and im.start_ns >= g.start_ns]
    assert (inner.command, inner.exit_code, inner.end_by) == ("sh", 4, "exit")
    assert g.end_ns <= inner.start_ns + 50_000_000 and g.duration_ns < 250_000_000
    assert inner.duration_ns >= 300_000_000
    (u,) = snap.unseen
    assert (u.timed_runs, u.wall_ns) == (1, g.duration_ns)


def test_fexecve_of_an_unseen_program_is_named(shim_lib: Path, tmp_path: Path):
    prog = _static_binary(tmp_path, "static_sleep", SLEEPER)
    session = tmp_path / "p.vrift"
    code = (
        "import os\n"
        f"fd = os.open('{prog}', os.O_RDONLY)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n    os.execve(fd, ['static_sleep', '30', '4'], dict(os.environ))\n"
        "print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], env=profiled_env(shim_lib, session), capture_output=True, text=True
    )
    assert r.stdout == "4\n", r.stderr
    snap = read_profile(session)
    assert [(u.path, u.runs, u.timed_runs) for u in snap.unseen] == [(str(prog), 1, 1)]
    (g,) = _ghosts(snap)
    assert (g.command, g.exit_code) == ("static_sleep", 4)


def test_a_reused_pid_does_not_end_a_dead_ghost(shim_lib: Path, tmp_path: Path):
    """A ghost reaped where no wrapper sees it (SIGCHLD ignored), then its pid
    given to a new child: the new child's end is not the ghost's."""
    last_pid = Path("/proc/sys/kernel/ns_last_pid")
    if os.geteuid() != 0 or not last_pid.exists():
        pytest.skip("needs root and /proc/sys/kernel/ns_last_pid to reuse a pid on purpose")
    prog = _static_binary(tmp_path, "static_sleep", SLEEPER)
    session = tmp_path / "p.vrift"
    code = (
        "import os, signal, time\n"
        "signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reaped by the kernel, no wait\n"
        f"old = os.posix_spawn('{prog}', ['static_sleep', '10', '3'], dict(os.environ))\n"
        "while True:\n"
        "    try:\n        os.kill(old, 0); time.sleep(0.01)\n"
        "    except ProcessLookupError:\n        break\n"
        "signal.signal(signal.SIGCHLD, signal.SIG_DFL)\n"
        "open('/proc/sys/kernel/ns_last_pid', 'w').write(str(old - 1))\n"
        "pid = os.fork()\n"
        "if pid == 0:\n    time.sleep(0.2); os._exit(7)\n"
        "print(pid == old, os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], env=profiled_env(shim_lib, session), capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    if r.stdout != "True 7\n":
        pytest.skip(f"the pid was taken by another process meanwhile ({r.stdout.strip()})")
    (g,) = _ghosts(read_profile(session))
    assert (g.exit_code, g.status_from, g.end_by) == (None, "", "last_activity")


def test_setid_program_is_not_seen(shim_lib: Path, tmp_path: Path):
    if os.geteuid() != 0:
        pytest.skip("needs root to make a set-user-ID program owned by another user")
    prog = tmp_path / "suid_true"
    shutil.copy("/bin/true", prog)
    os.chown(prog, 65534, 65534)
    prog.chmod(0o755 | stat.S_ISUID)
    if os.statvfs(tmp_path).f_flag & os.ST_NOSUID:
        pytest.skip(f"{tmp_path} is mounted nosuid")
    session = tmp_path / "p.vrift"
    subprocess.run(["sh", "-c", str(prog)], env=profiled_env(shim_lib, session), check=True, timeout=30)
    assert [(u.path, u.reasons) for u in read_profile(session).unseen] == [(str(prog), ("setid",))]


def test_posix_spawn_failure_is_counted_with_its_error(shim_lib: Path, tmp_path: Path):
    """Python's subprocess uses posix_spawn when it can (close_fds=False)."""
    session = tmp_path / "p.vrift"
    code = (
        "import subprocess\n"
        "subprocess.run(['/bin/true'], close_fds=False)\n"
        "try:\n    subprocess.run(['/nonexistent-vrift'], close_fds=False)\n"
        "except FileNotFoundError:\n    print('missing')\n"
    )
    r = subprocess.run(
        ["python3", "-c", code],
        env=profiled_env(shim_lib, session),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.stdout == "missing\n"
    ex = read_profile(session).command("python3").ops["exec"]
    assert ex.calls == 2 and ex.errors == 1 and ex.enoent == 1
