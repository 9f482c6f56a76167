"""Micro: added ns per call (stat, fstat, open+close, read, readdir), the
per-exec cost of loading the shim, and the memory a profiled process adds.

Two measurements of the per-call cost, because they fail differently:
- paired (cprogs/bench_paired.c): inside one process, libc's function and
  the one the program would call (the shim's wrapper) alternate in short
  batches. Precise to a fraction of a ns; the "no shim" row, where both
  sides are libc, shows the method's own noise.
- separate processes (cprogs/bench_calls.c): each variant in its own
  process, absolute ns per call. Closer to how a program experiences the
  shim, but process-to-process noise on this VM is several ns.
The per-exec cost is paired the same way (cprogs/spawn_loop.c alternates
spawns with and without the shim's environment).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from harness import (
    BARE,
    COUNTERS,
    EMPTY,
    OFF,
    PLAIN,
    TIMED,
    Context,
    SectionResult,
    Table,
    Target,
    alternate,
    default_profiled,
    has_hot_paths,
    has_sampled_hot_paths,
    label,
    last_cpu,
    pin_to,
    profiled_variants,
    run_output,
    summarize,
)

OPS = ("stat", "fstat", "open+close", "read", "readdir")
# open+close is one pair of calls; every other row is one call.
CALLS_PER_OP = {"open+close": 2}
OFF_TARGET_NS = 1.0
FULL_TARGET_NS = 30.0
EXEC_TARGET_US = 50.0
RSS_KEYS = ("VmRSS", "RssAnon", "RssFile")

# per variant, per op: one value per process run
PerOp = dict[str, dict[str, list[float]]]


def call_variants() -> list[str]:
    return [PLAIN, BARE, OFF, COUNTERS, *profiled_variants()]


def make_call_dir(root: Path, files: int = 64) -> Path:
    """The directory bench_calls/bench_paired work in: file0..fileN-1."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (root / f"file{i}").write_text(f"file {i}\n")
    return root


def parse_ops(text: str) -> dict[str, list[float]]:
    """'name a b c' lines -> {name: [a, b, c]}."""
    out = {}
    for line in text.splitlines():
        name, *nums = line.split()
        out[name] = [float(x) for x in nums]
    return out


def run_pinned(ctx: Context, variant: str, cmd: Sequence[object], slot_count: int = 64) -> str:
    """Run a helper on one CPU under `variant` (fresh session if profiled)."""
    session = ctx.shim.session(variant, slot_count)
    try:
        return run_output(cmd, env=ctx.shim.env(variant, session), preexec_fn=pin_to(last_cpu()))
    finally:
        if session:
            session.unlink()


def paired_calls(
    ctx: Context, calls_dir: Path, variants: Sequence[str], reps: int, rounds: int = 200
) -> tuple[PerOp, dict[str, list[float]]]:
    """Added ns per op and variant (bench_paired, one median per process
    run), and libc's own ns per op."""
    exe = ctx.binary("bench_paired")
    added: PerOp = {v: {op: [] for op in OPS} for v in variants}
    libc: dict[str, list[float]] = {op: [] for op in OPS}

    def measure(variant: str, _rep: int) -> float:
        res = parse_ops(run_pinned(ctx, variant, [exe, calls_dir, rounds, 1000]))
        for op in OPS:
            direct, _wrapped, diff = res[op]
            added[variant][op].append(diff)
            libc[op].append(direct)
        return 0.0

    alternate(variants, reps, measure)
    return added, libc


def separate(ctx: Context, calls_dir: Path) -> PerOp:
    """Absolute ns per op for each variant, each run its own process."""
    exe = ctx.binary("bench_calls")
    n = 100_000 if ctx.quick else 200_000
    ns: PerOp = {v: {op: [] for op in OPS} for v in call_variants()}

    def measure(variant: str, _rep: int) -> float:
        res = parse_ops(run_pinned(ctx, variant, [exe, calls_dir, n]))
        for op in OPS:
            ns[variant][op].append(res[op][0])
        return 0.0

    alternate(call_variants(), ctx.reps(9, 4), measure)
    return ns


def per_exec(ctx: Context) -> dict[str, PerOp]:
    """For /bin/true (no counted call: no slot) and one_stat (one counted
    call: attach to the session, claim a slot, count): per variant, the
    us per spawn without and with the variant's environment and the
    paired difference, one value each per run."""
    spawn = ctx.binary("spawn_loop")
    progs = {"/bin/true": "/bin/true", "one_stat": str(ctx.binary("one_stat"))}
    n = 150 if ctx.quick else 300
    variants = [PLAIN, EMPTY, OFF, COUNTERS, *profiled_variants()]
    keys = ("us_plain", "us_variant", "us_added")
    out: dict[str, PerOp] = {p: {v: {k: [] for k in keys} for v in variants} for p in progs}

    def measure(variant: str, _rep: int) -> float:
        for name, prog in progs.items():
            res = parse_ops(run_pinned(ctx, variant, [spawn, n, prog], slot_count=n + 16))
            for k in keys:
                out[name][variant][k].append(res[k][0])
        return 0.0

    alternate(variants, ctx.reps(7, 3), measure)
    return out


def clock_reads(ctx: Context) -> dict[str, float]:
    """ns per rdtsc / clock_gettime here: the floor of a timed call's cost."""
    exe = ctx.binary("clock_cost")
    runs = [parse_ops(run_pinned(ctx, PLAIN, [exe])) for _ in range(ctx.reps(5, 3))]
    return {k: summarize([r[k][0] for r in runs]).median for k in runs[0]}


def memory(ctx: Context) -> PerOp:
    """Resident KB of rss_probe (one counted call) per variant."""
    prog = ctx.binary("rss_probe")
    variants = [PLAIN, EMPTY, OFF, *profiled_variants()]
    out: PerOp = {v: {k: [] for k in RSS_KEYS} for v in variants}

    def measure(variant: str, _rep: int) -> float:
        res = parse_ops(run_pinned(ctx, variant, [prog]))
        for k in RSS_KEYS:
            out[variant][k].append(res[k][0])
        return 0.0

    alternate(variants, ctx.reps(11, 5), measure)
    return out


# ---------------------------------------------------------------- report


def per_call(op: str, ns: float) -> float:
    return ns / CALLS_PER_OP.get(op, 1)


def worst_per_call(added: dict[str, list[float]]) -> tuple[str, float]:
    """The op with the largest median added ns per single call."""
    return max(((op, per_call(op, summarize(xs).median)) for op, xs in added.items()), key=lambda t: t[1])


VARIANT_LABELS = {
    PLAIN: "no shim (method noise)",
    BARE: "bare interposer (jump to libc only)",
    OFF: "shim loaded, profiling off",
    COUNTERS: "counters only",
}


def variant_label(v: str) -> str:
    return VARIANT_LABELS.get(v) or label(v)


def vfs_cell() -> str:
    """The VFS row: there is nothing to measure until a VFS layer exists,
    and this suite does not drive one yet even when it does."""
    if importlib.util.find_spec("vrift_profile.vfsstats") is None:
        return "n/a (no VFS yet)"
    return "n/a (VFS not benchmarked here)"


def paired_table(added: PerOp, libc: dict[str, list[float]], clocks: dict[str, float]) -> Table:
    t = Table(
        "Micro: ns added per call by the shim (paired in one process; median (min..max) of process runs)",
        ["variant", *OPS],
    )
    t.add("libc call itself, ns", *(f"{summarize(libc[op]).median:.0f}" for op in OPS))
    for v, per_op in added.items():
        t.add(variant_label(v), *(summarize(per_op[op]).fmt(signed=True) for op in OPS))
    t.add("full profiling + VFS projection", *([vfs_cell()] * len(OPS)))
    t.notes.append("open+close is a pair of calls (two wrappers); the others are one call each.")
    t.notes.append(
        "full profiling = latency + histogram"
        + (" + hot-path table" if has_hot_paths() else "")
        + (
            "; hot paths are opt-in, a default session is latency + histogram."
            if default_profiled() == TIMED
            else "; a default session records 1 path call in 64 (format 1.4), full records every one."
            if has_sampled_hot_paths()
            else "."
        )
    )
    t.notes.append(
        "One clock read on this machine: "
        + ", ".join(f"{k} {v:.1f} ns" for k, v in clocks.items())
        + " (cprogs/clock_cost.c); a timed call reads the clock twice."
    )
    t.notes.append(
        "readdir is timed on 1 call in 16; most readdir calls are served from the DIR buffer "
        "(the 64-entry directory is re-read with rewinddir)."
    )
    return t


def separate_table(ns: PerOp) -> Table:
    t = Table(
        "Micro: ns per call, each variant in its own process (bench_calls; median, +diff to no shim)",
        ["variant", *OPS],
    )
    base = {op: summarize(ns[PLAIN][op]).median for op in OPS}
    for v, per_op in ns.items():
        cells = []
        for op in OPS:
            m = summarize(per_op[op]).median
            cells.append(f"{m:.1f}" if v == PLAIN else f"{m:.1f} ({m - base[op]:+.1f})")
        t.add("no shim" if v == PLAIN else variant_label(v), *cells)
    t.notes.append(
        "Process-to-process noise here is several ns, more for open+close, so this table cannot "
        "resolve 1 ns; the paired table can."
    )
    return t


def exec_table(spawns: dict[str, PerOp]) -> Table:
    t = Table(
        "Per exec: us per posix_spawn + wait, and what the variant adds (paired spawns; "
        "median (min..max) of runs)",
        ["variant", "/bin/true us", "added us", "one_stat us", "added us"],
    )
    for v in spawns["/bin/true"]:
        cells = []
        for prog in ("/bin/true", "one_stat"):
            s = spawns[prog][v]
            cells += [
                f"{summarize(s['us_variant']).median:.0f}",
                summarize(s["us_added"]).fmt(".0f", signed=True),
            ]
        t.add(variant_label(v), *cells)
    t.notes.append(
        "/bin/true makes no counted call, so it claims no slot; one_stat makes one stat(): attach "
        "to the session, claim a slot, count. 'empty preload' is an LD_PRELOAD library with nothing "
        "in it: the part any preload pays (the loader opens, maps and relocates one more object)."
    )
    return t


def memory_table(rss: PerOp) -> Table:
    from vrift_profile.layout import layout

    t = Table(
        "Memory: resident KB of a process making one counted call (rss_probe; median, +diff to no shim)",
        ["variant", *(f"{k} KB" for k in RSS_KEYS)],
    )
    base = {k: summarize(rss[PLAIN][k]).median for k in RSS_KEYS}
    for v, per_key in rss.items():
        cells = []
        for k in RSS_KEYS:
            m = summarize(per_key[k]).median
            cells.append(f"{m:.0f}" if v == PLAIN else f"{m:.0f} ({m - base[k]:+.0f})")
        t.add("no shim" if v == PLAIN else variant_label(v), *cells)
    t.notes.append(
        "Private memory is RssAnon; RssFile is page cache mapped from the shim's .so and the session "
        "file, shared by every process. In the session file each process image owns one slot of "
        f"{layout(2).slot_size:,} bytes (the RFC's estimate: 4 KB)."
    )
    return t


def call_target(added: PerOp, variant: str, goal: str, limit: float) -> Target:
    _, noise = worst_per_call({op: [abs(x) for x in xs] for op, xs in added[PLAIN].items()})
    op, worst = worst_per_call(added[variant])
    detail = ", ".join(f"{o} {per_call(o, summarize(xs).median):+.1f}" for o, xs in added[variant].items())
    floor = ""
    if variant == OFF and BARE in added:
        # what interposing at all costs here: the floor under any preloaded wrapper
        bare_op, bare = worst_per_call(added[BARE])
        floor = f"; a bare interposer: worst {bare_op} {bare:+.1f}"
    return Target(
        f"added ns per call, {variant_label(variant)}",
        goal,
        f"worst: {op} {worst:+.1f} ns ({detail}; method noise {noise:.1f}{floor})",
        "met" if worst <= limit else "NOT met",
    )


def targets(added: PerOp, spawns: dict[str, PerOp]) -> list[Target]:
    load = summarize(spawns["/bin/true"][OFF]["us_added"])
    empty = summarize(spawns["/bin/true"][EMPTY]["us_added"]).median
    profiled = summarize(spawns["one_stat"][default_profiled()]["us_added"]).median
    return [
        call_target(added, OFF, "<= 1 ns", OFF_TARGET_NS),
        *(call_target(added, v, "<= 30 ns", FULL_TARGET_NS) for v in profiled_variants()),
        Target(
            "loading the shim, added per exec",
            "<= 50 us",
            f"{load.fmt('.0f', signed=True)} us (/bin/true, profiling off; an empty preload: "
            f"{empty:+.0f} us; profiled one_stat: {profiled:+.0f} us)",
            "met" if load.median <= EXEC_TARGET_US else "NOT met",
        ),
    ]


def run(ctx: Context) -> SectionResult:
    calls_dir = make_call_dir(ctx.tmp / "calls")
    added, libc = paired_calls(ctx, calls_dir, call_variants(), ctx.reps(9, 4), 100 if ctx.quick else 200)
    ns = separate(ctx, calls_dir)
    spawns = per_exec(ctx)
    rss = memory(ctx)
    clocks = clock_reads(ctx)
    return SectionResult(
        tables=[paired_table(added, libc, clocks), separate_table(ns), exec_table(spawns), memory_table(rss)],
        targets=targets(added, spawns),
    )
