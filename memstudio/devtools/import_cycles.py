"""Import cycles between memstudio's modules, found with grimp (which import-linter already installs).

A cycle makes import order matter and hides layering mistakes (the figures spec once imported its own
writer); ``tests/test_import_graph.py`` keeps the module graph acyclic. Imports under ``if TYPE_CHECKING:``
do not run and are left out; imports inside functions do run and count.
"""

from __future__ import annotations

import grimp
from grimp import ImportGraph


def module_graph(package: str) -> ImportGraph:
    """The runtime import graph of ``package`` (no cache: the check must see the files as they are now)."""
    return grimp.build_graph(package, cache_dir=None, exclude_type_checking_imports=True)


def import_cycles(graph: ImportGraph) -> list[list[str]]:
    """Every group of modules that import each other in a circle (strongly connected, two or more), sorted."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    # Tarjan's algorithm, iterative: the package is deep enough that recursion would need a raised limit.
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, ()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    cycles.append(sorted(group))
    return sorted(cycles)
