"""The core's modules import one another in one direction only: no cycles.

Every import counts, also those inside functions (a lazy import is still an arrow
a reader has to follow); only ``if TYPE_CHECKING:`` imports are left out. The
package root ``unibind`` re-exports the public API, so it sits on top.
"""

from __future__ import annotations

import grimp
import pytest

#: Arrows allowed despite closing a cycle, with the names they may import (none today).
PENDING: dict[tuple[str, str], set[str]] = {}


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("unibind", cache_dir=None, exclude_type_checking_imports=True)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _imported_names(graph, importer: str, imported: str) -> set[str]:
    names = set()
    for detail in graph.get_import_details(importer=importer, imported=imported):
        line = detail["line_contents"]
        names |= {n.strip().split(" as ")[0] for n in line.split(" import ", 1)[1].strip("()").split(",")}
    return names


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_core_has_no_import_cycles(graph):
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    for (importer, imported), allowed in PENDING.items():
        if imported in edges.get(importer, ()):
            assert _imported_names(graph, importer, imported) <= allowed, (importer, imported)
            edges[importer].discard(imported)
    assert _cycles(edges) == []


def test_only_the_root_imports_upwards_into_the_root(graph):
    """Submodules never import the package root (``unibind.version`` holds the version)."""
    assert graph.find_modules_that_directly_import("unibind") == set()
