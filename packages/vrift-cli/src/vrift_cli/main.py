"""`vrift` entry point: argument parsing and one-line errors.

Each verb lives in its own module; this file only wires them. Every
error a user can cause ends here in one line on stderr and exit status 2:
a bad flag or value (argparse, UsageError), an unusable file or session
(ProfileError and its kinds), a store problem (VfsError), a shim that
is not built or is older than its sources (ShimNotBuiltError). A
traceback is a bug.
"""

from __future__ import annotations

import argparse
import os
import sys

from vrift_profile import ProfileError
from vrift_shim import ShimNotBuiltError

from . import profile_cmd, run_cmd, vfs_cmd
from .arguments import USAGE_EXIT, SubParser


def version_text() -> str:
    """The vrift packages installed, and the profile format the shim writes."""
    from importlib.metadata import PackageNotFoundError, version

    from vrift_profile.layout import c

    parts = []
    for dist in ("vrift-cli", "vrift-profile-core", "vrift-shim", "vrift-vfs"):
        try:
            parts.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist} (not installed)")
    fmt = f"{c('VRIFT_VERSION_MAJOR')}.{c('VRIFT_VERSION_MINOR')}"
    return f"vrift: {', '.join(parts)}; profile format {fmt}"


class _Version(argparse.Action):
    """argparse's own version action re-wraps the line: print it as it is."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        print(version_text())
        parser.exit(0)


def build_parser() -> argparse.ArgumentParser:
    p = SubParser(prog="vrift", description="File-system profiler and content-addressed VFS for builds.")
    p.add_argument("--version", action=_Version, nargs=0, help="show the versions and exit")
    sub = p.add_subparsers(dest="verb", required=True, parser_class=SubParser)
    run_cmd.add_parser(sub)
    profile_cmd.add_parser(sub)
    vfs_cmd.add_parsers(sub)
    c = sub.add_parser("completion", help="print the shell completion script (bash, zsh, fish, tcsh)")
    c.add_argument("shell", choices=("bash", "zsh", "fish", "tcsh"))
    c.set_defaults(func=completion)
    return p


def completion(args: argparse.Namespace) -> int:
    """`eval "$(vrift completion bash)"` (or zsh, fish: `vrift completion fish | source`)."""
    import argcomplete

    sys.stdout.write(argcomplete.shellcode(["vrift"], shell=args.shell))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    if "_ARGCOMPLETE" in os.environ:  # a shell asking for completions (argcomplete's protocol)
        import argcomplete

        argcomplete.autocomplete(parser)
    args, rest = parser.parse_known_args(argv)
    try:
        if getattr(args, "accepts_extra", False):
            return int(args.func(args, rest) or 0)
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 141
    except Exception as e:
        if not isinstance(e, _user_errors()):
            raise  # a bug: the traceback is for us
        print(f"vrift: {e}", file=sys.stderr)
        return USAGE_EXIT


def _user_errors() -> tuple[type[Exception], ...]:
    """The errors a user can cause, each a one-line message. Looked up only
    when something failed: vrift_vfs is not imported for `show`."""
    return (ProfileError, ShimNotBuiltError, *vfs_cmd.vfs_error_types())


if __name__ == "__main__":
    sys.exit(main())
