"""File ▸ Save session… and Open session…: the studio's state written to a session file and read back.

Both are the core's engine commands (:class:`~memstudio.core.session.session_file.SaveSession`, which reads
the files the engine opened the generator and directions from, and
:class:`~memstudio.core.session.session_file.OpenSessionInStudio`, which opens and checks them); this room only
asks for the file and hands the opened session to the state, whose signals bring the other docks along.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog

from memstudio.engine.commands import RequestHandle
from memstudio.ui.studio_context import StudioContext

_FILTER = "memstudio sessions (*.json)"


class SessionFeature(QObject):
    """The two File entries; ``saved(path)`` and ``opened(path)`` say when the engine has done the work."""

    saved = Signal(str)
    opened = Signal(str)

    def __init__(self, studio: StudioContext) -> None:
        super().__init__(studio)
        self.studio = studio
        # At the top of File, as a document's Open/Save are: a session is everything the canvas shows.
        actions = studio.file_menu.actions()
        first = actions[0] if actions else None
        self.save_action = QAction("Save session…", studio)
        self.save_action.setToolTip("Write what the canvas shows to a file that memstudio session render can render")
        self.save_action.triggered.connect(self.choose_save)
        self.open_action = QAction("Open session…", studio)
        self.open_action.triggered.connect(self.choose_open)
        studio.file_menu.insertAction(first, self.open_action)
        studio.file_menu.insertAction(first, self.save_action)
        studio.file_menu.insertSeparator(first)
        self.save_action.setEnabled(studio.state.subject is not None)
        studio.state.subject_changed.connect(lambda: self.save_action.setEnabled(studio.state.subject is not None))

    def choose_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.studio, "Save session", "memstudio-session.json", _FILTER)
        if path:
            self.save(path)

    def choose_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.studio, "Open session", "", _FILTER)
        if path:
            self.open(path)

    def save(self, path: str | Path) -> RequestHandle:
        """Save the session shown now, with the live assessors; a refusal reaches the message bar."""
        from memstudio.core.session.session_file import SaveSession, snapshot

        assessors = tuple(a.name for a in self.studio.live_assessors or ())
        handle = self.studio.engine.request(SaveSession(str(path), snapshot(self.studio.state.session, assessors)))
        handle.done.connect(self._saved)
        return handle

    def open(self, path: str | Path) -> RequestHandle:
        """Open ``path`` in the engine (every input checked against its recorded hash), then show it."""
        from memstudio.core.session.session_file import OpenSessionInStudio

        # No key: opening changes the pipeline (generator, directions), so a second open must not drop the
        # first one's answer, which the state needs to follow what the engine now holds.
        handle = self.studio.engine.request(OpenSessionInStudio(str(path)))
        handle.done.connect(lambda opened: self._opened(str(path), opened))
        self.studio.statusBar().showMessage(f"opening session {Path(path).name}…", 10_000)
        return handle

    def _saved(self, path: str) -> None:
        self.studio.statusBar().showMessage(f"session saved to {path}", 10_000)
        self.saved.emit(path)

    def _opened(self, path: str, opened: dict[str, Any]) -> None:
        self.studio.state.open_session(opened)
        self.studio.statusBar().showMessage(f"session {Path(path).name} opened", 10_000)
        self.opened.emit(path)


def install(studio: StudioContext) -> SessionFeature:
    return SessionFeature(studio)
