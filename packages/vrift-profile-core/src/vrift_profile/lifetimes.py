"""Process images and their lives (format 1.5): one ProcessImage per image
slot, with its command line, working directory, start and end, exit
status and its own counts (thread rows folded in).

How an image's end is known, best first (`end_by`):

- "exit": it recorded its own end (exit(), return from main, _exit), or
  its launcher saw it exit;
- "killed": a signal killed it and its parent's wait (or the launcher)
  recorded when;
- "exec": it exec'd another program: the next image of the same pid
  starts where it ends (a ghost, below, that exec'd a program vrift follows
  has its end recorded by that program's constructor, and no status);
- "last_activity": nobody saw it end (killed with no profiled parent, or
  still running): its last timed call, else its start.

From 1.6 a program that ran unseen (a static binary, a set-ID program, an
environment that drops vrift) has an image too, a ghost (`unseen`): no
counts, but its command line, start, and the end and status its parent's
wait recorded.

The slot's struct vrift_life follows its counters directly (csrc/shim.h
checks it), so where it lies in a file depends on how many counters that
file's slots hold (1.6 added some): it starts where the file's own field
table says the last counter ends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _ffi
from .layout import c

END_BY = ("exit", "killed", "exec", "last_activity")
STATUS_FROM = {1: "self", 2: "parent", 3: "launcher"}


@dataclass(frozen=True)
class ProcessImage:
    """One process image (a program run, or a fork child before it execs)."""

    slot: int
    pid: int
    ppid: int
    command: str  # the short name (comm)
    start_ns: int  # CLOCK_REALTIME
    end_ns: int
    end_by: str  # one of END_BY
    argv: tuple[str, ...] = ()
    argv_truncated: bool = False  # the command line was longer than the slot keeps
    cwd: str = ""
    cwd_truncated: bool = False  # `cwd` is "..." and the directory's tail
    # how it ended: exit code, or the signal that killed it (None: not seen)
    exit_code: int | None = None
    signal: int | None = None
    status_from: str = ""  # "self", "parent", "launcher" or "" (not seen)
    threads: int = 1  # rows it counted in (1.4 thread rows)
    unseen: bool = False  # 1.6: a program that ran without vrift (a ghost: no counts)
    calls: dict[str, int] = field(default_factory=dict)  # per operation, non-zero only
    errors: dict[str, int] = field(default_factory=dict)
    time_ns: dict[str, int] = field(default_factory=dict)  # time in calls (estimated when sampled)
    counters: dict[str, int] = field(default_factory=dict)  # non-zero scalars (vfs_handled, ...)

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def fs_time_ns(self) -> int:
        return sum(self.time_ns.values())

    @property
    def command_line(self) -> str:
        """The command line for people: arguments quoted as a shell would
        need, "…" where the slot cut it short."""
        import shlex

        text = shlex.join(self.argv) if self.argv else ""
        return text + " …" if self.argv_truncated else text

    @property
    def status_text(self) -> str:
        if self.signal is not None:
            return f"killed by signal {self.signal}"
        if self.exit_code is not None:
            return f"exit {self.exit_code}"
        return "not seen"

    def to_dict(self) -> dict[str, Any]:
        return {
            "slot": self.slot,
            "pid": self.pid,
            "ppid": self.ppid,
            "command": self.command,
            "argv": list(self.argv),
            "argv_truncated": self.argv_truncated,
            "cwd": self.cwd,
            "cwd_truncated": self.cwd_truncated,
            "start_time_unix_ns": self.start_ns,
            "end_time_unix_ns": self.end_ns,
            "end_by": self.end_by,
            "exit_code": self.exit_code,
            "signal": self.signal,
            "status_from": self.status_from,
            "threads": self.threads,
            "calls": dict(self.calls),
            "errors": dict(self.errors),
            "time_ns": dict(self.time_ns),
            "counters": dict(self.counters),
            **({"unseen": True} if self.unseen else {}),  # 1.6 ghosts only: older dicts unchanged
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProcessImage:
        return cls(
            slot=int(d["slot"]),
            pid=int(d["pid"]),
            ppid=int(d["ppid"]),
            command=d["command"],
            start_ns=int(d["start_time_unix_ns"]),
            end_ns=int(d["end_time_unix_ns"]),
            end_by=d["end_by"],
            argv=tuple(d.get("argv", ())),
            argv_truncated=bool(d.get("argv_truncated", False)),
            cwd=d.get("cwd", ""),
            cwd_truncated=bool(d.get("cwd_truncated", False)),
            exit_code=d.get("exit_code"),
            signal=d.get("signal"),
            status_from=d.get("status_from", ""),
            threads=int(d.get("threads", 1)),
            unseen=bool(d.get("unseen", False)),
            calls={k: int(v) for k, v in d.get("calls", {}).items()},
            errors={k: int(v) for k, v in d.get("errors", {}).items()},
            time_ns={k: int(v) for k, v in d.get("time_ns", {}).items()},
            counters={k: int(v) for k, v in d.get("counters", {}).items()},
        )


class LazyImages(Sequence):
    """The images of a snapshot, decoded at first use: `show`, the progress
    line and the sampler read sessions without ever looking at them (~20 us
    an image)."""

    def __init__(self, decode: Callable[[], tuple[ProcessImage, ...]]) -> None:
        self._decode: Callable[[], tuple[ProcessImage, ...]] | None = decode
        self._images: tuple[ProcessImage, ...] = ()

    def _all(self) -> tuple[ProcessImage, ...]:
        if self._decode is not None:
            self._images, self._decode = self._decode(), None
        return self._images

    def __getitem__(self, i):
        return self._all()[i]

    def __len__(self) -> int:
        return len(self._all())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LazyImages({len(self)} images)"


def decode_status(status: int) -> tuple[int | None, int | None]:
    """(exit code, signal) of a wait status."""
    sig = status & 0x7F
    if sig == 0:
        return (status >> 8) & 0xFF, None
    if sig != 0x7F:  # 0x7f: stopped, not ended
        return None, sig
    return None, None


def life_layout(header) -> tuple[int, Any] | None:
    ffi = _ffi.ffi()
    if not header.fields:
        return None
    at = max(f.offset + 8 * f.count for f in header.fields)  # the counter block's end
    if at + ffi.sizeof("struct vrift_life") > header.slot_size:
        return None
    return at, ffi


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _argv(life) -> tuple[tuple[str, ...], bool]:
    ffi = _ffi.ffi()
    n = min(int(life.cmdline_len), c("VRIFT_CMDLINE_LEN"))
    if not life.argc or n == 0:
        return (), False
    raw = bytes(ffi.buffer(life.cmdline, n))
    truncated = int(life.cmdline_len) > c("VRIFT_CMDLINE_LEN")
    parts = raw.split(b"\0")
    if not truncated:
        parts = parts[: int(life.argc)]
    elif parts and parts[-1] == b"":
        parts = parts[:-1]
    return tuple(p.decode("utf-8", "surrogateescape") for p in parts), truncated


def process_images(header, slots: bytes, decoder) -> tuple[ProcessImage, ...]:
    """The process images of a session (format 1.5+; () before). `header`
    and `decoder` are the reader's Header and _SlotDecoder."""
    if header.minor < 5:
        return ()
    found = life_layout(header)
    if found is None:
        return ()
    life_at, ffi = found
    head_t = "struct vrift_slot_head *"
    life_t = "struct vrift_life *"
    live = c("VRIFT_SLOT_LIVE")
    tsc = header.clock_source == c("VRIFT_CLOCK_TSC")
    buf = ffi.from_buffer(slots)
    words_all = memoryview(slots).cast("Q")
    per_slot = header.slot_size // 8
    scalars = [(n, i) for n, i in decoder.scalars]
    rows: dict[int, list[int]] = {}  # image slot -> its rows
    for i in range(1, header.slots_used):
        h = ffi.cast(head_t, buf + i * header.slot_size)
        if h.state != live:
            continue
        owner = int(h.owner_slot)
        rows.setdefault(owner or i, []).append(i)

    def realtime(start_ns: int, start_clock: int, clock: int) -> int:
        if not clock or not start_clock or clock < start_clock:
            return start_ns
        d = clock - start_clock
        if tsc:
            d = (d * header.clock_mult) >> header.clock_shift
        return start_ns + d

    images: list[dict[str, Any]] = []
    for idx in sorted(rows):
        h = ffi.cast(head_t, buf + idx * header.slot_size)
        if h.owner_slot:  # a thread row whose image slot is not live: skip
            continue
        life = ffi.cast(life_t, buf + idx * header.slot_size + life_at)
        start = int(h.start_realtime_ns)
        calls: dict[str, int] = {}
        errors: dict[str, int] = {}
        time_ns: dict[str, int] = {}
        counters: dict[str, int] = {}
        last_clock = 0
        for r in rows[idx]:
            rh = ffi.cast(head_t, buf + r * header.slot_size)
            if rh.reset_generation != header.reset_generation:
                continue  # counts from before the last reset
            words = words_all[r * per_slot : (r + 1) * per_slot]
            for op, (ci, ei, _ni, _ai, li, _hi) in decoder.ops:
                if words[ci]:
                    calls[op] = calls.get(op, 0) + words[ci]
                if words[ei]:
                    errors[op] = errors.get(op, 0) + words[ei]
                if words[li]:
                    time_ns[op] = time_ns.get(op, 0) + words[li]
            for name, wi in scalars:
                if words[wi]:
                    counters[name] = counters.get(name, 0) + words[wi]
            rl = ffi.cast(life_t, buf + r * header.slot_size + life_at)
            last_clock = max(last_clock, int(rl.last_clock))
        argv, argv_cut = _argv(life)
        cwd_len = int(life.cwd_len)
        cwd = _text(bytes(ffi.buffer(life.cwd, c("VRIFT_CWD_LEN")))) if cwd_len else ""
        code = sig = None
        status_from = STATUS_FROM.get(int(life.status_from), "")
        if status_from:
            code, sig = decode_status(int(life.status))
        images.append(
            {
                "slot": idx,
                "pid": int(h.pid),
                "ppid": int(h.ppid),
                "command": _text(bytes(ffi.buffer(h.comm, c("VRIFT_COMM_LEN")))) or "?",
                "start_ns": start,
                "end_ns": int(life.end_realtime_ns),
                "last_ns": realtime(start, int(life.start_clock), last_clock),
                "argv": argv,
                "argv_truncated": argv_cut,
                "cwd": cwd,
                "cwd_truncated": cwd_len > c("VRIFT_CWD_LEN") - 1,
                "exit_code": code,
                "signal": sig,
                "status_from": status_from,
                "threads": len(rows[idx]),
                "unseen": header.minor >= 6 and bool(life.unseen),
                "calls": calls,
                "errors": errors,
                "time_ns": time_ns,
                "counters": counters,
            }
        )
    return tuple(_with_ends(images))


def _with_ends(images: list[dict[str, Any]]) -> list[ProcessImage]:
    """Each image's end, by the rules in the module docstring."""
    next_of_pid: dict[int, tuple[int, int]] = {}  # pid -> (start, ppid) of the image that followed
    out: list[ProcessImage] = []
    for im in sorted(images, key=lambda d: (d["start_ns"], d["slot"]), reverse=True):
        start = im.pop("start_ns")
        end_ns, last_ns = im.pop("end_ns"), im.pop("last_ns")
        successor = next_of_pid.get(im["pid"])
        if end_ns and end_ns >= start:
            # a ghost whose end has no status exec'd a program vrift follows (1.6)
            by = "killed" if im["signal"] is not None else "exit" if im["status_from"] else "exec"
            end = end_ns
        elif successor is not None and successor[0] >= start and successor[1] == im["ppid"]:
            end, by = successor[0], "exec"
        else:
            end, by = max(start, last_ns), "last_activity"
        next_of_pid[im["pid"]] = (start, im["ppid"])
        out.append(ProcessImage(start_ns=start, end_ns=end, end_by=by, **im))
    out.sort(key=lambda p: (p.start_ns, p.slot))
    return out


def parents(images: tuple[ProcessImage, ...] | list[ProcessImage]) -> dict[int, int]:
    """slot -> the slot of its parent image: the image of pid == ppid that
    was running when it started (the latest to start no later than it).
    Images whose parent was not profiled are absent."""
    by_pid: dict[int, list[ProcessImage]] = {}
    for p in images:
        by_pid.setdefault(p.pid, []).append(p)
    out: dict[int, int] = {}
    for p in images:
        best = None
        for q in by_pid.get(p.ppid, ()):
            if q.slot != p.slot and q.start_ns <= p.start_ns and (best is None or q.start_ns > best.start_ns):
                best = q
        if best is not None:
            out[p.slot] = best.slot
    return out
