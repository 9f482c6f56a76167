"""Compile libvrift_shim.so from csrc/ (used by the hatch build hook and by hand).

    python packages/vrift-shim/build_shim.py [--debug]

The library lands next to the Python package (src/vrift_shim/) so that
editable installs and the test suite find it in place.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CSRC = HERE / "csrc"
INCLUDE = HERE / "src" / "vrift_shim" / "include"
OUTPUT = HERE / "src" / "vrift_shim" / "libvrift_shim.so"

CFLAGS = [
    "-std=gnu11",
    "-O2",
    "-fPIC",
    "-fvisibility=hidden",
    "-fno-plt",
    "-fno-strict-aliasing",
    "-U_FORTIFY_SOURCE",
    "-Wall",
    "-Wextra",
    "-Werror",
]


def sources() -> list[Path]:
    return sorted(CSRC.glob("*.c"))


def build(output: Path = OUTPUT, debug: bool = False) -> Path:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise SystemExit("vrift-shim: no C compiler found (install gcc)")
    flags = list(CFLAGS)
    if debug:
        flags = [f for f in flags if f != "-O2"] + ["-O1", "-g"]
    cmd = [
        cc,
        *flags,
        f"-I{INCLUDE}",
        f"-I{CSRC}",
        "-shared",
        "-o",
        str(output),
        *map(str, sources()),
        "-ldl",
    ]
    tmp = output.with_suffix(".so.tmp")
    cmd[cmd.index(str(output))] = str(tmp)
    subprocess.run(cmd, check=True)
    os.replace(tmp, output)  # never leave a half-written library under the real name
    return output


if __name__ == "__main__":
    print(build(debug="--debug" in sys.argv[1:]))
