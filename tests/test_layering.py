"""Imports point one way: schemas <- agents <- tasks <- flows <- deployments, with storage beside agents.

A module may import its own package and the packages below it, never one above: what two layers
share sits in the lower one. Imports inside functions and under TYPE_CHECKING count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAY_IMPORT = {
    "schemas": {"schemas"},
    "agents": {"schemas", "agents"},
    "storage": {"schemas", "storage"},
    "tasks": {"schemas", "agents", "storage", "tasks"},
    "flows": {"schemas", "agents", "storage", "tasks", "flows"},
    "deployments": {"schemas", "agents", "storage", "tasks", "flows", "deployments"},
}


def first_party_imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import of a layer package in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, name) for name in names if name.split(".")[0] in MAY_IMPORT]
    return found


def upward_imports() -> list[str]:
    problems = []
    for layer, allowed in MAY_IMPORT.items():
        for path in sorted((ROOT / layer).rglob("*.py")):
            for line, module in first_party_imports(path):
                if module.split(".")[0] not in allowed:
                    problems.append(f"{path.relative_to(ROOT)}:{line} imports {module} ({layer} is below it)")
    return problems


def test_no_module_imports_a_layer_above_its_own():
    assert upward_imports() == []


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    for layer in MAY_IMPORT:
        (tmp_path / layer).mkdir()
    (tmp_path / "agents" / "bad.py").write_text("def f():\n    from tasks.openapi import compile_openapi\n")
    (tmp_path / "schemas" / "fine.py").write_text("import json\nfrom schemas.tool import Tool\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert upward_imports() == ["agents/bad.py:2 imports tasks.openapi (agents is below it)"]


def flows_import_graph() -> dict[str, set[str]]:
    """Each module of flows/ and the modules of flows/ it imports (anywhere in the file)."""
    modules = {
        f"flows.{path.stem}": path for path in (ROOT / "flows").glob("*.py") if path.stem != "__init__"
    }
    graph = {}
    for name, path in modules.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "flows":
                imported |= {f"flows.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module)
        graph[name] = {module for module in imported if module in modules and module != name}
    return graph


def import_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of the graph, as the modules along it (the first again at the end); [] when none."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str]:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return []
        for imported in sorted(graph[module]):
            if cycle := visit(imported, [*path, module]):
                return cycle
        done.add(module)
        return []

    for module in sorted(graph):
        if cycle := visit(module, []):
            return cycle
    return []


def test_no_module_of_flows_imports_one_that_imports_it_back():
    assert import_cycle(flows_import_graph()) == []


def test_the_cycle_check_sees_an_import_inside_a_function_or_under_type_checking(tmp_path, monkeypatch):
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "a.py").write_text("def f():\n    from flows.b import g\n")
    (tmp_path / "flows" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from flows import c\n"
    )
    (tmp_path / "flows" / "c.py").write_text("import flows.a\n")
    (tmp_path / "flows" / "d.py").write_text("from flows.a import f\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert import_cycle(flows_import_graph()) == ["flows.a", "flows.b", "flows.c", "flows.a"]
