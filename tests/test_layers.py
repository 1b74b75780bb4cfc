"""The house runs one way: every import (function-level ones included) is read with `ast` and
checked against the layer contract written in the README's layout section.

    bench -> pilotgate (CLI, demo, dispatcher, report) -> slack_in, deployments, web (the
    other entry points) -> flows -> tasks -> slack_out -> store -> config -> lifecycle

A module may import its own package or any package below its own; never one above, never a
sibling on its layer. `slackemu` (the Slack stand-in) imports no pilotgate package and only the
demo and the benchmarks may import it. There is no cycle between packages nor between modules,
and an import inside a function stays only where it defers a heavy dependency on purpose, under
a `# Deferred: <why>` comment.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: top to bottom; a package may import only packages on later rows.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"bench"}),
    frozenset({"pilotgate"}),
    frozenset({"slack_in", "deployments", "web"}),
    frozenset({"flows"}),
    frozenset({"tasks"}),
    frozenset({"slack_out"}),
    frozenset({"store"}),
    frozenset({"config"}),
    frozenset({"lifecycle"}),
)
STANDALONE = "slackemu"
STANDALONE_USERS = frozenset({"pilotgate", "bench"})
PACKAGES = frozenset().union(*LAYERS) | {STANDALONE}
DEFERRED = "# Deferred:"


@dataclass(frozen=True)
class Import:
    path: Path  # relative to the root
    line: int
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted
    in_function: bool

    def where(self) -> str:
        return f"{self.path}:{self.line}"


def module_name(path: Path) -> str:
    return ".".join(path.with_suffix("").parts).removesuffix(".__init__")


def python_files(root: Path, packages: Iterable[str]) -> Iterator[Path]:
    for package in sorted(packages):
        base = root / package
        if base.is_dir():
            yield from (p for p in sorted(base.rglob("*.py")) if "migrations" not in p.parts)


def read_imports(root: Path, packages: Iterable[str]) -> list[Import]:
    """Every import of a project package in the given packages, resolved to the module it
    loads (`from store import gates` is an import of `store.gates`)."""
    packages = set(packages)
    found: list[Import] = []
    for path in python_files(root, packages):
        rel = path.relative_to(root)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(rel))
        functions = [
            n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
        inside = {id(n) for f in functions for n in ast.walk(f) if n is not f}
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    sub = root.joinpath(*node.module.split("."), alias.name)
                    is_module = sub.with_suffix(".py").exists() or sub.is_dir()
                    targets.append(f"{node.module}.{alias.name}" if is_module else node.module)
            for target in dict.fromkeys(targets):
                if target.split(".")[0] in PACKAGES:
                    found.append(
                        Import(
                            rel,
                            getattr(node, "lineno", 0),
                            module_name(rel),
                            target,
                            id(node) in inside,
                        )
                    )
    return found


def layer_of(package: str) -> int | None:
    return next((i for i, layer in enumerate(LAYERS) if package in layer), None)


def contract_violations(imports: Iterable[Import]) -> list[str]:
    problems = []
    for imp in imports:
        src, dst = imp.module.split(".")[0], imp.target.split(".")[0]
        if src == dst:
            continue
        if src == STANDALONE:
            problems.append(f"{imp.where()}: {STANDALONE} imports {imp.target}; it stands alone")
            continue
        if dst == STANDALONE:
            if src not in STANDALONE_USERS:
                problems.append(f"{imp.where()}: {src} imports the Slack stand-in {imp.target}")
            continue
        a, b = layer_of(src), layer_of(dst)
        if a is None or b is None:
            problems.append(f"{imp.where()}: {src} or {dst} is not in the layer contract")
        elif b == a:
            problems.append(f"{imp.where()}: {imp.module} imports {imp.target} sideways")
        elif b < a:
            problems.append(f"{imp.where()}: {imp.module} imports {imp.target}, a layer above")
    return problems


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def graph(imports: Iterable[Import], key: str) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for imp in imports:
        a, b = imp.module, imp.target
        if key == "package":
            a, b = a.split(".")[0], b.split(".")[0]
        if a != b:
            edges.setdefault(a, set()).add(b)
    return edges


def _explained_in(block: list[ast.stmt], lines: list[str]) -> set[int]:
    """Lines of the imports in `block` whose run of consecutive imports sits right under a
    comment that says `# Deferred: ...`."""
    explained = set()
    for k, stmt in enumerate(block):
        if not isinstance(stmt, ast.Import | ast.ImportFrom):
            continue
        first = k
        while first > 0 and isinstance(block[first - 1], ast.Import | ast.ImportFrom):
            first -= 1
        i = block[first].lineno - 2
        comments = []
        while i >= 0 and lines[i].strip().startswith("#"):
            comments.append(lines[i].strip())
            i -= 1
        if any(c.startswith(DEFERRED) for c in comments):
            explained.add(stmt.lineno)
    return explained


def undeferred(root: Path, imports: Iterable[Import]) -> list[str]:
    """Function-level imports whose run of imports has no `# Deferred:` comment right above."""
    problems = []
    by_file: dict[Path, set[int]] = {}
    for imp in imports:
        if imp.in_function:
            by_file.setdefault(imp.path, set()).add(imp.line)
    for rel, wanted in sorted(by_file.items()):
        text = (root / rel).read_text(encoding="utf-8")
        lines = text.splitlines()
        explained: set[int] = set()
        for node in ast.walk(ast.parse(text)):
            for field in ("body", "orelse", "finalbody"):
                block = getattr(node, field, None)
                if isinstance(block, list):
                    explained |= _explained_in(block, lines)
        for line in sorted(wanted - explained):
            target = next(i.target for i in imports if i.path == rel and i.line == line)
            problems.append(
                f"{rel}:{line}: import of {target} inside a function without a "
                f"'{DEFERRED} <why>' comment"
            )
    return problems


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    return read_imports(ROOT, PACKAGES)


def test_every_package_is_read(imports: list[Import]) -> None:
    assert {p.parts[len(ROOT.parts)] for p in python_files(ROOT, PACKAGES)} == PACKAGES
    assert {i.module.split(".")[0] for i in imports} >= PACKAGES - {STANDALONE}
    assert sum(1 for i in imports if i.in_function) > 0  # function-level imports are seen


def test_imports_run_one_way(imports: list[Import]) -> None:
    assert contract_violations(imports) == []


def test_no_cycle_between_packages(imports: list[Import]) -> None:
    assert cycles(graph(imports, "package")) == []


def test_no_cycle_between_modules(imports: list[Import]) -> None:
    assert cycles(graph(imports, "module")) == []


def test_imports_inside_functions_say_why(imports: list[Import]) -> None:
    assert undeferred(ROOT, imports) == []


# ---------------------------------------------------------------- the checker itself can fail


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_checker_names_an_upward_import_a_cycle_and_an_unexplained_deferral(
    tmp_path: Path,
) -> None:
    root = _tree(
        tmp_path,
        {
            "lifecycle/__init__.py": "",
            "lifecycle/rules.py": "from store import gates\n",
            "store/__init__.py": "",
            "store/gates.py": "from lifecycle import rules\n",
            "tasks/__init__.py": "",
            "tasks/a.py": "def f():\n    from tasks import b\n",
            "tasks/b.py": "from tasks import a\n",
            "flows/__init__.py": "",
            "flows/ok.py": "def f():\n    # Deferred: heavy\n    from tasks import a\n",
        },
    )
    found = read_imports(root, PACKAGES)
    assert contract_violations(found) == [
        "lifecycle/rules.py:1: lifecycle.rules imports store.gates, a layer above"
    ]
    assert cycles(graph(found, "package")) == [["lifecycle", "store"]]
    assert ["tasks.a", "tasks.b"] in cycles(graph(found, "module"))
    assert undeferred(root, found) == [
        "tasks/a.py:2: import of tasks.b inside a function without a '# Deferred: <why>' comment"
    ]
