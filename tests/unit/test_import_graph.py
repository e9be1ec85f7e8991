"""The domain packages (grants.<domain>) import each other in one direction only.

Every import counts, at module level or inside a function (a lazy import hides a cycle, it does
not remove it); only ``if TYPE_CHECKING:`` blocks, which never run, are left out. So a newcomer can
read the domains bottom-up: audit, notifications, accounts, programs, applications, reviews, awards,
then dashboard and exports, which read them all.
"""

from __future__ import annotations

import ast
from pathlib import Path

GRANTS = Path(__file__).resolve().parents[2] / "grants"
DOMAINS = sorted(p.name for p in GRANTS.iterdir() if p.is_dir() and (p / "__init__.py").exists())


def _runtime_nodes(tree: ast.AST):
    """Every node except the bodies of ``if TYPE_CHECKING:`` (annotations only, never run)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING":
            todo.extend(node.orelse)
        else:
            todo.extend(ast.iter_child_nodes(node))


def _imported_modules(tree: ast.AST, package: str) -> set[str]:
    found = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x / from .models import y
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def domain_graph() -> dict[str, set[str]]:
    """domain -> the other domains its modules import."""
    graph: dict[str, set[str]] = {d: set() for d in DOMAINS}
    for domain in DOMAINS:
        for path in (GRANTS / domain).rglob("*.py"):
            package = "grants." + ".".join(path.relative_to(GRANTS).with_suffix("").parts[:-1])
            for module in _imported_modules(ast.parse(path.read_text()), package):
                parts = module.split(".")
                if len(parts) >= 2 and parts[0] == "grants" and parts[1] in graph and parts[1] != domain:
                    graph[domain].add(parts[1])
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path (first node repeated at the end), or None."""
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_checker_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_imports_inside_functions_but_not_type_checking_ones():
    tree = ast.parse("def f():\n    from grants.awards.services import committed_cents\n")
    assert "grants.awards.services" in _imported_modules(tree, "grants.programs")
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from grants.accounts.models import User\n")
    assert "grants.accounts.models" not in _imported_modules(tree, "grants.audit")


def test_domain_packages_import_each_other_without_cycles():
    graph = domain_graph()
    assert {"programs", "applications", "reviews", "awards"} <= set(graph)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle between domain packages: " + " -> ".join(cycle or [])
