"""Where a profiled exec's time goes: the shim built with one attach step
left out at a time, every build timed side by side in one run.

    .venv/bin/python benchmarks/attach_breakdown.py [--batches 5] [--rounds 300]

Each variant is today's csrc/ copied to a temp dir with one step of the
constructor's attach (session.c's vr_init) removed, then built with
build_shim.py's own flags:

  -stdio   vr_stdio_init: the stdio jump-table patch (2 mprotects of libc's RELRO)
  -atfork  the fork-child handler (pthread_atfork / __register_atfork)
  -life    vr_life_attach: the exit hook of the process-life record (on_exit)
  -loader  vr_loader_attach: the startup objects (dl_iterate_phdr)
  -all     all four

A variant is not a working shim (it miscounts what it left out): this only
measures. Every round of cprogs/exec_matrix.c spawns the program under every
variant in a shuffled order (each profiled variant counting into a fresh
session of its own); a figure is the median over batches of the per-round
median difference to an empty LD_PRELOAD library (min..max over batches),
with the median minor faults. /bin/true attaches and counts nothing;
cprogs/one_stat.c makes one stat() (attach, slot claim, count).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import CPROGS, LoadMeter, wait_until_quiet  # noqa: E402
from shim_variants import build_variant  # noqa: E402
from vrift_profile import create_session  # noqa: E402

# (file, the line the step is, what replaces it)
STEPS = {
    "-stdio": [("session.c", "    vr_stdio_init();\n", "")],
    "-atfork": [
        ("session.c", "    vr_atfork_child(forget_slot_in_child);\n", "    (void)forget_slot_in_child;\n")
    ],
    "-life": [("session.c", "    vr_life_attach();\n", "")],
    "-loader": [("session.c", "    vr_loader_attach();\n", "")],
}
STEPS["-all"] = [edit for edits in STEPS.values() for edit in edits]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=300, help="spawns per variant per batch")
    ap.add_argument("--wait-quiet", type=float, default=0.0, metavar="S")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vrift-attach-") as t:
        tmp = Path(t)
        libs = {"full": build_variant("", [], tmp)}
        for name, edits in STEPS.items():
            libs[name] = build_variant(name, edits, tmp)
        matrix, one_stat = tmp / "exec_matrix", tmp / "one_stat"
        subprocess.run(["gcc", "-O2", "-o", matrix, CPROGS / "exec_matrix.c"], check=True)
        subprocess.run(["gcc", "-O2", "-o", one_stat, CPROGS / "one_stat.c"], check=True)
        (tmp / "empty.c").write_text("int vrift_bench_empty_preload;\n")
        empty = tmp / "empty.so"
        subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", empty, tmp / "empty.c"], check=True)
        if args.wait_quiet:
            wait_until_quiet(args.wait_quiet)
        load = LoadMeter()
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for prog in ("/bin/true", str(one_stat)):
            for b in range(args.batches):
                variants = ["plain", f"empty:LD_PRELOAD={empty}", f"off:LD_PRELOAD={libs['full']}"]
                sessions = []
                for name, lib in libs.items():
                    s = create_session(tmp / f"s{name}-{b}.vrift")
                    sessions.append(s)
                    variants.append(f"{name}:LD_PRELOAD={lib},VRIFT_PROFILE=1,VRIFT_PROFILE_PATH={s}")
                out = subprocess.run(
                    [matrix, str(args.rounds), str(2000 + b), *variants, "--", prog],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                for s in sessions:
                    s.unlink()
                for line in out.splitlines()[1:]:
                    name, _wall, _q1, med, _q3, _cpu, _dcpu, flt = line.split()
                    results.setdefault((prog, name), []).append((float(med), float(flt)))
        print(f"per exec, us over an empty preload: median of {args.batches} batches x {args.rounds} rounds")
        print(f"  {load.report()}")
        for prog in ("/bin/true", str(one_stat)):
            print(f"\n{Path(prog).name}")
            empty_runs = [m for m, _ in results[(prog, "empty")]]
            for name in ["off", *libs]:
                runs = results[(prog, name)]
                over = [m - e for (m, _), e in zip(runs, empty_runs, strict=True)]
                faults = statistics.median(f for _, f in runs)
                label = "profiled" if name == "full" else f"profiled {name}" if name != "off" else "off"
                print(
                    f"  {label:<20} {statistics.median(over):+6.1f} ({min(over):+.1f}..{max(over):+.1f})"
                    f"  minflt {faults:.0f}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
