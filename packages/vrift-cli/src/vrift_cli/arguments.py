"""The command line's parser class and the value types of its flags.

Every bad flag or value ends the same way: one line on stderr naming
what was wrong, exit status 2 (argparse's usage-error status), no usage
dump and no traceback. Verbs import these; `main` only wires the verbs.
"""

from __future__ import annotations

import argparse
import re
from typing import NoReturn

USAGE_EXIT = 2


class SubParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not a usage dump
        # argparse names a subcommand by its dest ("argument profile_verb: ..."): say "verb"
        message = re.sub(
            r"^argument \w*verb: invalid choice: '([^']*)' \(choose from (.*)\)$",
            lambda m: f"unknown verb '{m.group(1)}' (one of: {m.group(2).replace(chr(39), '')})",
            message,
        )
        self.exit(USAGE_EXIT, f"vrift: {message} (see `{self.prog} --help`)\n")


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None


def slots(value: str) -> int:
    n = _int(value)
    if not 2 <= n <= 1_000_000:
        raise argparse.ArgumentTypeError("must be between 2 and 1000000")
    return n


def count(value: str) -> int:
    n = _int(value)
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {n}")
    return n


def port(value: str) -> int:
    """A TCP port; 0 lets the kernel choose a free one."""
    n = _int(value)
    if not 0 <= n <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, not {n}")
    return n


def seconds(value: str) -> float:
    """A positive interval (a refresh period)."""
    try:
        s = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not s > 0 or s == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {value}")
    return s
