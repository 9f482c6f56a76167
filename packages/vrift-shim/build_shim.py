"""Compile libvrift_shim.so from csrc/ and the loader audit module
libvrift_audit.so from csrc/audit/ (used by the hatch build hook and by hand).

    python packages/vrift-shim/build_shim.py [--debug]

The library lands next to the Python package (src/vrift_shim/) so that
editable installs and the test suite find it in place.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CSRC = HERE / "csrc"
INCLUDE = HERE / "src" / "vrift_shim" / "include"
OUTPUT = HERE / "src" / "vrift_shim" / "libvrift_shim.so"
AUDIT_SOURCE = CSRC / "audit" / "loader_audit.c"
AUDIT_OUTPUT = OUTPUT.with_name("libvrift_audit.so")

# Both libraries: position-independent, nothing exported but what is marked,
# every warning an error.
COMMON_FLAGS = ["-std=gnu11", "-O2", "-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra", "-Werror"]

CFLAGS = [
    *COMMON_FLAGS,
    "-fno-plt",
    "-fno-strict-aliasing",
    "-U_FORTIFY_SOURCE",
    # Never unmapped by dlclose (a cffi handle in a Python process): the
    # exit handler the constructor registers (lifetime.c) must stay callable.
    "-Wl,-z,nodelete",
]

# Per-exec cost (docs/shim.md, "Per-exec cost"): every process of a build
# loads the library, and each page it touches first costs a page fault
# (1-6 us on the VM we measured on).
#  - Objects bigger than 1 KiB (the VFS's fd table and projections, path
#    buffers: ~300 KB) go to .lbss, after all small variables, so the small
#    ones (resolved pointers, session state) share the page the loader
#    already writes when it zeroes the end of .data: no page fault of their
#    own. (x86-64 only; the medium model costs the large tables one more
#    instruction per access.)
#  - One read-only+executable segment instead of three (headers, code,
#    constants): the loader maps two segments fewer, and the kernel's
#    fault-around (16 pages around a read fault) maps code and constants
#    together.
#  - Constants before the code (EARLY_RODATA) and DT_FINI pointing at an
#    empty function near the start (vr_fini in session.c): what a process
#    touches of the library (the symbol tables, constructor, slot claim,
#    symbol lookup, the first wrappers and their names) then lies in the
#    first ~20 KB, mapped by the fault the loader takes anyway. The script
#    also keeps large initialized objects (.lrodata, .ldata, which the
#    medium model makes of anything over the threshold) in the two
#    segments, where the default script would add a third and a fourth.
# A linker without INSERT scripts (or -mcmodel) still builds: see build().
LAYOUT_FLAGS = ["-Wl,-z,noseparate-code", "-Wl,-fini=vr_fini"]
if platform.machine() in ("x86_64", "AMD64"):
    LAYOUT_FLAGS += ["-mcmodel=medium", "-mlarge-data-threshold=1024"]

EARLY_RODATA = """\
SECTIONS
{
  .rodata.vrift_early : { *(.rodata .rodata.* .gnu.linkonce.r.* .lrodata .lrodata.*) }
}
INSERT BEFORE .text;
SECTIONS
{
  .data.vrift_large : { *(.ldata .ldata.*) }
}
INSERT AFTER .data;
"""

# Link order = order of code and data in the library: what every profiled
# process runs (attach, symbol lookup, timing, the wrappers) first and
# together, the VFS (used only with a projection) last.
FIRST = ["session.c", "lifetime.c", "loader.c", "stdio.c", "resolve.c", "timing.c", "interpose.c"]


def sources() -> list[Path]:
    found = sorted(CSRC.glob("*.c"))
    rank = {name: i for i, name in enumerate(FIRST)}
    return sorted(found, key=lambda p: (rank.get(p.name, len(FIRST)), p.name.startswith("vfs_"), p.name))


# The loader audit module (csrc/audit/loader_audit.c) runs inside ld.so, in a
# namespace of its own: linked against nothing (no libc, so the loader maps no
# second copy of it), and any undefined symbol, such as a memcpy the compiler
# emits, fails the build rather than the process.
AUDIT_FLAGS = [
    *COMMON_FLAGS,
    "-fno-stack-protector",
    "-fno-builtin",
    "-shared",
    "-nostdlib",
    "-Wl,--no-undefined",
    "-Wl,--hash-style=gnu",
    # two segments (code+constants, data) and no RELRO (it has no
    # relocations): the loader maps two pieces and makes no mprotect
    "-Wl,-z,noseparate-code",
    "-Wl,-z,norelro",
]


def build_audit(cc: str, output: Path = AUDIT_OUTPUT) -> Path:
    tmp = output.with_suffix(".so.tmp")
    cmd = [cc, *AUDIT_FLAGS, f"-I{CSRC}", "-o", str(tmp), str(AUDIT_SOURCE)]
    subprocess.run(cmd, check=True)
    os.replace(tmp, output)
    return output


def build(output: Path = OUTPUT, debug: bool = False) -> Path:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise SystemExit("vrift-shim: no C compiler found (install gcc)")
    flags = list(CFLAGS)
    if debug:
        flags = [f for f in flags if f != "-O2"] + ["-O1", "-g"]
    tmp = output.with_suffix(".so.tmp")

    def link(extra: list[str], check: bool) -> bool:
        cmd = [cc, *flags, *extra, f"-I{INCLUDE}", f"-I{CSRC}", "-shared", "-o", str(tmp)]
        cmd += [*map(str, sources()), "-ldl"]
        return subprocess.run(cmd, check=check, stderr=None if check else subprocess.DEVNULL).returncode == 0

    with tempfile.TemporaryDirectory(prefix="vrift-shim-build-") as t:
        script = Path(t) / "early_rodata.ld"
        script.write_text(EARLY_RODATA)
        if not link([*LAYOUT_FLAGS, f"-Wl,-T,{script}"], check=False):
            print("vrift-shim: the build with layout flags failed; building without them", file=sys.stderr)
            link([], check=True)
    os.replace(tmp, output)  # never leave a half-written library under the real name
    try:
        build_audit(cc, output.with_name(AUDIT_OUTPUT.name))
    except subprocess.CalledProcessError:  # optional: only --loader needs it, and it says so
        print("vrift-shim: the loader audit module did not build; --loader is unavailable", file=sys.stderr)
    return output


if __name__ == "__main__":
    print(build(debug="--debug" in sys.argv[1:]))
