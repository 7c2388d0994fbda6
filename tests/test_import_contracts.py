"""The floors hold: core never imports Qt, the engine only QtCore — checked by import-linter, and the checks bite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from memstudio.devtools.qt_contract import _imported_qt_modules

REPO = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).parent / "lint-imports"


def test_project_contracts_are_kept():
    result = subprocess.run([str(LINT)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    contracts = (REPO / "pyproject.toml").read_text(encoding="utf-8").count("[[tool.importlinter.contracts]]")
    assert contracts >= 5 and f"{contracts} kept, 0 broken" in result.stdout


def test_contracts_fail_when_core_imports_qt_or_engine_imports_widgets(tmp_path):
    pkg = tmp_path / "fakestudio"
    for sub in ("core", "engine", "ui"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "core" / "model.py").write_text("from PySide6.QtCore import QObject\n")
    (pkg / "engine" / "worker.py").write_text(
        "from PySide6.QtCore import QThread\nfrom PySide6 import QtWidgets\n"
    )
    (tmp_path / "setup.cfg").write_text(
        "[importlinter]\nroot_package = fakestudio\ninclude_external_packages = True\n"
        "contract_types =\n    qt_modules: memstudio.devtools.qt_contract.QtModulesContract\n\n"
        "[importlinter:contract:core]\nname = core is Qt-free\ntype = forbidden\n"
        "source_modules = fakestudio.core\nforbidden_modules = PySide6\n\n"
        "[importlinter:contract:engine]\nname = engine uses QtCore only\ntype = qt_modules\n"
        "source_modules = fakestudio.engine\nallowed_qt_modules = PySide6.QtCore\n"
    )
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{REPO}")
    result = subprocess.run(
        [str(LINT), "--config", str(tmp_path / "setup.cfg")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode != 0
    assert "core is Qt-free BROKEN" in result.stdout
    assert "engine uses QtCore only BROKEN" in result.stdout
    assert "fakestudio.engine.worker:2 imports PySide6.QtWidgets" in result.stdout


def test_import_line_parsing():
    assert _imported_qt_modules("from PySide6.QtCore import QObject, Signal") == ["PySide6.QtCore"]
    assert _imported_qt_modules("from PySide6 import QtCore, QtGui as G") == [
        "PySide6.QtCore",
        "PySide6.QtGui",
    ]
    assert _imported_qt_modules("import PySide6.QtWidgets.QWidget") == ["PySide6.QtWidgets"]
    assert _imported_qt_modules("from superqt import QLabeledSlider") == ["superqt.QLabeledSlider"]
