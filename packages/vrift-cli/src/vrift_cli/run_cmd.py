"""`vrift run [--profile PATH] -- CMD...`: run a command under the shim.

The command replaces vrift (exec), so its exit status, signals and
stdio are exactly its own. It counts into --profile, else
$VRIFT_PROFILE_PATH, else the current session; with none of those it
runs with the shim loaded and profiling off.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from vrift_profile import UsageError, current_session, read_header
from vrift_profile.envflag import profile_flag
from vrift_profile.launch import shim_environment, warn_if_unseen
from vrift_profile.paths import ENV_ENABLE, ENV_PATH, check_parent_dir
from vrift_profile.writer import create_session


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a command under the shim (counting into the active session)")
    p.add_argument("--profile", metavar="PATH", help="session file to count into (created if missing)")
    p.add_argument(
        "--vfs", metavar="DEST", action="append", default=[], help="serve this projection (repeatable)"
    )
    loader_flag(p)
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    p.set_defaults(func=run)


def loader_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--loader",
        action="store_true",
        help="also count the dynamic loader's search probes and time (LD_AUDIT; costs per exec)",
    )


def command_of(args: argparse.Namespace, verb: str = "vrift run") -> list[str]:
    cmd = list(args.command)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise UsageError(f"no command given (usage: {verb} -- CMD [ARGS...])")
    return cmd


def session_for_run(explicit: str | None) -> Path | None:
    """The session a run counts into, created if it was named but missing."""
    if profile_flag(os.environ.get(ENV_ENABLE)) is False and not explicit:
        return None
    named = explicit or os.environ.get(ENV_PATH)
    if named:
        path = Path(named).absolute()
        if path.exists():
            read_header(path)  # refuse a foreign or damaged file up front
        else:
            check_parent_dir(path)
            create_session(path)
        return path
    cur = current_session()
    if cur is not None and cur.exists():
        read_header(cur)
        return cur
    return None


def launch_failed(cmd: list[str], e: OSError) -> int:
    """One line and the shell's exit status for a command that could not start."""
    if isinstance(e, FileNotFoundError):
        print(f"vrift: command not found: {cmd[0]}", file=sys.stderr)
        return 127
    print(f"vrift: cannot run {cmd[0]}: {e.strerror}", file=sys.stderr)
    return 126


def exec_command(cmd: list[str], env: dict[str, str]) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(cmd[0], cmd, env)
    except OSError as e:
        return launch_failed(cmd, e)
    return 0  # not reached


def run(args: argparse.Namespace) -> int:
    cmd = command_of(args)
    session = session_for_run(args.profile)
    env = shim_environment(session, loader=args.loader)  # first: a missing shim is the one thing to say
    if session is None and not args.vfs and shutil.which(cmd[0]):  # a missing command says so itself
        print(
            "vrift: no profile session: nothing is recorded (start one with `vrift profile start`)",
            file=sys.stderr,
        )
    elif session is not None and (unseen := warn_if_unseen(cmd)):
        print(unseen, file=sys.stderr)
    if args.vfs:
        from .vfs_cmd import vfs_environment

        env = vfs_environment(args.vfs, env)
    return exec_command(cmd, env)
