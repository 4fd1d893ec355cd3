"""
The package's import graph has no circle, counting every import: at module level, inside functions (lazy) and
under ``TYPE_CHECKING``. A circle means two modules answer each other's question; the graph is read with ``ast``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "airflow_provider_evolink"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imported(node: ast.AST, module: str, path: Path, modules: dict[str, Path]) -> list[str]:
    """The package modules one import statement names (``from a import b`` names ``a.b`` when that is a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in modules]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        source = f"{base}.{node.module}" if node.module else base
    else:
        source = node.module or ""
    named = [f"{source}.{alias.name}" for alias in node.names if f"{source}.{alias.name}" in modules]
    return named or ([source] if source in modules else [])


def import_graph() -> dict[str, set[str]]:
    """Each package module and the package modules it imports anywhere in its source."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {name for node in ast.walk(tree) for name in _imported(node, module, path, modules)}
        graph[module] = imported - {module}
    return graph


def find_circle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle as ``[a, b, ..., a]``, or ``[]``."""
    done: set[str] = set()
    for start in sorted(graph):
        path: list[str] = []
        on_path: set[str] = set()
        stack = [(start, iter(sorted(graph[start])))]
        if start in done:
            continue
        path.append(start)
        on_path.add(start)
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
            elif child in on_path:
                return [*path[path.index(child) :], child]
            elif child not in done:
                stack.append((child, iter(sorted(graph[child]))))
                path.append(child)
                on_path.add(child)
    return []


def test_the_package_import_graph_has_no_circle_counting_lazy_and_type_checking_imports() -> None:
    graph = import_graph()
    assert "airflow_provider_evolink.models.responses" in graph["airflow_provider_evolink.models"]  # lazy counted
    assert find_circle(graph) == []


def test_the_circle_finder_finds_a_circle_through_three_modules() -> None:
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]


def test_the_task_status_module_is_a_leaf() -> None:
    assert import_graph()["airflow_provider_evolink.models.status"] == set()
