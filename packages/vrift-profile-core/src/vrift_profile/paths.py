"""Where sessions live: the per-user run directory and the current-session pointer.

Same rule as the shim (csrc/session.c): $XDG_RUNTIME_DIR/vrift, else
/tmp/vrift-<euid>; the directory must be ours, mode 0700, not a symlink.
`current` holds one line: the absolute path of the current session file.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from .errors import SessionError

ENV_PATH = "VRIFT_PROFILE_PATH"
ENV_ENABLE = "VRIFT_PROFILE"


def run_dir() -> Path:
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if xdg.startswith("/"):
        return Path(xdg) / "vrift"
    return Path(f"/tmp/vrift-{os.geteuid()}")


def check_private_dir(path: Path) -> None:
    """Refuse a directory another user could plant files in."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise SessionError(f"{path}: no such directory") from None
    if stat.S_ISLNK(st.st_mode):
        raise SessionError(f"{path}: is a symlink; refusing to use it for profiles")
    if not stat.S_ISDIR(st.st_mode):
        raise SessionError(f"{path}: not a directory")
    if st.st_uid != os.geteuid():
        raise SessionError(f"{path}: owned by uid {st.st_uid}, not by you")
    if st.st_mode & 0o077:
        raise SessionError(f"{path}: mode {st.st_mode & 0o777:04o}, expected 0700")


def ensure_run_dir() -> Path:
    d = run_dir()
    try:
        d.parent.mkdir(parents=True, exist_ok=True)
        os.mkdir(d, 0o700)
    except FileExistsError:
        pass
    except OSError as e:
        raise SessionError(f"cannot create {d}: {e.strerror}") from None
    check_private_dir(d)
    return d


def check_parent_dir(path: Path) -> None:
    """A profile named by the user may live anywhere, but not in a directory
    others can write to without the sticky bit (they could swap the file)."""
    parent = path.parent
    try:
        st = os.stat(parent)
    except FileNotFoundError:
        raise SessionError(f"{parent}: no such directory") from None
    if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
        raise SessionError(f"{parent}: world-writable directory; refusing to put a profile there")


def new_session_path() -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return ensure_run_dir() / f"profile-{stamp}-{os.getpid()}.vrift"


def current_pointer() -> Path:
    return run_dir() / "current"


def current_session() -> Path | None:
    ptr = current_pointer()
    try:
        check_private_dir(ptr.parent)
        text = ptr.read_text().strip()
    except (OSError, SessionError):
        return None
    return Path(text) if text.startswith("/") else None


def set_current(path: Path) -> None:
    d = ensure_run_dir()
    tmp = d / f".current.{os.getpid()}"
    tmp.write_text(f"{path}\n")
    os.replace(tmp, d / "current")


def resolve_session(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The session a command acts on: an explicit path, else $VRIFT_PROFILE_PATH,
    else the current session."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(ENV_PATH)
    if env:
        return Path(env)
    cur = current_session()
    if cur is None:
        raise SessionError(
            "no profile session: start one with `vrift profile start` or set VRIFT_PROFILE_PATH"
        )
    return cur
