"""`vrift` entry point: argument parsing and one-line errors.

Each verb lives in its own module; this file only wires them. A user
error (bad flag, missing command, unusable file) prints one line and
exits non-zero; a traceback is a bug.
"""

from __future__ import annotations

import argparse
import sys

from vrift_profile import ProfileError

from . import profile_cmd, run_cmd, vfs_cmd


class SubParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not a usage dump
        self.exit(2, f"vrift: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    p = SubParser(prog="vrift", description="File-system profiler and content-addressed VFS for builds.")
    sub = p.add_subparsers(dest="verb", required=True, parser_class=SubParser)
    run_cmd.add_parser(sub)
    profile_cmd.add_parser(sub)
    vfs_cmd.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    try:
        if getattr(args, "accepts_extra", False):
            return int(args.func(args, rest) or 0)
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        return int(args.func(args) or 0)
    except (ProfileError, *vfs_cmd.vfs_error_types()) as e:
        print(f"vrift: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 141


if __name__ == "__main__":
    sys.exit(main())
