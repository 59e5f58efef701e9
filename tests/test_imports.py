"""Imports go one way: no cycle among convcalc's modules, and the import-linter contracts of
pyproject.toml hold (`lint-imports`).

import-linter's ``acyclic_siblings`` contract compares siblings only, so it does not see a package
that imports its own submodule while the submodule imports the package back (``cli/__init__`` <->
``cli/compare``); this test looks at every module, packages and submodules alike.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from collections import deque
from pathlib import Path

import pytest

grimp = pytest.importorskip("grimp")

ROOT = Path(__file__).resolve().parent.parent


def import_cycles(package: str, dynamic: tuple[tuple[str, str], ...] = ()) -> list[list[str]]:
    """One shortest cycle per strongly connected group of modules that import each other
    (``a -> b -> a``), from the import statements grimp reads (``TYPE_CHECKING`` ones included)
    and the ``dynamic`` (importer, imported) pairs it cannot read (``importlib.import_module``)."""
    graph = grimp.build_graph(package, cache_dir=None)
    for importer, imported in dynamic:
        graph.add_import(importer=importer, imported=imported)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}
    cycles = []
    for group in _strongly_connected(edges):
        start = min(group)
        if len(group) > 1 or start in edges[start]:
            cycles.append(_shortest_cycle(edges, start, set(group)))
    return cycles


def _strongly_connected(edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (a deep import chain must not hit the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(edges.get(succ, []))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    groups.append(group)
    return groups


def _shortest_cycle(edges: dict[str, list[str]], start: str, group: set[str]) -> list[str]:
    """Breadth first from ``start`` back to it, inside its group."""
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for succ in edges[node]:
            if succ == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if succ in group and succ not in parent:
                parent[succ] = node
                queue.append(succ)
    raise AssertionError(f"{start} is in a cycle but none was found")  # pragma: no cover


def lazy_imports() -> tuple[tuple[str, str], ...]:
    """The imports made by name at run time: the CLI's command modules, the package's PEP 562
    attributes and the notebook displays they load."""
    import convcalc
    from convcalc.cli import COMMANDS

    commands = {("convcalc.cli", f"convcalc.cli.{module}") for module, _, _ in COMMANDS.values()}
    attributes = {("convcalc", f"convcalc{module}") for module in (*convcalc._LAZY.values(), convcalc._DISPLAYS)}
    return tuple(sorted(commands | attributes))


def test_no_import_cycle_among_convcalc_modules():
    cycles = import_cycles("convcalc", lazy_imports())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_a_package_importing_its_own_submodule_back_is_a_cycle(tmp_path, monkeypatch):
    package = tmp_path / "cyclepkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from cyclepkg.child import value\n")
    (package / "child.py").write_text("def value():\n    from cyclepkg import helper\n    return helper\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "a.py").write_text("import cyclepkg.sub.b\n")
    (package / "sub" / "b.py").write_text(textwrap.dedent("""\
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            import cyclepkg.sub.a
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    cycles = import_cycles("cyclepkg")
    assert sorted(cycles) == [
        ["cyclepkg", "cyclepkg.child", "cyclepkg"],  # parent <-> child, an import inside a function
        ["cyclepkg.sub.a", "cyclepkg.sub.b", "cyclepkg.sub.a"],  # siblings, one side under TYPE_CHECKING
    ]


def test_import_linter_contracts_hold():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if lint is None:
        pytest.skip("import-linter is not installed (it is in the test extra)")
    result = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout
