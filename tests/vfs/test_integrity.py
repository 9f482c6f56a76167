"""The store is immutable, whatever route a change takes. One manifest is
mounted twice (m1, m2); a command under the shim on m1 changes a file
through one route, then: every blob still hashes to its name with its mode,
owner, mtime and xattrs unchanged; m2 still shows the ingested tree (bytes
plainly, metadata under the shim); the change is visible where it was made,
read back both under the shim and without it, in a file that is not a blob.
Also: a projection stays pinned to the manifest version it was mounted with,
a renamed directory's old names are gone, and `vrift verify` finds a blob
changed behind the shim's back."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import blake3
import pytest
from conftest import vrift_cmd
from helpers import vrift

A = b"alpha\n"
AX = b"alpha\nX\n"
RUN_SH = b"#!/bin/sh\necho ran\n"
STAT_FORMAT = "%n %s %b %B %f %u %g %D %i %h %W %Y %Z %a %A %F %N"  # all but atime
UID, GID = os.getuid(), os.getgid()
JAN_2020 = int(time.mktime((2020, 1, 1, 0, 0, 0, 0, 0, -1)))


def make_tree(root: Path) -> None:
    (root / "pkg" / "inner").mkdir(parents=True)
    (root / "pkg" / "a.txt").write_bytes(A)
    (root / "pkg" / "b.txt").write_text("beta\n")
    (root / "pkg" / "inner" / "c.txt").write_text("gamma\n")
    for name, target in (("link", "pkg/a.txt"), ("dirlink", "pkg"), ("innerlink", "pkg/inner")):
        os.symlink(target, root / name)
    (root / "run.sh").write_bytes(RUN_SH)
    os.chmod(root / "run.sh", 0o755)


@pytest.fixture
def site(store: Path, tmp_path: Path) -> Path:
    """tmp_path holding src (ingested as 'm'), m1, m2, an empty outside/."""
    (tmp_path / "src").mkdir()
    make_tree(tmp_path / "src")
    vrift("ingest", str(tmp_path / "src"), "--name", "m")
    for m in ("m1", "m2"):
        vrift("mount", "m", str(tmp_path / m))
    (tmp_path / "outside").mkdir()
    return tmp_path


def run(cmd: list[str], cwd: Path, vfs: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    if vfs is not None:
        cmd = vrift_cmd("run", "--vfs", str(vfs), "--", *cmd)
    return subprocess.run(cmd, cwd=cwd, capture_output=True)


def sh(script: str) -> list[str]:
    return ["sh", "-c", script]


def py(code: str) -> list[str]:
    return [sys.executable, "-c", "import os\n" + code]


def blobs(store: Path) -> dict[str, Path]:
    """hash (with the ".x" of an executable's blob) -> blob."""
    return {b.parent.name + b.name: b for b in sorted((store / "blobs").glob("*/*"))}


def blob_state(store: Path) -> dict[str, tuple]:
    out = {}
    for name, b in blobs(store).items():
        st = b.stat()
        digest = blake3.blake3(b.read_bytes()).hexdigest()
        out[name] = (digest, oct(st.st_mode), st.st_uid, st.st_gid, st.st_mtime_ns, sorted(os.listxattr(b)))
    return out


def listing(root: Path, vfs: Path | None) -> str:
    """stat of every path (sorted: readdir order is each file system's own)."""
    cmd = sh("find . | LC_ALL=C sort | xargs -d '\\n' stat -c '%n %a %s %Y %u %g %F %N'")
    r = run(cmd, root, vfs)
    assert (r.returncode, r.stderr) == (0, b"")
    return r.stdout.decode()


def assert_store_and_m2_intact(site: Path, before: dict[str, tuple]) -> None:
    after = blob_state(site / "store")
    assert {n: s[0] for n, s in after.items()} == {
        n: n.removesuffix(".x") for n in after
    }  # content-addressed
    assert after == before
    src, m2 = site / "src", site / "m2"
    for dirpath, dirs, files in os.walk(src):
        for f in dirs + files:
            p = Path(dirpath, f)
            q = m2 / p.relative_to(src)
            if p.is_symlink():
                assert os.readlink(q) == os.readlink(p)
            elif p.is_file():
                assert q.read_bytes() == p.read_bytes(), q
    assert listing(m2, vfs=m2) == listing(src, vfs=None)


@dataclass
class Route:
    cmd: list[str]
    paths: tuple[str, ...] = ("m1/pkg/a.txt",)  # where the change shows (relative to site)
    content: bytes = AX
    checks: list[tuple[list[str], bytes]] = field(default_factory=list)  # (argv, stdout)


def stat_is(fmt: str, value: object, path: str = "m1/pkg/a.txt") -> list[tuple[list[str], bytes]]:
    return [(["stat", "-c", fmt, path], f"{value}\n".encode())]


APPEND = "os.O_WRONLY | os.O_APPEND"


def write_x(opener: str, setup: str = "") -> list[str]:
    """python: setup, then write X\\n to the fd opener returns."""
    return py(f"{setup}\nos.write({opener}, b'X\\n')")


def dirfd(path: str, setup: str = "") -> list[str]:
    return write_x(f"os.open('a.txt', {APPEND}, dir_fd=os.open('{path}', os.O_RDONLY))", setup)


ROUTES = {
    "symlink-to-file": Route(sh("echo X >> m1/link")),
    "symlinked-dir": Route(sh("echo X >> m1/dirlink/a.txt")),
    "renamed-parent": Route(sh("mv m1/pkg m1/pkg2 && echo X >> m1/pkg2/a.txt"), ("m1/pkg2/a.txt",)),
    "moved-outside": Route(
        sh("mv m1/pkg/a.txt outside/a.txt && echo X >> outside/a.txt"), ("outside/a.txt",)
    ),
    "dirfd-of-root": Route(write_x(f"os.open('pkg/a.txt', {APPEND}, dir_fd=os.open('m1/', os.O_RDONLY))")),
    "dirfd-of-dirty-dir": Route(dirfd("m1/pkg", setup="open('m1/pkg/new.txt', 'w').write('new\\n')")),
    "o-trunc": Route(write_x("os.open('m1/pkg/a.txt', os.O_WRONLY | os.O_TRUNC)"), content=b"X\n"),
    "truncate": Route(py("os.truncate('m1/pkg/a.txt', 1)"), content=b"a"),
    "chmod-through-link": Route(sh("chmod 600 m1/link"), content=A, checks=stat_is("%a", "600")),
    "chown-through-link": Route(
        py(f"os.chown('m1/link', {UID}, {GID})"), content=A, checks=stat_is("%u %g", f"{UID} {GID}")
    ),
    "touch-through-link": Route(sh("touch -d 2020-01-01 m1/link"), content=A, checks=stat_is("%Y", JAN_2020)),
    "hard-link": Route(
        py("os.link('m1/pkg/a.txt', 'm1/pkg/hard.txt')\nopen('m1/pkg/hard.txt', 'a').write('X\\n')"),
        ("m1/pkg/a.txt", "m1/pkg/hard.txt"),
    ),
    "executable-r+": Route(
        py("f = open('m1/run.sh', 'r+')\nf.seek(0, 2)\nf.write('echo X\\n')"),
        ("m1/run.sh",),
        RUN_SH + b"echo X\n",
        [(["m1/run.sh"], b"ran\nX\n")] + stat_is("%a", "755", "m1/run.sh"),
    ),
    # Routes found while hunting (not in the first list).
    "hunt-cp-onto": Route(sh("cp src/pkg/b.txt m1/pkg/a.txt"), content=b"beta\n"),
    "hunt-sed-i": Route(
        sh("sed -i s/alpha/omega/ m1/pkg/a.txt"), content=b"omega\n", checks=stat_is("%a", "644")
    ),
    "hunt-install": Route(sh("install -m 644 src/pkg/b.txt m1/pkg/a.txt"), content=b"beta\n"),
    "hunt-ln-f-then-write": Route(
        sh("ln -f m1/pkg/b.txt m1/pkg/a.txt && echo X >> m1/pkg/a.txt"),
        ("m1/pkg/a.txt", "m1/pkg/b.txt"),
        b"beta\nX\n",
    ),
    "hunt-renamed-file": Route(
        sh("mv m1/pkg/a.txt m1/pkg/z.txt && echo X >> m1/pkg/z.txt"), ("m1/pkg/z.txt",)
    ),
    "hunt-link-outside": Route(
        sh("ln m1/pkg/a.txt outside/h && echo X >> outside/h"), ("m1/pkg/a.txt", "outside/h")
    ),
    "hunt-dotdot": Route(write_x(f"os.open('m1/pkg/../pkg/inner/../a.txt', {APPEND})")),
    "hunt-dotdot-after-symlink": Route(sh("echo X >> m1/innerlink/../a.txt")),  # the kernel: m1/pkg/a.txt
    "hunt-double-slash": Route(write_x(f"os.open('m1//pkg//a.txt', {APPEND})")),
    "hunt-cwd-via-symlink": Route(sh("cd m1/dirlink && echo X >> a.txt")),
    "hunt-fchdir": Route(
        write_x(f"os.open('a.txt', {APPEND})", setup="os.fchdir(os.open('m1/pkg', os.O_RDONLY))")
    ),
    "hunt-dirfd-via-symlink": Route(dirfd("m1/dirlink")),
    "hunt-symlink-from-outside": Route(sh("ln -s m1 alias && echo X >> alias/pkg/a.txt")),
    "hunt-proc-self-cwd": Route(sh("echo X >> /proc/self/cwd/m1/pkg/a.txt")),
    "hunt-reopen-read-fd": Route(
        write_x(
            f"os.open(f'/proc/self/fd/{{fd}}', {APPEND})", setup="fd = os.open('m1/pkg/a.txt', os.O_RDONLY)"
        )
    ),
    "reopen-read-fd-by-pid": Route(
        write_x(
            f"os.open(f'/proc/{{os.getpid()}}/fd/{{fd}}', {APPEND})",
            setup="fd = os.open('m1/pkg/a.txt', os.O_RDONLY)",
        )
    ),
    "flock-then-rewrite": Route(
        py(
            "import fcntl\nf = open('m1/pkg/a.txt')\nfcntl.flock(f, fcntl.LOCK_EX)\n"
            "open('m1/pkg/a.txt', 'a').write('X\\n')\n"
            "assert os.fstat(f.fileno()).st_ino == os.stat('m1/pkg/a.txt').st_ino"
        ),
        content=AX,
    ),
    "hunt-fchmod-read-fd": Route(
        py("os.fchmod(os.open('m1/link', os.O_RDONLY), 0o600)"), content=A, checks=stat_is("%a", "600")
    ),
    "hunt-futimens-read-fd": Route(
        py("os.utime(os.open('m1/pkg/a.txt', os.O_RDONLY), (946684800, 946684800))"),
        content=A,
        checks=stat_is("%Y", 946684800),
    ),
    "hunt-setxattr": Route(
        py("os.setxattr('m1/link', 'user.k', b'v')"),
        content=A,
        checks=[(py("print(os.getxattr('m1/pkg/a.txt', 'user.k'))"), b"b'v'\n")],
    ),
    "hunt-posix-spawn-open": Route(  # glibc opens spawn file actions internally, in the child
        py(
            "spawn = os.posix_spawn('/bin/echo', ['echo', 'X'], os.environ, file_actions=[\n"
            "    (os.POSIX_SPAWN_OPEN, 1, 'm1/pkg/a.txt', os.O_WRONLY | os.O_APPEND, 0)])\n"
            "assert os.waitpid(spawn, 0)[1] == 0"
        )
    ),
    "hunt-futimes-read-fd": Route(
        py(
            "import ctypes\ntimevals = (ctypes.c_long * 4)(946684800, 0, 946684800, 0)\n"
            "assert ctypes.CDLL(None).futimes(os.open('m1/pkg/a.txt', os.O_RDONLY), timevals) == 0"
        ),
        content=A,
        checks=stat_is("%Y", 946684800),
    ),
    # libuv (Node.js) and others call glibc's syscall() directly (issue #14)
    "syscall-openat-append": Route(
        write_x(
            "libc.syscall(257, -100, b'm1/link', os.O_WRONLY | os.O_APPEND, 0)",  # SYS_openat, AT_FDCWD
            setup="import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)",
        )
    ),
    "syscall-truncate-via-dirlink": Route(
        py(
            "import ctypes\nassert ctypes.CDLL(None).syscall(76, b'm1/dirlink/a.txt', 1) == 0"
        ),  # SYS_truncate
        content=b"a",
    ),
    "syscall-fchmodat-through-link": Route(
        py("import ctypes\nassert ctypes.CDLL(None).syscall(268, -100, b'm1/link', 0o600) == 0"),  # fchmodat
        content=A,
        checks=stat_is("%a", "600"),
    ),
    "hunt-mmap-write": Route(
        py(
            "import mmap\nf = open('m1/pkg/a.txt', 'r+b')\n"
            "m = mmap.mmap(f.fileno(), 0)\nm[:1] = b'A'\nm.flush()"
        ),
        content=b"Alpha\n",
    ),
}


@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
def test_a_change_through_any_route_never_reaches_the_store(site: Path, route: Route):
    before = blob_state(site / "store")
    assert len(before) == 4  # a, b, c and run.sh
    r = run(route.cmd, site, vfs=site / "m1")
    assert (r.returncode, r.stderr.decode()) == (0, ""), r.stderr.decode()
    assert_store_and_m2_intact(site, before)
    blob_inodes = {b.stat().st_ino for b in blobs(site / "store").values()}
    checks = [(["cat", p], route.content) for p in route.paths] + route.checks
    for argv, expected in checks:
        for vfs in (site / "m1", None):  # under the shim, then without it
            got = run(argv, site, vfs=vfs)
            assert (got.returncode, got.stdout, got.stderr) == (0, expected, b""), (argv, vfs)
    for p in route.paths:
        assert os.stat(site / p).st_ino not in blob_inodes, f"{p} is still a hard link to a blob"


def test_reingest_while_mounted_keeps_the_projection_pinned(site: Path):
    src, m1 = site / "src", site / "m1"
    views = [
        ["ls", "-lR", "--time-style=full-iso", "."],
        sh(f"find . | LC_ALL=C sort | xargs -d '\\n' stat -c '{STAT_FORMAT}'"),
        sh("find . -type f | LC_ALL=C sort | xargs -d '\\n' cat"),
    ]

    def show(root: Path, vfs: Path | None) -> list[str]:
        outs = [run(v, root, vfs) for v in views]
        assert [(o.returncode, o.stderr) for o in outs] == [(0, b"")] * len(views)
        return [o.stdout.decode() for o in outs]

    old = show(src, None)
    (src / "pkg" / "a.txt").write_text("alpha, second version\n")  # same inode, new size and time
    os.utime(src / "pkg" / "a.txt", (1_000_000_000, 1_000_000_000))
    (src / "pkg" / "b.txt").unlink()
    (src / "pkg" / "d.txt").write_text("delta\n")
    os.chmod(src / "run.sh", 0o700)
    os.unlink(src / "link")
    os.symlink("pkg/inner/c.txt", src / "link")
    vrift("ingest", str(src), "--name", "m")
    new = show(src, None)
    assert all(o != n for o, n in zip(old, new, strict=True))
    assert show(m1, m1) == old  # the live projection serves exactly the tree it was mounted from
    vrift("mount", "m", str(site / "m3"))
    assert show(site / "m3", site / "m3") == new


RENAMED = """
import os, sys
if sys.argv[1] == "rename":
    os.rename("m1/pkg", "m1/pkg2")
for call in (os.stat, os.lstat, open, os.listdir):
    for path in ("m1/pkg", "m1/pkg/a.txt", "m1/pkg/inner/c.txt", "m1/link", "m1/dirlink/a.txt"):
        try:
            call(path)
            print(call.__name__, path, "ok")
        except OSError as e:
            print(call.__name__, path, type(e).__name__)
print(os.access("m1/pkg/a.txt", os.R_OK), os.path.exists("m1/pkg"), sorted(os.listdir("m1/pkg2")))
print(open("m1/pkg2/a.txt").read(), end="")
"""


def test_a_renamed_directory_is_gone_under_its_old_name(site: Path):
    expected = (
        "".join(
            f"{call} {path} {'ok' if (call, path) == ('lstat', 'm1/link') else 'FileNotFoundError'}\n"
            for call in ("stat", "lstat", "open", "listdir")
            for path in ("m1/pkg", "m1/pkg/a.txt", "m1/pkg/inner/c.txt", "m1/link", "m1/dirlink/a.txt")
        )
        + "False False ['a.txt', 'b.txt', 'inner']\nalpha\n"
    )
    for step in ("rename", "look"):  # rename and look in one process, then look in a new one
        r = run([sys.executable, "-c", RENAMED, step], site, vfs=site / "m1")
        assert (r.returncode, r.stdout.decode(), r.stderr.decode()) == (0, expected, ""), step
    plain = run([sys.executable, "-c", RENAMED, "look"], site)
    assert (plain.returncode, plain.stdout.decode()) == (0, expected)


def test_verify_finds_a_blob_written_behind_the_shims_back(site: Path):
    clean = vrift("verify", check=False)
    assert (clean.returncode, clean.stderr) == (0, ""), clean.stdout
    victim = blake3.blake3(A).hexdigest()
    target = site / "m2" / "pkg" / "a.txt"  # a hard link to the blob
    if os.geteuid() != 0:  # as root 0444 does not stop a write; as the owner, chmod first
        os.chmod(target, 0o644)
    with open(target, "r+b") as f:  # no shim: nothing breaks the link
        f.write(b"ALPHA")
    os.chmod(target, 0o444)
    assert stat.S_IMODE(blobs(site / "store")[victim].stat().st_mode) == 0o444
    r = vrift("verify", check=False)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert victim in out or f"{victim[:2]}/{victim[2:]}" in out, out
    assert not [n for n in blobs(site / "store") if n != victim and n[:16] in out], out
    assert "Traceback" not in out


def test_a_write_into_a_projection_this_run_does_not_serve(site: Path):
    """`run --vfs m1` writing into m2: the store is intact, and m2, served
    later, shows the change (marked in m2's own dirty table), never the
    stale ingested size."""
    before = blob_state(site / "store")
    r = run(sh("echo more >> m2/pkg/a.txt"), site, vfs=site / "m1")
    assert (r.returncode, r.stderr) == (0, b"")
    assert blob_state(site / "store") == before
    assert (site / "m1" / "pkg" / "a.txt").read_bytes() == A
    served = run(sh("stat -c '%s %a' m2/pkg/a.txt && cat m2/pkg/a.txt"), site, vfs=site / "m2")
    assert (served.returncode, served.stdout) == (0, b"11 644\nalpha\nmore\n")


def test_the_store_itself_is_read_only_through_the_shim(site: Path):
    before = blob_state(site / "store")
    blob = next(iter(blobs(site / "store").values()))
    r = run(py(f"os.open({str(blob)!r}, os.O_WRONLY | os.O_APPEND)"), site, vfs=site / "m1")
    assert r.returncode == 1 and b"Read-only file system" in r.stderr
    assert blob_state(site / "store") == before


def test_mount_refuses_the_store_and_other_projections(site: Path):
    for dest, why in (
        (site / "store" / "blobs" / "x", "inside the store"),
        (site / "m1" / "pkg" / "inner2", "overlaps the projection"),
        (site, "contains the store"),
        (site / "m3" / "sub", None),  # fine: then m3 itself overlaps it
        (site / "m3", "overlaps the projection"),
    ):
        r = vrift("mount", "m", str(dest), check=False)
        if why is None:
            assert r.returncode == 0, r.stderr
        else:
            assert r.returncode != 0 and why in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr
