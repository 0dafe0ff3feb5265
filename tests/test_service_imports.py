"""The use cases import each other in one direction only: the import graph of app/services has no cycle.

Function-level imports count too: a lazy import hides a cycle from Python, not from the next reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parent.parent / "app" / "services"
PACKAGE = "app.services"


def module_name(path: Path) -> str:
    parts = path.relative_to(SERVICES).with_suffix("").parts
    name = ".".join((PACKAGE, *parts))
    return name.removesuffix(".__init__")


def imported_services(path: Path, known: set[str]) -> set[str]:
    """Every app.services module this file imports, at module level or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # "from app.services import charges" imports the module app.services.charges
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in known and name != PACKAGE}


def import_graph() -> dict[str, set[str]]:
    files = {module_name(path): path for path in SERVICES.rglob("*.py")}
    known = set(files)
    return {name: imported_services(path, known) - {name} for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle as a path that starts and ends at the same module, or [] for none."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = "done"
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_the_services_import_graph_has_no_cycle():
    cycle = find_cycle(import_graph())
    assert not cycle, "app/services imports in a circle: " + " -> ".join(cycle)


def test_the_check_sees_imports_inside_functions(tmp_path):
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    lazy = tmp_path / "lazy.py"
    lazy.write_text("def later():\n    from app.services.charges import x\n")
    assert imported_services(lazy, {"app.services.charges"}) == {"app.services.charges"}


def test_the_graph_knows_the_use_cases():
    graph = import_graph()
    assert "app.services.charges" in graph["app.services.appointments"]
    assert "app.services.errors" in graph
