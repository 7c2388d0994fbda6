"""memstudio's modules import each other without cycles, and the check that says so can fail."""

from __future__ import annotations

import sys

from grimp import ImportGraph

from memstudio.devtools.import_cycles import import_cycles, module_graph


def test_memstudio_has_no_import_cycles() -> None:
    graph = module_graph("memstudio")
    assert "memstudio.core.figures.spec" in graph.modules  # the graph is the real package
    assert import_cycles(graph) == []


def test_the_check_finds_a_cycle_through_a_function_level_import(tmp_path, monkeypatch) -> None:
    pkg = tmp_path / "cyclic"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "spec.py").write_text("def load():\n    from cyclic.export import read\n    return read()\n")
    (pkg / "export.py").write_text("from cyclic.spec import load\n\ndef read():\n    return 1\n")
    (pkg / "typed.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from cyclic.plain import X\n"
    )
    (pkg / "plain.py").write_text("from cyclic import typed\nX = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        cycles = import_cycles(module_graph("cyclic"))
    finally:
        sys.modules.pop("cyclic", None)
    # spec ↔ export is a real cycle; typed → plain runs only under a type checker, so plain → typed is not one.
    assert cycles == [["cyclic.export", "cyclic.spec"]]


def test_cycles_are_grouped_and_chains_are_not_cycles() -> None:
    graph = ImportGraph()
    for name in ("a", "b", "c", "d", "e"):
        graph.add_module(name)
    for importer, imported in (("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "e")):
        graph.add_import(importer=importer, imported=imported)
    assert import_cycles(graph) == [["a", "b", "c"]]
    graph.remove_import(importer="c", imported="a")
    assert import_cycles(graph) == []
