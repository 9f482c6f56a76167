"""Session files you can see and clean up; --version; a run that records nothing says so."""

from __future__ import annotations

import os
import time
from pathlib import Path

from helpers import vrift
from vrift_profile.layout import c


def test_ls_and_clean_never_touch_a_running_session_or_a_foreign_file(rundir: Path):
    stopped = Path(vrift("profile", "start").stdout.splitlines()[0].rsplit(": ", 1)[1])
    vrift("profile", "stop")
    fresh = Path(vrift("profile", "start").stdout.splitlines()[0].rsplit(": ", 1)[1])
    assert fresh != stopped  # a stopped session is not resumed unless --resume
    (rundir / "notes.vrift").write_text("not a session\n")
    listing = vrift("profile", "ls").stdout
    assert f"{stopped.name}  stopped" in listing and f"{fresh.name}  running" in listing
    assert "notes.vrift  unreadable" in listing and "(current)" in listing and "3 files" in listing
    # young sessions are kept by default (7 days)
    assert "deleted 0 stopped sessions" in vrift("profile", "clean").stdout and stopped.exists()
    assert "would delete 1 stopped session " in vrift("profile", "clean", "--all", "--dry-run").stdout
    assert stopped.exists()
    out = vrift("profile", "clean", "--all").stdout
    assert out.startswith("vrift: deleted 1 stopped session (") and not stopped.exists()
    assert fresh.exists() and (rundir / "notes.vrift").exists()  # running and foreign files stay
    bad = vrift("profile", "clean", "--older-than", "soon", check=False)
    assert bad.returncode == 2 and "not an age: 'soon'" in bad.stderr and len(bad.stderr.splitlines()) == 1


def test_clean_by_age(rundir: Path):
    path = Path(vrift("profile", "start").stdout.splitlines()[0].rsplit(": ", 1)[1])
    vrift("profile", "stop")
    time.sleep(1.2)
    assert "deleted 0" in vrift("profile", "clean", "--older-than", "1h").stdout and path.exists()
    assert "deleted 1" in vrift("profile", "clean", "--older-than", "1s").stdout and not path.exists()


def test_version_names_the_packages_and_the_format():
    out = vrift("--version").stdout
    fmt = f"profile format {c('VRIFT_VERSION_MAJOR')}.{c('VRIFT_VERSION_MINOR')}"
    assert out.startswith("vrift: vrift-cli ") and "vrift-shim " in out and out.rstrip().endswith(fmt)


def test_run_without_a_session_says_nothing_is_recorded(rundir: Path):
    r = vrift("run", "--", "true")
    assert r.returncode == 0 and r.stderr == (
        "vrift: no profile session: nothing is recorded (start one with `vrift profile start`)\n"
    )
    vrift("profile", "start")
    assert vrift("run", "--", "true").stderr == ""


def test_show_fits_the_terminal(cbin: Path, rundir: Path):
    vrift("profile", "start", "--hot-paths")
    vrift("run", "--", str(cbin / "stat_loop"), "/etc/hostname", "300", "/nonexistent/x", "7")
    for cols in (120, 80, 60):
        env = dict(os.environ, COLUMNS=str(cols))
        out = vrift("profile", "show", "--hot", "8", env=env).stdout
        assert max(len(line) for line in out.splitlines()) <= cols, cols
        assert "stat" in out and "300" in out  # what matters stays: names and counts
    narrow = vrift("profile", "show", env=dict(os.environ, COLUMNS="60")).stdout
    assert " max " not in narrow and " p50 " in narrow  # columns dropped, not wrapped


def test_messages_name_the_verb_and_arguments_are_checked_first():
    for args, expected in (
        (("profile", "bogus"), "vrift: unknown verb 'bogus' (one of: start, stop,"),
        (("bogus",), "vrift: unknown verb 'bogus' (one of: run, profile,"),
        (("profile", "run"), "vrift: no command given (usage: vrift profile run -- CMD [ARGS...])"),
        (("profile", "show", "--hot", "-1"), "vrift: argument --hot: must be 0 or more, not -1"),
        # checked before the (missing) files are read: a typo costs no diff
        (
            ("profile", "diff", "no-a.json", "no-b.json", "--fail-if", "bogus>5%"),
            "vrift: bad --fail-if metric 'bogus'",
        ),
    ):
        r = vrift(*args, check=False)
        assert r.returncode != 0 and r.stderr.startswith(expected) and len(r.stderr.splitlines()) == 1, (
            r.stderr
        )
        assert "profile_verb" not in r.stderr


def test_export_help_lists_every_formats_options():
    out = vrift("profile", "export", "--help").stdout
    for option in ("--endpoint", "--console", "--service-name", "--compact"):
        assert option in out


def test_shell_completion(tmp_path: Path):
    for shell in ("bash", "zsh", "fish", "tcsh"):
        assert "vrift" in vrift("completion", shell).stdout
    out = tmp_path / "words"
    env = dict(
        os.environ,
        _ARGCOMPLETE="1",
        COMP_LINE="vrift profile cl",
        COMP_POINT="16",
        _ARGCOMPLETE_IFS=" ",
        _ARGCOMPLETE_STDOUT_FILENAME=str(out),
    )
    vrift(env=env)
    assert out.read_text().split() == ["clean"]
