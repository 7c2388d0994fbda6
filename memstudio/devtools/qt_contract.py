"""An import-linter contract type: a package may import only the listed Qt modules.

import-linter's built-in ``forbidden`` contract sees an external package only as a whole (``PySide6``), so it
cannot say "the engine may use QtCore but not QtWidgets". This contract reads the import lines grimp
recorded for each import of ``PySide6`` (or the Qt wrappers) and checks the submodule named on each line.
"""

from __future__ import annotations

import re

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck

_QT_PACKAGES = ("PySide6", "PyQt5", "PyQt6", "qtpy", "superqt", "shiboken6")
_MODULE = re.compile(r"\b(PySide6|PyQt5|PyQt6|qtpy|superqt|shiboken6)((?:\.\w+)*)")


class QtModulesContract(Contract):
    """Options: ``source_modules`` (packages to check), ``allowed_qt_modules`` (e.g. ``PySide6.QtCore``)."""

    source_modules = fields.ListField(subfield=fields.StringField())
    allowed_qt_modules = fields.ListField(subfield=fields.StringField(), required=False, default=[])

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        allowed = set(self.allowed_qt_modules)  # type: ignore[arg-type]
        violations = []
        for package in self.source_modules:  # type: ignore[attr-defined]
            importers = {m for m in graph.modules if m == package or m.startswith(package + ".")}
            for importer in sorted(importers):
                for qt in _QT_PACKAGES:
                    if qt not in graph.modules:
                        continue
                    for detail in graph.get_import_details(importer=importer, imported=qt):
                        for name in _imported_qt_modules(detail["line_contents"]):
                            if name not in allowed:
                                violations.append((importer, detail["line_number"], name))
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, line, name in check.metadata["violations"]:
            output.print_error(f"{importer}:{line} imports {name}")


def _imported_qt_modules(line: str) -> list[str]:
    """Qt modules named on an import line.

    ``from PySide6.QtCore import X`` → ['PySide6.QtCore']; ``from PySide6 import QtWidgets`` →
    ['PySide6.QtWidgets'].
    """
    match = _MODULE.search(line)
    if not match:
        return []
    base = match.group(1) + match.group(2)
    from_import = re.match(r"\s*from\s+\S+\s+import\s+(.+)", line)
    if from_import and base.count(".") == 0:
        names = [n.strip().split(" as ")[0].strip("() ") for n in from_import.group(1).split(",")]
        return [f"{base}.{n}" for n in names if n]
    return [base if base.count(".") <= 1 else ".".join(base.split(".")[:2])]
