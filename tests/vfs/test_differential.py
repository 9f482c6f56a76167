"""A projected tree served by the shim looks exactly like the tree that was
ingested: ls -lR, find -printf of every field, stat of every path, Python
imports and git status give byte-identical output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git_env, vrift_cmd
from helpers import vrift

# Every field but the access time: reading the original tree (the plain
# run) moves its atimes, while a projection serves them as ingested.
FIND_FIELDS = "%p %i %D %n %m %M %U %G %u %g %s %b %k %T@ %C@ %y %Y %l\\n"
STAT_FORMAT = "%n %s %b %B %f %u %g %D %i %h %W %Y %Z %a %A %F %N"


@pytest.fixture
def projected(store: Path, tree: Path, tmp_path: Path):
    vrift("ingest", str(tree), "--name", "t")
    dest = tmp_path / "proj"
    vrift("mount", "t", str(dest))
    return tree, dest, tmp_path / "session.vrift"


def both(cmd: list[str], tree: Path, dest: Path, session: Path, env=None, cwd_rel=".") -> tuple[str, str]:
    env = dict(os.environ if env is None else env)
    plain = subprocess.run(cmd, cwd=tree / cwd_rel, env=env, capture_output=True, text=True)
    served = subprocess.run(
        vrift_cmd("run", "--profile", str(session), "--vfs", str(dest), "--", *cmd),
        cwd=dest / cwd_rel,
        env=env,
        capture_output=True,
        text=True,
    )
    assert (served.returncode, served.stderr) == (plain.returncode, plain.stderr)
    return plain.stdout, served.stdout


def counters(session: Path) -> dict:
    return json.loads(vrift("profile", "export", "--path", str(session)).stdout)


def test_ls_find_stat_identical(projected):
    tree, dest, session = projected
    a, b = both(["ls", "-lR", "--time-style=full-iso"], tree, dest, session)
    assert a == b and "decoder_dup.py" in a
    # readdir order is the file system's own (it differs between any two copies): sort
    a, b = both(["sh", "-c", f"find . -printf '{FIND_FIELDS}' | LC_ALL=C sort"], tree, dest, session)
    assert a == b and len(a.splitlines()) > 100
    a, b = both(
        ["sh", "-c", f"find . | LC_ALL=C sort | xargs -d '\\n' stat -c '{STAT_FORMAT}'"], tree, dest, session
    )
    assert a == b
    data = counters(session)
    assert data["vfs"]["vfs_handled"] > 500
    assert data["cache"]["manifest_hits"] > 500


def test_python_imports_from_the_tree(projected):
    tree, dest, session = projected
    code = (
        "import sys; sys.path.insert(0, '.'); import json, email.parser, html.parser, http.client; "
        "import os; print(os.path.relpath(json.__file__), json.dumps({'k': [1, 2]}), "
        "email.parser.Parser().parsestr('A: b\\n\\nbody')['A'], html.escape('<x>'))"
    )
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    a, b = both([sys.executable, "-c", code], tree, dest, session, env=env)
    assert a == b and '{"k": [1, 2]}' in a
    data = counters(session)
    assert data["cache"]["bloom_rejects"] > 0  # the import system probes many missing names
    assert data["cache"]["cas_hits"] > 10  # modules read from their blobs


def test_git_status_identical(projected, tmp_path):
    tree, dest, session = projected
    a, b = both(["git", "status", "--porcelain"], tree, dest, session, env=git_env(tmp_path), cwd_rel="repo")
    assert a == b == " M f3.txt\n?? untracked.txt\n"
    assert counters(session)["vfs"]["vfs_handled"] > 30


def test_plain_programs_still_see_the_right_contents(projected):
    tree, dest, _ = projected
    for rel in ("json/decoder.py", "json/decoder_dup.py", "repo/f7.txt", "script.sh"):
        assert (dest / rel).read_bytes() == (tree / rel).read_bytes()
    assert os.readlink(dest / "jsonlink") == "json"


NODE_WALK = """
const fs = require('fs'), path = require('path');
function walk(d) {
  for (const e of fs.readdirSync(d).sort()) {
    const p = path.join(d, e), st = fs.lstatSync(p);
    console.log(p, st.size, st.mode, st.nlink, st.ino, st.mtimeMs, st.uid, st.gid);
    if (st.isDirectory()) walk(p);
  }
}
walk('.');
"""


@pytest.mark.skipif(not shutil.which("node"), reason="needs node (scripts/test installs nodejs)")
def test_node_stats_are_served_through_syscall(projected):
    """libuv (Node.js) stats through glibc's syscall(SYS_statx): the shim
    dispatches those to the VFS like a named statx."""
    tree, dest, session = projected
    plain, served = both(["node", "-e", NODE_WALK], tree, dest, session)
    assert served == plain and plain.count("\n") > 100
    snap = counters(session)
    assert snap["syscalls"]["statx"]["calls"] > 100
    assert snap["vfs"]["served_calls"] >= snap["syscalls"]["statx"]["calls"] * 0.9
