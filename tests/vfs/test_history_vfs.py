"""History keeps the VFS figures `show` and the export give: handled, passthrough, time saved, dedup."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from helpers import vrift


def test_history_and_badge_carry_the_sessions_vfs_figures(store: Path, tree: Path, tmp_path: Path):
    vrift("ingest", str(tree), "--name", "deps")
    dest = tmp_path / "proj"
    vrift("mount", "deps", str(dest))
    walk = (
        "import os\n"
        "for _ in range(20):\n"
        f"    for d, _, fs in os.walk({str(dest)!r}):\n"
        "        [os.lstat(os.path.join(d, f)) for f in fs]"
    )
    r = vrift(
        "profile",
        "run",
        "--",
        sys.executable,
        "-m",
        "vrift_cli",
        "run",
        "--vfs",
        str(dest),
        "--",
        sys.executable,
        "-c",
        walk,
    )
    assert "vrift: history" not in r.stderr
    (run,) = json.loads(vrift("profile", "history", "--json").stdout)["runs"]
    vfs = json.loads(vrift("profile", "export", "--format", "json", "--path", run["session"]).stdout)["vfs"]
    assert vfs["vfs_handled"] > 0 and vfs["time_saved_ns"] is not None and vfs["dedup_savings"] > 0
    assert run["vfs_handled"] == vfs["vfs_handled"] and run["vfs_passthrough"] == vfs["vfs_passthrough"]
    assert run["time_saved_ns"] == vfs["time_saved_ns"]
    assert run["dedup_saved_bytes"] == vfs["dedup_savings"] and run["original_bytes"] == vfs["original_size"]
    # the summary printed at the end said the same
    pct = 100 * vfs["vfs_handled"] / (vfs["vfs_handled"] + vfs["vfs_passthrough"])
    assert f"VFS handled {pct:.1f}%" in r.stderr
    svg = vrift("profile", "badge").stdout
    share = 100 * vfs["dedup_savings"] / vfs["original_size"]
    assert f"dedup: {share:.1f}%" in svg and "saved: ~" in svg
