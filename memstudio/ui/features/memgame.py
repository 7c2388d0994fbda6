"""Tools ▸ Memory game ▸ Export for the web…: the studio side of ``memstudio memgame export-web``.

A built game folder becomes a static web experiment (core/experiments/web_export.py). The copy runs on the
engine thread, so a game with thousands of images never freezes the window; the result or the reason it
failed goes to the status bar and to :attr:`MemoryGameFeature.exported`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog

WEB_TASK = "memgame-web:"


def install(window: Any) -> MemoryGameFeature:
    return MemoryGameFeature(window)


class MemoryGameFeature(QObject):
    """The memory-game menu; one per window."""

    #: An export ended: the ``WebExport`` on success, else the error message (a str).
    exported = Signal(object)

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.menu = window.tools_menu.addMenu("&Memory game")
        self.export_action = QAction("Export a game for the &web…", window)
        self.export_action.setObjectName("memgameExportWebAction")
        self.export_action.setToolTip(
            "A folder from 'memgame build' as a static site: open index.html?participant=P001, or host it"
        )
        self.export_action.triggered.connect(self.choose_and_export)
        self.menu.addAction(self.export_action)
        window.engine.task_done.connect(self._task_done)
        window.engine.failed.connect(self._failed)

    def choose_and_export(self) -> None:
        design = QFileDialog.getExistingDirectory(self.window, "Memory game to export (a 'memgame build' folder)")
        if not design:
            return
        site, _ = QFileDialog.getSaveFileName(self.window, "New folder for the web game", f"{design}-web")
        if site:
            self.export(Path(design), Path(site))

    def export(self, design: Path, site: Path, options: Any = None) -> None:
        """Write the site for ``design`` into the new folder ``site`` (on the engine thread)."""
        from memstudio.core.experiments.web_export import export_web

        self.window.statusBar().showMessage(f"exporting {design.name} for the web…")
        self.window.engine.call(f"{WEB_TASK}{site}", partial(_export_task, export_web, design, site, options))

    def _task_done(self, done: Any) -> None:
        if not str(done.task_id).startswith(WEB_TASK):
            return
        result = done.result
        self.window.statusBar().showMessage(
            f"{result.site}: web memory game, {result.sequences} sequences, {result.images} images; "
            f"open index.html?participant={result.first}",
            15_000,
        )
        self.exported.emit(result)

    def _failed(self, failure: Any) -> None:
        if failure.origin != "task" or not str(failure.ident).startswith(WEB_TASK):
            return
        self.window.statusBar().showMessage(failure.message, 15_000)
        self.exported.emit(failure.message)


def _export_task(export_web: Any, design: Path, site: Path, options: Any, pipeline: Any) -> Any:
    """Engine thread; the models are not needed (``pipeline`` is the engine's calling convention)."""
    return export_web(design, site, options)
