"""No module of a vrift package imports itself back, however indirectly.

A cycle makes import order matter and hides which module owns what (the
CLI's `main` and `profile_cmd` once imported each other, and three views
borrowed each other's private helpers). Imports inside functions count
too: deferring an import does not remove the dependency. Only imports
under `if TYPE_CHECKING:` are left out (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGES = sorted((Path(__file__).resolve().parents[2] / "packages").glob("*/src/*/__init__.py"))


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, package: str, module: str, modules: set[str]) -> set[str]:
    """The package's own modules that `module` imports."""
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == package and len(parts) > 1:
                    out.add(parts[1])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 1:
                base = node.module.split(".")[0] if node.module else None
            elif node.level == 0 and node.module and node.module.split(".")[0] == package:
                parts = node.module.split(".")
                base = parts[1] if len(parts) > 1 else None
            else:
                base = ""
            if base is None:  # `from . import a, b` or `from pkg import a`: names may be modules
                out.update(a.name for a in node.names if a.name in modules)
            elif base:
                out.add(base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    out.discard(module)
    return out & modules


def import_graph(init: Path) -> dict[str, set[str]]:
    pkg_dir = init.parent
    package = pkg_dir.name
    files = {p.stem: p for p in pkg_dir.glob("*.py") if p.stem != "__init__"}
    modules = set(files)
    return {m: _imports(ast.parse(p.read_text()), package, m, modules) for m, p in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def dfs(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return path[path.index(n) :] + [n]
            if n not in state and (found := dfs(n)):
                return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := dfs(m)):
            return found
    return None


@pytest.mark.parametrize("init", PACKAGES, ids=[p.parent.name for p in PACKAGES])
def test_no_import_cycle_inside_the_package(init: Path):
    cycle = find_cycle(import_graph(init))
    assert cycle is None, f"{init.parent.name}: " + " -> ".join(cycle or [])


def test_the_check_sees_cycles_deferred_or_not(tmp_path: Path):
    pkg = tmp_path / "demo"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .c import g\n")
    (pkg / "c.py").write_text("import demo.a\n")
    (pkg / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import x\n")
    graph = import_graph(pkg / "__init__.py")
    assert graph == {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    (pkg / "c.py").write_text("")
    assert find_cycle(import_graph(pkg / "__init__.py")) is None


def test_every_package_is_checked():
    assert len(PACKAGES) == len(list(PACKAGES[0].parents[3].glob("vrift-*"))) == 8
