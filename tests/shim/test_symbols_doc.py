"""docs/symbols.md cannot go stale: its table names exactly the symbols the
built library exports, and each class agrees with the wrapper's source.

The library's dynamic symbols come from `nm -D --defined-only`. A wrapper's
source is the top-level macro invocation or function in csrc/ that defines
it; the `VRIFT_OP_*` constants it names (through the macros it expands)
are the classes it counts as.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from vrift_profile.layout import op_names

ROOT = Path(__file__).resolve().parents[2]
CSRC = ROOT / "packages" / "vrift-shim" / "csrc"
DOC = ROOT / "docs" / "symbols.md"
WRAPPER_FILES = ("interpose.c", "exec.c", "realpath.c", "lifetime.c")
# Classes that are not an op row: a wrapper that counts by flags or by
# syscall number, one that counts nothing, and the one exported helper.
OTHER_CLASSES = {"stat, lstat or fstat", "by number", "not counted", "(not a wrapper)"}


def doc_table() -> dict[str, str]:
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]+?) \|", DOC.read_text(), re.M)
    table = dict(rows)
    assert len(table) == len(rows), "a symbol is listed twice"
    return table


def exported_symbols(lib: Path) -> set[str]:
    out = subprocess.run(["nm", "-D", "--defined-only", str(lib)], capture_output=True, text=True, check=True)
    return {line.split()[-1] for line in out.stdout.splitlines() if line.strip()}


def _macros(text: str) -> dict[str, str]:
    return {
        m.group(1): m.group(2) for m in re.finditer(r"^#define (\w+)\([^)]*\)((?:.*\\\n)*.*)$", text, re.M)
    }


def _ops(text: str, macros: dict[str, str], seen: frozenset[str] = frozenset()) -> set[str]:
    ops = {op.lower() for op in re.findall(r"\bVRIFT_OP_([A-Z]+)\b", text)} - {"count"}
    for name in set(re.findall(r"\b([A-Z][A-Z0-9_]+)\(", text)) - seen:
        if name in macros:
            ops |= _ops(macros[name], macros, seen | {name})
    return ops


def _units(text: str):
    """(defined name, source) of each top-level macro invocation (with the
    body that follows it, if any) and each exported function."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        invocation = re.match(r"^[A-Z][A-Z0-9_]*\((\w+, )?(\w+)", line)
        function = re.match(r"^VR_EXPORT [^(]*?\b(\w+)\(", line)
        if not (invocation or function):
            i += 1
            continue
        j, depth = i, 0
        while invocation:  # to the invocation's closing parenthesis
            depth += lines[j].count("(") - lines[j].count(")")
            if depth <= 0:
                break
            j += 1
        if function or (j + 1 < len(lines) and lines[j + 1].startswith("{")):
            j, depth, opened = j if function else j + 1, 0, False
            while True:  # the function body, to the brace that closes it
                depth += lines[j].count("{") - lines[j].count("}")
                opened = opened or "{" in lines[j]
                if opened and depth <= 0:
                    break
                j += 1
        src = "\n".join(lines[i : j + 1])
        if invocation:
            first, second = invocation.group(1), invocation.group(2)
            # WRAP_X(op, name, ...), WRAP_X(name, ...) or ENTRY(type, name, ...)
            names = {second} | ({first[:-2]} if first else set())
        else:
            names = {function.group(1)}
        for name in names:
            yield name, src
        i = j + 1


def source_ops() -> dict[str, set[str]]:
    headers = "\n".join(p.read_text() for p in CSRC.glob("*.h"))
    texts = [(CSRC / f).read_text() for f in WRAPPER_FILES]
    macros = _macros(headers + "\n".join(texts))
    out: dict[str, set[str]] = {}
    for text in texts:
        for name, src in _units(text):
            out.setdefault(name, _ops(src, macros))
    return out


@pytest.mark.skipif(shutil.which("nm") is None, reason="needs nm (binutils)")
def test_the_table_lists_exactly_the_exported_symbols(shim_lib: Path):
    table, exported = doc_table(), exported_symbols(shim_lib)
    assert sorted(exported - set(table)) == [], "exported but not in docs/symbols.md"
    assert sorted(set(table) - exported) == [], "in docs/symbols.md but not exported"


def test_each_class_agrees_with_the_source():
    table, found = doc_table(), source_ops()
    ops = set(op_names())
    checked = 0
    for symbol, cls in table.items():
        assert cls in ops or cls in OTHER_CLASSES, (symbol, cls)
        named = found.get(symbol)
        if cls == "(not a wrapper)":
            continue
        assert named is not None, f"{symbol}: no wrapper found in {', '.join(WRAPPER_FILES)}"
        if cls == "not counted":
            assert named == set(), f"{symbol} is documented as not counted but its source counts {named}"
        elif named:  # exec and syscall count in helpers (exec.c, COUNT_AS): only named ops are checked
            assert named == {cls}, f"{symbol}: docs say {cls}, the source counts {sorted(named)}"
            checked += 1
    assert checked >= 60  # most wrappers name their class: the check is not vacuous


def test_the_parser_reads_each_wrapper_form():
    text = (
        "#define WRAP_INT(op, name) VR_EXPORT int name(void) { COUNTED(op, 0); }\n"
        "#define COUNTED(op, x) x\n"
        "#define WRAP_READ(name) WRAP_INT(VRIFT_OP_READ, name)\n"
        "WRAP_INT(VRIFT_OP_MUNMAP, munmap)\n"
        "WRAP_READ(pread)\n"
        "ENTRY(int, close, (int fd), (fd), 0)\n"
        "{\n"
        "    COUNTED(VRIFT_OP_CLOSE, 1);\n"
        "}\n"
        "VR_EXPORT int one(void) { return 1; }\n"
        "VR_EXPORT int chdir(const char *p)\n"
        "{\n"
        "    return 0;\n"
        "}\n"
    )
    macros = _macros(text)
    got = {name: _ops(src, macros) for name, src in _units(text)}
    assert got["munmap"] == {"munmap"} and got["pread"] == {"read"} and got["close"] == {"close"}
    assert got["chdir"] == got["one"] == set()
