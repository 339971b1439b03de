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
