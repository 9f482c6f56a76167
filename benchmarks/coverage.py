"""Coverage audit: how many of a workload's file syscalls vrift sees.

    .venv/bin/python benchmarks/coverage.py [--files 40] [--git-files 5000] [--no-network]

Runs each workload twice, once under `strace -f -c` (no shim) and once
under the shim with a fresh session, and compares per syscall class.
A class's coverage is min(vrift calls, strace syscalls): a wrapper call
that makes several syscalls (opendir = openat + fstat) is not allowed to
cover more than it saw. getdents64 is covered by counted readdir calls
(each getdents64 happens inside one). realpath and dlopen are library
calls: their syscalls count through the readlink/access steps the shim
makes visible, or not at all (the loader's own work). strace also counts
its own first execve of the workload, which no shim sees.

With the network (npm's registry, PyPI), two more workloads: `npm install`
of a few packages into an empty project (the npm cache warmed first, so
both runs do the same work offline), and `pip wheel` of a real sdist with a
C extension (MarkupSafe; the sdist downloaded first).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vrift_profile import create_session, read_profile  # noqa: E402
from vrift_profile.launch import shim_environment  # noqa: E402
from workloads import cproject, gitrepo  # noqa: E402

# syscall class -> (strace syscall names, vrift operations)
CLASSES = {
    "stat": (
        {"newfstatat", "fstat", "stat", "lstat", "statx"},
        ("stat", "fstat", "lstat", "statx", "opendir_fstat"),
    ),
    "open": ({"openat", "open", "creat", "openat2"}, ("open", "opendir")),
    "close": ({"close"}, ("close", "closedir")),
    "read": ({"read", "pread64", "readv", "preadv", "preadv2"}, ("read",)),
    "write": ({"write", "pwrite64", "writev", "pwritev", "pwritev2"}, ("write",)),
    "access": ({"access", "faccessat", "faccessat2"}, ("access",)),
    "readlink": ({"readlink", "readlinkat"}, ("readlink",)),
    "getdents": ({"getdents64", "getdents"}, ("readdir",)),
    "mmap": ({"mmap", "munmap"}, ("mmap", "munmap")),
    "exec": ({"execve", "execveat"}, ("exec",)),
}
# class -> the loader's derived calls (Snapshot.loader) that may cover it
LOADER_DERIVED = {
    "stat": ("fstat",),
    "open": ("open",),
    "close": ("close",),
    "read": ("read",),
    "mmap": ("mmap",),
}
TRACE = ",".join(sorted(set().union(*(s for s, _ in CLASSES.values()))))
ROW = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$")


def strace_counts(cmd: list[str], cwd: Path, env: dict[str, str]) -> dict[str, int]:
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as out:
        subprocess.run(
            ["strace", "-f", "-c", "-e", f"trace={TRACE}", "-o", out.name, *cmd],
            cwd=cwd,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        counts = {}
        for line in out.read().splitlines():
            m = ROW.match(line)
            if m and m.group(2) != "total":
                counts[m.group(2)] = int(m.group(1))
        return counts


def vrift_counts(
    cmd: list[str], cwd: Path, env: dict[str, str], session: Path, loader: bool = False
) -> dict[str, int]:
    create_session(session)
    subprocess.run(
        cmd,
        cwd=cwd,
        env=shim_environment(session, env, loader=loader),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    snap = read_profile(session)
    counts = {op: s.calls for op, s in snap.ops.items()}
    # the loader's calls, derived from the objects it mapped (format 1.4): kept apart
    for op, n in snap.loader().get("derived_syscalls", {}).items():
        counts[f"loader_{op}"] = n
    return counts


def audit(
    name: str, cmd: list[str], cwd: Path, env: dict[str, str], prepare, tmp: Path
) -> tuple[float, float, float]:
    prepare()
    st = strace_counts(cmd, cwd, env)
    prepare()
    vr = vrift_counts(cmd, cwd, env, tmp / f"{name}.vrift")
    prepare()
    va = vrift_counts(cmd, cwd, env, tmp / f"{name}-loader.vrift", loader=True)
    print(f"\n{name}: {' '.join(cmd)}")
    head = f"  {'class':10} {'strace':>9} {'vrift':>9} {'covered':>8} {'+loader':>8} {'covered':>8}"
    print(f"{head} {'--loader':>9} {'covered':>8}")
    total = covered = with_loader = with_audit = 0
    for cls, (sysnames, ops) in CLASSES.items():
        s = sum(st.get(n, 0) for n in sysnames)
        v = sum(vr.get(o, 0) for o in ops)
        ld = sum(vr.get(f"loader_{o}", 0) for o in LOADER_DERIVED.get(cls, ()))
        # the same run with the loader audited (a run of its own: counts may differ a little)
        a = sum(va.get(o, 0) for o in ops)
        a += sum(va.get(f"loader_{o}", 0) for o in LOADER_DERIVED.get(cls, ()))
        c, cl, ca = min(s, v), min(s, v + ld), min(s, a)
        total += s
        covered += c
        with_loader += cl
        with_audit += ca
        if s or v:
            pct, pctl, pcta = (100 * c / s, 100 * cl / s, 100 * ca / s) if s else (100.0,) * 3
            print(f"  {cls:10} {s:>9,} {v:>9,} {pct:>7.1f}% {ld:>8,} {pctl:>7.1f}% {a:>9,} {pcta:>7.1f}%")
    extra = {o: vr[o] for o in ("realpath", "dlopen") if vr.get(o)}
    pct = 100 * covered / total if total else 100.0
    pctl = 100 * with_loader / total if total else 100.0
    pcta = 100 * with_audit / total if total else 100.0
    print(f"  {'total':10} {total:>9,} {covered:>9,} {pct:>7.1f}% {'':>8} {pctl:>7.1f}%", end="")
    print(f" {'':>9} {pcta:>7.1f}%")
    print(f"  (library calls also counted: {extra}; +loader: derived from the objects the loader mapped;")
    print("   --loader: a run with the loader audited, its failed search probes counted)")
    return pct, pctl, pcta


NPM_PACKAGES = ["typescript@5.4.5", "lodash@4.17.21", "chalk@4.1.2"]
SDIST = "markupsafe==2.1.5"


def network_workloads(tmp: Path, env: dict[str, str], results: dict[str, tuple[float, float, float]]) -> None:
    if shutil.which("npm"):
        proj = tmp / "npmproj"
        proj.mkdir()
        (proj / "package.json").write_text('{"name": "cov", "version": "1.0.0", "private": true}\n')
        install = ["npm", "install", "--no-audit", "--no-fund", "--prefer-offline", *NPM_PACKAGES]
        nenv = dict(env, npm_config_cache=str(tmp / "npm-cache"), npm_config_update_notifier="false")
        subprocess.run(install, cwd=proj, env=nenv, check=True, capture_output=True)  # warm the cache

        def fresh() -> None:
            shutil.rmtree(proj / "node_modules", ignore_errors=True)
            (proj / "package-lock.json").unlink(missing_ok=True)
            (proj / "package.json").write_text('{"name": "cov", "version": "1.0.0", "private": true}\n')

        results["npm install"] = audit("npm", install, proj, nenv, fresh, tmp)
    sd = tmp / "sdist"
    venv = tmp / "wheel-venv"  # its own build tools, so the project's venv stays as it is
    py = venv / "bin" / "python"
    ready = (
        subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True).returncode == 0
        and subprocess.run(
            [py, "-m", "pip", "install", "-q", "setuptools", "wheel"], capture_output=True
        ).returncode
        == 0
        and subprocess.run(
            [py, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", "-d", str(sd), SDIST],
            capture_output=True,
        ).returncode
        == 0
    )
    if ready:
        sdist = next(sd.iterdir())
        wheel = [str(py), "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        wheel += ["-w", str(tmp / "wheels"), str(sdist)]

        def no_wheel() -> None:
            shutil.rmtree(tmp / "wheels", ignore_errors=True)

        results["pip wheel (sdist)"] = audit("wheel", wheel, tmp, env, no_wheel, tmp)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=40, help="C files in the make -j2 build")
    ap.add_argument("--git-files", type=int, default=5000, help="files in the git status repo")
    ap.add_argument("--no-network", action="store_true", help="skip the npm and pip workloads")
    a = ap.parse_args()
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        proj = cproject.generate(tmp / "cproject", a.files)
        clean = lambda: subprocess.run(["make", "-s", "clean"], cwd=proj, check=True)  # noqa: E731
        results = {"C build (make -j2)": audit("cbuild", ["make", "-s", "-j2"], proj, env, clean, tmp)}
        storm = "import " + ", ".join(
            "json email.parser http.client sqlite3 unittest xml.dom.minidom decimal argparse "
            "logging.handlers csv zipfile tarfile asyncio multiprocessing concurrent.futures "
            "urllib.request ssl pathlib".split()
        )
        results["python import storm"] = audit(
            "imports", [sys.executable, "-c", storm], tmp, env, lambda: None, tmp
        )
        # The same kind of storm without C extension modules: what the loader's
        # dlopen work (invisible to any LD_PRELOAD shim) costs in coverage.
        pure = "import " + ", ".join(
            "json email.parser http.client xml.dom.minidom argparse logging.handlers csv "
            "unittest tarfile zipfile configparser pydoc difflib textwrap string glob "
            "shutil tempfile optparse gettext calendar".split()
        )
        results["python pure-py storm"] = audit(
            "pure", [sys.executable, "-S", "-c", pure], tmp, env, lambda: None, tmp
        )
        repo = gitrepo.generate(tmp / "repo", a.git_files)
        genv = dict(env, **gitrepo.GIT_ENV, HOME=str(tmp))
        status = ["git", "status", "--porcelain"]
        subprocess.run(status, cwd=repo, env=genv, check=True, capture_output=True)  # settle the index
        results["git status"] = audit("git", status, repo, genv, lambda: None, tmp)
        if not a.no_network:
            network_workloads(tmp, env, results)
    print(
        "\ncoverage (vrift / strace file syscalls, per-class capped; then with the loader's derived calls;"
        "\nthen in a run with --loader, the loader's failed probes counted):"
    )
    for k, (v, vl, va) in results.items():
        print(f"  {k:22} {v:5.1f}%   {vl:5.1f}%   {va:5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
