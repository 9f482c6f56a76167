"""Generate a multi-file C project with a Makefile (a real build workload).

    python benchmarks/workloads/cproject.py DIR [--files 40]

Each module includes a few shared headers and system headers, as real
code does, so the compiler's file-system behaviour (header search,
realpath, stat storms) is representative.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def generate(root: Path, files: int = 40) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    inc = root / "include"
    inc.mkdir(exist_ok=True)
    for h in range(5):
        (inc / f"util{h}.h").write_text(
            f"#ifndef UTIL{h}_H\n#define UTIL{h}_H\n#include <stddef.h>\n"
            f"static inline int util{h}(int x) {{ return x * {h + 2} + {h}; }}\n#endif\n"
        )
    for i in range(files):
        (root / f"mod{i}.c").write_text(
            "#include <stdio.h>\n#include <string.h>\n#include <stdlib.h>\n"
            + "".join(f'#include "util{h}.h"\n' for h in range(5))
            + f'int mod{i}(int x) {{ char b[32]; snprintf(b, sizeof b, "%d", x);'
            f" return util{i % 5}((int)strlen(b)) + {i}; }}\n"
        )
    decls = "".join(f"int mod{i}(int);\n" for i in range(files))
    body = " + ".join(f"mod{i}(1)" for i in range(files))
    (root / "main.c").write_text(
        f'#include <stdio.h>\n{decls}int main(void) {{ printf("%d\\n", {body}); return 0; }}\n'
    )
    objs = " ".join(f"mod{i}.o" for i in range(files))
    (root / "Makefile").write_text(
        f"CFLAGS ?= -O1\nOBJS = main.o {objs}\n"
        "app: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n"
        "%.o: %.c $(wildcard include/*.h)\n\t$(CC) $(CFLAGS) -Iinclude -c $< -o $@\n"
        "clean:\n\trm -f *.o app\n.PHONY: clean\n"
    )
    return root


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--files", type=int, default=40)
    a = ap.parse_args()
    print(generate(a.dir, a.files))
