"""The error types of vrift_profile: one per thing a user can get wrong."""

from __future__ import annotations


class ProfileError(Exception):
    """Base class: every message is one line meant for the user."""


class ProfileFormatError(ProfileError):
    """The file is not a readable vrift profile (truncated, corrupt, foreign, newer major)."""


class SessionError(ProfileError):
    """No session to act on, or the session file/directory cannot be used safely."""


class UsageError(ProfileError):
    """A bad flag, port or value: what the user typed cannot work, whatever the files hold."""


class ExportError(ProfileError):
    """An export could not be done (unknown or broken format, unreachable endpoint, ...)."""


def open_failed(path: object, e: OSError) -> ProfileFormatError:
    """The one-line error for a profile (or export) that cannot be opened."""
    if isinstance(e, FileNotFoundError):
        return ProfileFormatError(f"{path}: no such file")
    if isinstance(e, IsADirectoryError):
        return ProfileFormatError(f"{path}: is a directory, not a profile")
    return ProfileFormatError(f"{path}: cannot open: {e.strerror}")
