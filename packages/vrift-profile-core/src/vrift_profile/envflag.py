"""VRIFT_PROFILE read exactly as the shim reads it (csrc/session.c, env_flag).

The shim decides in C, before Python ever runs, whether a process counts;
vrift's own commands must reach the same verdict for the same value, or
`vrift run` and the shim would disagree about whether a run is recorded.
tests/shim/test_envflag.py runs the real shim over a table of values to
keep the two in step.
"""

from __future__ import annotations

# Compared without regard to ASCII case, as word_is() does in C ("Off", "NO").
_OFF_WORDS = ("false", "no", "off")


def profile_flag(value: str | None) -> bool | None:
    """None when unset or empty (then VRIFT_PROFILE_PATH alone decides),
    False for "0", "false", "no", "off" in any ASCII case, True otherwise
    ("1", "yes", "00", " 0" and any other text turn counting on)."""
    if not value:
        return None
    if value == "0" or (value.isascii() and value.lower() in _OFF_WORDS):
        return False
    return True
