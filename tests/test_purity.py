"""lifecycle/ is pure: no orchestration, Slack, database or template imports, directly or not."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIFECYCLE = ROOT / "lifecycle"
FORBIDDEN = ("prefect", "slack_sdk", "slack_bolt", "sqlalchemy", "jinja2")
MODULES = sorted(LIFECYCLE.rglob("*.py"))


def imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)
              and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            names.add(str(node.args[0].value))
    return names


def test_there_are_modules_to_check() -> None:
    assert {p.stem for p in MODULES} >= {"__init__", "stages", "policy", "proposal", "gates",
                                         "deadlines", "errors"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_forbidden_import_in_source(path: Path) -> None:
    bad = sorted(n for n in imported_names(path) if n.split(".")[0] in FORBIDDEN)
    assert bad == [], f"{path.relative_to(ROOT)} imports {', '.join(bad)}"


def test_importing_lifecycle_loads_none_of_them() -> None:
    modules = [".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
               for p in MODULES]
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert json.loads(out) == []
