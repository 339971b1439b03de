"""The suite's own layout: what test modules share lives in `tests/support`, never in another test
module (importing one runs its module-level code and ties two specifications together)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_no_test_module_imports_another():
    modules = sorted([*TESTS.glob("test_*.py"), TESTS / "conftest.py", *(TESTS / "support").glob("*.py")])
    importing = {
        path.name: sorted(name for name in imported_modules(path) if name.startswith("tests.test_"))
        for path in modules
    }
    assert {name: found for name, found in importing.items() if found} == {}


def test_both_forms_of_import_are_seen(tmp_path: Path):
    source = tmp_path / "test_x.py"
    source.write_text("import tests.test_a\nfrom tests import test_b\nfrom tests.support import records\n")
    found = imported_modules(source)
    assert {name for name in found if name.startswith("tests.test_")} == {"tests.test_a", "tests.test_b"}
