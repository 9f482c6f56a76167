"""Shared machinery of the benchmark suite: the variants (no shim, shim
off, counters, full profiling, strace), timing, statistics and tables.

Everything measured here is a comparison on a noisy 2-core VM, so every
section alternates its variants inside each repetition (in a shuffled
order), repeats, and reports the median with min..max. Ratios
are taken per repetition (variant / plain of the same repetition) before
the median, so slow drift of the machine cancels out.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import os
import random
import resource
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import vrift_shim
from vrift_profile import create_session
from vrift_profile.layout import c as header_constant
from vrift_profile.writer import open_live

CPROGS = Path(__file__).resolve().parent / "cprogs"
VRIFT_ENV = ("LD_PRELOAD", "VRIFT_PROFILE", "VRIFT_PROFILE_PATH")

# Variants. TIMED (latency + histogram without the hot-path table) only
# differs from FULL when the shim has a hot-path table to leave out.
PLAIN = "plain"
AA = "plain (A/A)"  # plain again: the noise floor of a comparison
EMPTY = "empty preload"  # an LD_PRELOAD library with nothing in it
BARE = "bare interposer"  # wrappers that only jump to libc (cprogs/bare_interposer.c)
OFF = "shim, off"
COUNTERS = "counters only"
TIMED = "latency + histogram"  # no hot paths
SAMPLED = "sampled hot paths"  # latency + histogram + hot paths on a sample (format 1.4's default)
FULL = "full"  # latency + histogram + every path call in the hot-path table (when the shim has one)
STRACE = "strace -f -c"
PROFILED = (COUNTERS, TIMED, SAMPLED, FULL)


# ---------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Summary:
    """Median and range of repeated measurements."""

    median: float
    lo: float
    hi: float
    n: int

    def fmt(self, spec: str = ".1f", signed: bool = False, scale: float = 1.0) -> str:
        s = "+" if signed else ""
        m, lo, hi = self.median * scale, self.lo * scale, self.hi * scale
        return f"{m:{s}{spec}} ({lo:{s}{spec}}..{hi:{s}{spec}})"


def summarize(xs: Sequence[float]) -> Summary:
    if not xs:
        raise ValueError("nothing measured")
    return Summary(statistics.median(xs), min(xs), max(xs), len(xs))


def median_ci(xs: Sequence[float], z: float = 1.96) -> tuple[float, float]:
    """Distribution-free ~95% confidence interval of the median, from order
    statistics (the binomial rank interval). It narrows with sqrt(n), where
    the min..max and quartiles of single runs do not: the right yardstick
    for "is the median overhead above the goal"."""
    s = sorted(xs)
    n = len(s)
    k = max(0, math.floor(n / 2 - z * math.sqrt(n) / 2))
    return s[k], s[n - 1 - k]


def paired_ratios(results: Mapping[str, Sequence[float]], variant: str, base: str = PLAIN) -> list[float]:
    """variant / base - 1 for each repetition (both measured in the same one)."""
    return [v / b - 1 for v, b in zip(results[variant], results[base], strict=True)]


def run_order(variants: Sequence[str], seed: int) -> list[str]:
    """The variants in a shuffled order, the same for the same seed.

    Not a rotation: with a fixed cyclic order every variant always follows
    the same neighbour, and a run right after strace (which leaves caches
    cold and the machine busy) is measurably slower, so one variant would
    be handicapped in every repetition. A fresh shuffle gives each variant
    every position and every predecessor, turning that bias into noise
    the A/A comparison shows."""
    order = list(variants)
    random.Random(seed).shuffle(order)
    return order


def alternate(
    variants: Sequence[str], reps: int, measure: Callable[[str, int], float]
) -> dict[str, list[float]]:
    """Run measure(variant, rep) for every variant in every repetition, in
    a new order each repetition (run_order)."""
    out: dict[str, list[float]] = {v: [] for v in variants}
    for r in range(reps):
        for v in run_order(variants, r):
            out[v].append(measure(v, r))
    return out


# ---------------------------------------------------------------- running


def pin_to(cpu: int) -> Callable[[], None]:
    """preexec_fn pinning a child to one CPU: micro benchmarks measure a
    few ns, less than what a migration between the two cores costs."""
    return lambda: os.sched_setaffinity(0, {cpu})


def last_cpu() -> int:
    return max(os.sched_getaffinity(0))


@dataclass(frozen=True)
class RunCost:
    """What one run of a command cost its whole process tree."""

    wall: float  # seconds
    cpu: float  # user + sys seconds
    minflt: int  # minor page faults (the shim's first touches of the session file show here)


def run_wall(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> RunCost:
    """Run cmd to completion, output discarded. Raises on failure."""
    t0 = time.perf_counter()
    p = subprocess.Popen(
        [str(x) for x in cmd],
        cwd=cwd,
        env=None if env is None else dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # wait4 gives this child's own rusage, including its reaped descendants.
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace") if p.stderr else ""
    if p.stderr:
        p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({p.returncode}): {err[-2000:]}")
    return RunCost(wall, ru.ru_utime + ru.ru_stime, ru.ru_minflt)


def run_output(cmd: Sequence[str | os.PathLike[str]], *, env: Mapping[str, str] | None = None, **kw) -> str:
    r = subprocess.run(
        [str(x) for x in cmd], env=None if env is None else dict(env), capture_output=True, text=True, **kw
    )
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({r.returncode}): {r.stderr[-2000:]}")
    return r.stdout


def compile_c(name: str, out_dir: Path) -> Path:
    """Compile benchmarks/cprogs/NAME.c with gcc -O2 into out_dir."""
    exe = out_dir / name
    run_output(["gcc", "-O2", "-Wall", "-Wextra", "-o", exe, CPROGS / f"{name}.c"])
    return exe


def plain_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment without any trace of vrift (or another preload)."""
    env = dict(os.environ if base is None else base)
    for k in VRIFT_ENV:
        env.pop(k, None)
    return env


# ---------------------------------------------------------------- the shim


def has_hot_paths() -> bool:
    """Whether this shim has a hot-path table (format 1.1)."""
    try:
        header_constant("VRIFT_MODE_HOT")
    except KeyError:
        return False
    return True


def hot_paths_opt_in() -> bool:
    """Whether sessions record hot paths only on request (create_session's
    hot_paths flag); before that, every full session recorded them."""
    return "hot_paths" in inspect.signature(create_session).parameters


def has_sampled_hot_paths() -> bool:
    """Whether sessions record hot paths on a sample by default (format 1.4)."""
    try:
        header_constant("VRIFT_DEFAULT_HOT_SAMPLE_PERIOD")
    except KeyError:
        return False
    return True


def profiled_variants() -> list[str]:
    """The profiling modes worth comparing: latency + histogram, the default
    session's sampled hot paths (1.4), and full (every path call) when the
    shim has a hot-path table."""
    if not has_hot_paths():
        return [FULL]
    return [TIMED, SAMPLED, FULL] if has_sampled_hot_paths() else [TIMED, FULL]


def default_profiled() -> str:
    """The mode a plain `vrift profile start` session counts in."""
    if has_sampled_hot_paths():
        return SAMPLED
    return TIMED if has_hot_paths() and hot_paths_opt_in() else FULL


def label(variant: str) -> str:
    """How tables name a variant."""
    if variant == TIMED:
        return "latency + histogram" + (" (default session)" if default_profiled() == TIMED else "")
    if variant == SAMPLED:
        return "+ hot paths, 1 in 64 (default session)"
    if variant == FULL and has_hot_paths():
        return "full (+ every path call)" if has_sampled_hot_paths() else "full (+ hot paths)"
    return variant


class Shim:
    """The shim under test and the environment of each variant.

    The library is copied once at the start of a run: it may be rebuilt
    while a long benchmark runs, and every variant of every repetition
    must load the same bytes. Sessions are fresh files per run, so each
    profiled run counts into an empty profile, as `vrift profile start`
    would give it.
    """

    def __init__(self, tmp: Path) -> None:
        self.source = vrift_shim.library_path()
        self.tmp = tmp
        self.lib = tmp / "libvrift_shim.so"
        shutil.copy2(self.source, self.lib)
        self.sha256 = hashlib.sha256(self.lib.read_bytes()).hexdigest()
        self.mtime = datetime.fromtimestamp(self.lib.stat().st_mtime, UTC)
        self.empty = self._empty_preload()
        self.bare = self.tmp / "bare_interposer.so"
        run_output(["gcc", "-O2", "-shared", "-fPIC", "-o", self.bare, CPROGS / "bare_interposer.c"])
        self._sessions = 0

    def _empty_preload(self) -> Path:
        """A preload library with nothing in it: what any LD_PRELOAD costs."""
        src = self.tmp / "empty_preload.c"
        src.write_text("int vrift_bench_empty_preload;\n")
        so = self.tmp / "empty_preload.so"
        run_output(["gcc", "-O2", "-shared", "-fPIC", "-o", so, src])
        return so

    def session(self, variant: str, slot_count: int | None = 64) -> Path | None:
        """A fresh session file for a profiled variant (None otherwise);
        slot_count None: the default size, as `vrift profile start` makes."""
        if variant not in PROFILED:
            return None
        self._sessions += 1
        path = self.tmp / f"session-{self._sessions}.vrift"
        if variant == FULL and has_hot_paths() and hot_paths_opt_in():
            create_session(path, slot_count=slot_count, hot_paths=True)  # type: ignore[call-arg]
        elif variant == SAMPLED:
            create_session(path, slot_count=slot_count)  # the defaults
        else:
            create_session(path, slot_count=slot_count, counters_only=variant == COUNTERS)
        if variant == TIMED and (has_sampled_hot_paths() or not hot_paths_opt_in()):
            # Latency and histogram without the hot-path table: the mode is a
            # set of bits (count, time, hot) that the shim reads per call.
            mode = header_constant("VRIFT_MODE_COUNT") | header_constant("VRIFT_MODE_TIME")
            with open_live(path) as (_, h):
                h.mode = mode  # type: ignore[attr-defined]
                h.enabled = mode  # type: ignore[attr-defined]
        return path

    def env(
        self, variant: str, session: Path | None = None, base: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        env = plain_env(base)
        if variant in (PLAIN, AA, STRACE):
            return env
        if variant in (EMPTY, BARE):
            env["LD_PRELOAD"] = str(self.empty if variant == EMPTY else self.bare)
            return env
        env["LD_PRELOAD"] = str(self.lib)
        if variant in PROFILED:
            if session is None:
                raise ValueError(f"{variant} needs a session")
            env["VRIFT_PROFILE"] = "1"
            env["VRIFT_PROFILE_PATH"] = str(session)
        return env


# ---------------------------------------------------------------- machine load


def _busy_jiffies() -> tuple[int, int]:
    """(busy, steal) jiffies of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = parts[:8]
    return user + nice + system + irq + softirq, steal


def _own_cpu() -> float:
    a = resource.getrusage(resource.RUSAGE_SELF)
    b = resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


@dataclass
class LoadMeter:
    """How much CPU something other than this benchmark used while it ran
    (another user's tests, say): numbers measured next to a busy neighbour
    are not comparable with quiet ones, so the report says which it was."""

    t0: float = field(default_factory=time.monotonic)
    jiffies0: tuple[int, int] = field(default_factory=_busy_jiffies)
    own0: float = field(default_factory=_own_cpu)

    def report(self) -> str:
        hz = os.sysconf("SC_CLK_TCK")
        wall = time.monotonic() - self.t0
        busy, steal = _busy_jiffies()
        machine = (busy - self.jiffies0[0]) / hz
        foreign = max(0.0, machine - (_own_cpu() - self.own0))
        return (
            f"wall {wall:.0f} s; CPU used by other processes meanwhile {foreign:.1f} s "
            f"({100 * foreign / (wall * os.cpu_count()):.1f}% of the machine); "
            f"hypervisor steal {(steal - self.jiffies0[1]) / hz:.1f} s; load average now "
            f"{open('/proc/loadavg').read().split()[0]}"
        )


def wait_until_quiet(max_wait: float, busy_limit: float = 0.05, window: float = 10.0) -> float:
    """Wait (up to max_wait seconds) for a window in which other processes
    use under busy_limit of the machine; returns the last window's share.
    A shared VM's neighbours move every number here by several percent."""
    hz, cpus = os.sysconf("SC_CLK_TCK"), os.cpu_count() or 1
    deadline = time.monotonic() + max_wait
    while True:
        b0 = _busy_jiffies()[0]
        time.sleep(window)
        share = (_busy_jiffies()[0] - b0) / hz / (window * cpus)
        if share < busy_limit or time.monotonic() >= deadline:
            return share


# ---------------------------------------------------------------- reporting


@dataclass
class Table:
    """A Markdown table (readable as plain text too)."""

    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(x) for x in cells])

    def render(self) -> str:
        cols = list(zip(self.headers, *self.rows, strict=False))
        widths = [max(len(x) for x in col) for col in cols]

        def line(cells: Sequence[str]) -> str:
            padded = [
                x.ljust(w) if i == 0 else x.rjust(w)
                for i, (x, w) in enumerate(zip(cells, widths, strict=True))
            ]
            return "| " + " | ".join(padded) + " |"

        sep = "|" + "|".join(("-" * (w + 1)) + ("-" if i == 0 else ":") for i, w in enumerate(widths)) + "|"
        out = [f"### {self.title}", "", line(self.headers), sep, *(line(r) for r in self.rows)]
        out += [""] + [f"- {n}" for n in self.notes] if self.notes else []
        return "\n".join(out)


@dataclass
class Target:
    """One of the issue's targets, with what was measured and a verdict."""

    name: str
    goal: str
    measured: str
    verdict: str  # "met", "NOT met", "not measured"
    why: str = ""


@dataclass
class SectionResult:
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)


@dataclass
class Context:
    """What every section gets: a scratch directory, the shim, the compiled
    helpers and the run size."""

    tmp: Path
    shim: Shim
    quick: bool
    bins: dict[str, Path] = field(default_factory=dict)

    def reps(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def binary(self, name: str) -> Path:
        if name not in self.bins:
            self.bins[name] = compile_c(name, self.tmp)
        return self.bins[name]


def pct(x: float) -> str:
    return f"{100 * x:+.2f}%"
